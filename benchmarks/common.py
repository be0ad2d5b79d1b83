"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Fastest wall time of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def row(name: str, events: int, seconds: float, **extra) -> dict:
    """One result line: throughput of ``events`` in ``seconds`` plus any ratios."""
    return {"name": name, "events": events, "seconds": seconds, "events_per_s": events / seconds, **extra}

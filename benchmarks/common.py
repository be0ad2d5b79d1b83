"""Helpers shared by the benchmark scripts: timing, result rows, model-card sections."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


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


def put_card_section(card: Path, heading: str, body: str) -> None:
    """Replace the model card's ``## heading`` section (up to the next ``## ``) with ``body``, or add it before
    "## Demo recordings" (the end when absent), so a benchmark re-run updates its own figures only."""
    text = card.read_text()
    block = f"## {heading}\n{body.strip()}\n\n"
    start = text.find(f"## {heading}\n")
    if start >= 0:
        end = text.find("\n## ", start + 3)
        text = text[:start] + block + (text[end + 1:] if end >= 0 else "")
    else:
        at = text.find("## Demo recordings")
        text = text[:at] + block + text[at:] if at >= 0 else text.rstrip() + "\n\n" + block
    card.write_text(text)

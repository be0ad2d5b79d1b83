"""Binning and sliding-window throughput: ``events_to_frames`` against spikingjelly's
``integrate_events_by_fixed_frames_number`` (checked equal first), measured in the same run.

spikingjelly gets the fields of the same event array (what a caller holding EVENT_DTYPE
events passes) and, as its best case, separate contiguous arrays (its .npz layout).

Run from the repository root: ``.venv/bin/python -m benchmarks.binning``
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from eventcore.events import make_events
from eventcore.frames import events_to_frames
from eventcore.geometry import Geometry
from eventcore.window import SlidingWindow
from benchmarks.common import best_seconds, row


def _best_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Fastest wall time of each function, calls alternating so that load changes hit all alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _events(n: int, width: int, height: int, span_us: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, span_us, n))
    return make_events(t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n))


def bench_binning(
    sizes: tuple[int, ...] = (1_000_000, 10_000_000),
    T: int = 20,
    side: int = 128,
    repeats: int = 7,
    stream_rate: int = 1_000_000,
    stream_s: float = 10.0,
    window_us: int = 1_000_000,
    hop_us: int = 100_000,
    batch_us: int = 10_000,
) -> list[dict]:
    """Binning rows for each size and split mode, then the sliding window fed ``batch_us``
    batches of a ``stream_rate`` events/s stream, binning every ``hop_us`` window."""
    from spikingjelly.datasets.utils import integrate_events_by_fixed_frames_number as sj_frames

    rows = []
    for n in sizes:
        ev = _events(n, side, side, 1_500_000, seed=n)
        fields = {"t": ev["timestamp"], "x": ev["x"], "y": ev["y"], "p": ev["polarity"]}
        contiguous = {k: np.ascontiguousarray(v) for k, v in fields.items()}
        for split_by in ("number", "time"):
            if not np.array_equal(events_to_frames(ev, T, side, side, split_by), sj_frames(fields, split_by, T, side, side)):
                raise AssertionError(f"frames differ from spikingjelly ({split_by}, {n} events)")
            best = _best_interleaved(
                {
                    "ours": lambda: events_to_frames(ev, T, side, side, split_by),
                    "sj_fields": lambda: sj_frames(fields, split_by, T, side, side),
                    "sj_contig": lambda: sj_frames(contiguous, split_by, T, side, side),
                },
                repeats,
            )
            ours, sj_fields, sj_contig = best["ours"], best["sj_fields"], best["sj_contig"]
            tag = f"T={T} {side}x{side} {split_by}"
            rows.append(row(f"ours events_to_frames {tag}", n, ours, vs_sj_fields=sj_fields / ours, vs_sj_contiguous=sj_contig / ours))
            rows.append(row(f"spikingjelly, EVENT_DTYPE fields {tag}", n, sj_fields))
            rows.append(row(f"spikingjelly, contiguous arrays {tag}", n, sj_contig))

    n = int(stream_rate * stream_s)
    ev = _events(n, side, side, int(stream_s * 1e6), seed=1)
    batches = np.split(ev, np.searchsorted(ev["timestamp"], np.arange(batch_us, int(stream_s * 1e6), batch_us)))

    def run(bin_windows: bool) -> int:
        sw = SlidingWindow(duration_us=window_us, hop_us=hop_us)
        out = np.empty((T, 2, side, side), dtype=np.float32)
        windows = 0
        for b in batches:
            for w in sw.push(b):
                windows += 1
                if bin_windows:
                    events_to_frames(w.events, T, side, side, out=out)
        return windows

    windows = run(False)
    tag = f"{stream_rate / 1e6:g} M ev/s, {window_us // 1000} ms window, {hop_us // 1000} ms hop, {batch_us // 1000} ms batches"
    for bin_windows, name in ((False, "push only"), (True, f"push + bin T={T} every window")):
        s = best_seconds(lambda: run(bin_windows), max(1, repeats // 2))
        rows.append(row(f"SlidingWindow {name} ({tag})", n, s, windows=windows, realtime_factor=stream_s / s))

    davis = _events(1_000_000, 346, 260, 1_000_000, seed=2)
    geo = Geometry(346, 260, side)
    rows.append(row(f"Geometry.apply 346x260 -> {side}", len(davis), best_seconds(lambda: geo.apply(davis), repeats)))
    return rows


def main() -> None:
    rows = bench_binning()
    print(f"{'benchmark':<92} {'events':>10} {'ms':>9} {'M ev/s':>8}  notes")
    for r in rows:
        notes = ", ".join(
            f"{k}={v:.2f}" for k, v in r.items() if k not in ("name", "events", "seconds", "events_per_s")
        )
        print(f"{r['name']:<92} {r['events']:>10} {r['seconds'] * 1e3:>9.2f} {r['events_per_s'] / 1e6:>8.1f}  {notes}")


if __name__ == "__main__":
    main()

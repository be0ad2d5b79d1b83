"""Every figure of the event-source foundation from one run: readers, recorder, noise filter,
binning (each against its baseline, measured in the same run) and the replay pipeline.

Run from the repository root: ``.venv/bin/python -m benchmarks.foundation`` (``make bench``).
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eventcore.events import make_events
from eventcore.frames import events_to_frames
from eventcore.geometry import Geometry
from app.noise import NoiseFilter
from app.sources.aedat4 import Aedat4Source
from app.sources.recorder import Recorder, write_aedat4
from eventcore.window import SlidingWindow
from benchmarks.binning import bench_binning
from benchmarks.common import best_seconds, row
from benchmarks.readers import bench_aedat_readers


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}"


def davis_stream(n: int, seconds: float, seed: int = 0) -> np.ndarray:
    """A DAVIS346-sized stream of ``n`` events over ``seconds``."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, int(seconds * 1e6), n))
    return make_events(t, rng.integers(0, 346, n), rng.integers(0, 260, n), rng.integers(0, 2, n))


def bench_dv_io(tmp: Path, n: int = 2_000_000) -> list[dict]:
    """AEDAT4 read (ours vs raw dv-processing), Recorder write, noise filters (conversions included)."""
    import dv_processing as dv

    from app.sources.dv import to_event_store

    ev = davis_stream(n, 2.0)
    path = tmp / "bench.aedat4"
    rows = [row("write_aedat4 (one array, DAVIS346, LZ4)", n, best_seconds(lambda: write_aedat4(path, ev, 346, 260), 2))]

    def dv_writer() -> None:  # the baseline: dv-processing's writer fed through EventStore
        cfg = dv.io.MonoCameraWriter.EventOnlyConfig("Bench", (346, 260))
        cfg.compression = dv.CompressionType.LZ4
        w = dv.io.MonoCameraWriter(str(tmp / "dv.aedat4"), cfg)
        for i in range(0, n, 100_000):
            w.writeEvents(to_event_store(ev[i:i + 100_000]))
        del w

    t_dv = best_seconds(dv_writer, 1)
    rows.append(row("baseline: dv-processing MonoCameraWriter (LZ4, via EventStore), 100k batches", n, t_dv))
    for compression in ("lz4", "zstd"):
        spent = [0.0]

        def record() -> None:
            (tmp / "rec.aedat4").unlink(missing_ok=True)
            spent[0] = 0.0
            with Recorder(tmp / "rec.aedat4", 346, 260, compression=compression) as rec:
                for i in range(0, n, 10_000):
                    t0 = time.perf_counter()
                    rec.write(ev[i:i + 10_000])
                    spent[0] += time.perf_counter() - t0

        c0 = time.process_time()
        t_rec = best_seconds(record, 2)
        cpu = (time.process_time() - c0) / 2
        rows.append(row(f"Recorder {compression}, 10k batches, sustained until closed", n, t_rec,
                        ratio_vs_dv_writer=t_dv / t_rec,
                        capture_thread_M_ev_s=n / max(spent[0], 1e-9) / 1e6,
                        M_ev_per_cpu_s=n / cpu / 1e6))

    def raw() -> np.ndarray:
        rec = dv.io.MonoCameraRecording(str(path))
        t0, t1 = rec.getTimeRange()
        return rec.getEventsTimeRange(t0, t1 + 1).numpy()

    t_raw = best_seconds(raw, 3)
    t_ours = best_seconds(lambda: Aedat4Source(path).read_all(), 3)
    rows.append(row("dv-processing MonoCameraRecording, read all", n, t_raw))
    rows.append(row("Aedat4Source open + read_all (validated container reader)", n, t_ours, ratio_vs_dv=t_raw / t_ours))
    src = Aedat4Source(path)
    rows.append(row("Aedat4Source.batches(), 10 ms batches", n, best_seconds(lambda: sum(map(len, src.batches())), 3)))
    rows.extend(bench_noise(n))
    return rows


def bench_noise(n: int = 2_000_000) -> list[dict]:
    """Background-activity filter: ours (numba kernel) against dv-processing's (fed via EventStore) on a
    dense stream made of the real DAVIS346 recording repeated (when ../shared is there)."""
    real = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "davis346_aestream.aedat4"
    if real.exists():
        one = Aedat4Source(real).read_all()
        span = int(one["timestamp"][-1] - one["timestamp"][0]) + 1
        reps = max(1, n // len(one))
        ev = np.empty(len(one) * reps, one.dtype)
        for k in range(reps):
            part = ev[k * len(one):(k + 1) * len(one)]
            part[...] = one
            part["timestamp"] += k * span
        what = f"real DAVIS346 recording x{reps} (0.9 M ev/s of camera time)"
    else:
        ev, what = davis_stream(n, 2.0), "uniform random DAVIS346 stream"
    rows = []
    times = {}
    for kind in ("dv_background_activity", "background_activity", "fast_decay"):

        def filt() -> None:  # steady state: the filter is made once per stream, outside the timing
            f = filters.pop()
            for i in range(0, len(ev), 100_000):
                f(ev[i:i + 100_000])

        NoiseFilter(kind, 346, 260)(ev[:1000])  # compiled kernels load outside the timing
        filters = [NoiseFilter(kind, 346, 260) for _ in range(5)]

        c0 = time.process_time()
        times[kind] = best_seconds(filt, 5)
        cpu = (time.process_time() - c0) / 5
        extra = {"M_ev_per_cpu_s": len(ev) / cpu / 1e6}
        if kind == "background_activity":
            extra["ratio_vs_dv"] = times["dv_background_activity"] / times[kind]
        rows.append(row(f"NoiseFilter {kind}, 100k batches, {what}", len(ev), times[kind], **extra))
    return rows


def bench_replay(tmp: Path, n: int = 3_000_000, seconds: float = 10.0, T: int = 16, size: int = 64) -> list[dict]:
    """The replay data path as fast as possible: AEDAT4 file -> 10 ms batches -> geometry ->
    sliding window (1 s, 100 ms hop) -> frames [T, 2, size, size] for every window."""
    path = tmp / "replay.aedat4"
    write_aedat4(path, davis_stream(n, seconds, seed=3), 346, 260)
    out = np.empty((T, 2, size, size), dtype=np.float32)

    def run() -> int:
        src = Aedat4Source(path)
        geo = Geometry(src.width, src.height, size)
        win = SlidingWindow(duration_us=1_000_000, hop_us=100_000)
        windows = 0
        for batch in src.batches():
            for w in win.push(geo.apply(batch)):
                events_to_frames(w.events, T, size, size, out=out)
                windows += 1
        return windows

    windows = run()
    s = best_seconds(run, 2)
    return [row(f"replay pipeline AEDAT4 346x260 -> {size}x{size}, {windows} windows of T={T}", n, s,
                 realtime_factor=seconds / s)]


def main() -> None:
    print(f"machine: {machine()}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "--io" in sys.argv:  # only the AEDAT4 reader, recorder and noise filters
            rows = bench_dv_io(tmp)
        else:
            rows = (bench_aedat_readers(tmp) + bench_dv_io(tmp) + bench_binning(sizes=(1_000_000, 10_000_000))
                    + bench_replay(tmp))
    print(f"{'benchmark':<96} {'events':>10} {'ms':>9} {'M ev/s':>8}  notes")
    for r in rows:
        notes = ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in r.items() if k not in ("name", "events", "seconds", "events_per_s"))
        print(f"{r['name']:<96} {r['events']:>10} {r['seconds'] * 1e3:>9.2f} {r['events_per_s'] / 1e6:>8.1f}  {notes}")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

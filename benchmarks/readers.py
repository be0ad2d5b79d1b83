"""Reader throughput: the format layer's AEDAT4 reader against dv-processing's on the same files
(one written by dv-processing's MonoCameraWriter, one by our writer; checked equal first), our
AEDAT 3.1 reader against spikingjelly's ``load_aedat_v3`` on one generated file (checked equal
first), and our AEDAT 2.0 reader on the real recordings.

Run from the repository root: ``.venv/bin/python -m benchmarks.readers``
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from eventcore.aedat.aedat2 import read_aedat2
from eventcore.aedat.aedat3 import read_aedat3
from tests.writers import synthetic_events, write_aedat3
from benchmarks.common import best_seconds, row

REAL_AEDAT2 = ("davis240_translboxes_aedat2.aedat", "davis240_rotdisk_aedat2.aedat")
SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def bench_aedat4(tmpdir: str | Path, n_events: int = 5_000_000, repeats: int = 5) -> list[dict]:
    """read_recording (eventcore.aedat) against dv-processing's MonoCameraRecording, best of ``repeats`` each."""
    import dv_processing as dv

    from app.sources.dv import to_event_store
    from benchmarks.memory import write_big_aedat4
    from eventcore.aedat.files import read_recording

    ours_file = write_big_aedat4(Path(tmpdir) / "ours.aedat4", n_events)
    events = read_recording(ours_file).events
    cfg = dv.io.MonoCameraWriter.EventOnlyConfig("Bench", (346, 260))
    cfg.compression = dv.CompressionType.LZ4
    writer = dv.io.MonoCameraWriter(str(Path(tmpdir) / "dv.aedat4"), cfg)
    for i in range(0, len(events), 500_000):
        writer.writeEvents(to_event_store(events[i:i + 500_000]))
    del writer

    def dv_read(path: Path) -> np.ndarray:
        rec = dv.io.MonoCameraRecording(str(path))
        t0, t1 = rec.getTimeRange()
        return rec.getEventsTimeRange(t0, t1 + 1).numpy()

    rows = []
    for name, path in (("dv-processing's writer", Path(tmpdir) / "dv.aedat4"), ("our writer", ours_file)):
        if not np.array_equal(dv_read(path).view(np.uint8).reshape(-1, 16)[:, :13],
                              read_recording(path).events.view(np.uint8).reshape(-1, 16)[:, :13]):
            raise AssertionError(f"AEDAT4 readers disagree on the file of {name}")
        t_dv = best_seconds(lambda: dv_read(path), repeats)
        t_ours = best_seconds(lambda: read_recording(path), repeats)
        rows.append(row(f"dv-processing MonoCameraRecording (AEDAT4, {name})", len(events), t_dv))
        rows.append(row(f"read_recording (AEDAT4, {name})", len(events), t_ours, ratio_vs_dv=t_dv / t_ours))
    return rows


def bench_aedat_readers(tmpdir: str | Path, n_events: int = 3_000_000, repeats: int = 5) -> list[dict]:
    """Time the readers; spikingjelly's loader best of two (it takes seconds), ours best of ``repeats``."""
    from spikingjelly.datasets.utils import load_aedat_v3

    path = write_aedat3(
        Path(tmpdir) / "bench_dvs128.aedat",
        synthetic_events(n_events, 128, 128, span_us=12_000_000),
        packet_events=1000,
    )
    ours = read_aedat3(path).events
    t0 = time.perf_counter()
    theirs = load_aedat_v3(path)
    sj_seconds = time.perf_counter() - t0
    for key, name in zip("txyp", ("timestamp", "x", "y", "polarity")):
        if not np.array_equal(theirs[key], ours[name]):
            raise AssertionError(f"readers disagree on {name}")
    sj_seconds = min(sj_seconds, best_seconds(lambda: load_aedat_v3(path), 1))  # best of two: a loaded machine
    seconds = best_seconds(lambda: read_aedat3(path), repeats)
    rows = [
        row("spikingjelly load_aedat_v3 (AEDAT 3.1)", len(ours), sj_seconds),
        row("read_aedat3 (AEDAT 3.1)", len(ours), seconds, ratio_vs_spikingjelly=sj_seconds / seconds),
    ]
    for name in REAL_AEDAT2:
        real = SHARED_REAL / name
        if real.is_file():
            n = len(read_aedat2(real).events)
            rows.append(row(f"read_aedat2 {name}", n, best_seconds(lambda: read_aedat2(real), repeats)))
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = bench_aedat4(tmp) + bench_aedat_readers(tmp)
    print(f"{'reader':<55} {'events':>10} {'seconds':>9} {'M ev/s':>8} {'x baseline':>11}")
    for r in rows:
        ratio = (f"{r['ratio_vs_spikingjelly']:.0f}" if "ratio_vs_spikingjelly" in r
                 else f"{r['ratio_vs_dv']:.2f}" if "ratio_vs_dv" in r else "")
        rate = r["events_per_s"] / 1e6
        print(f"{r['name']:<55} {r['events']:>10,} {r['seconds']:>9.4f} {rate:>8.1f} {ratio:>11}")


if __name__ == "__main__":
    main()

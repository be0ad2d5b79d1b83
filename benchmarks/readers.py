"""AEDAT reader throughput: ours against spikingjelly's ``load_aedat_v3`` on one generated
AEDAT 3.1 file (checked equal first), and our AEDAT 2.0 reader on the real recordings.

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


def bench_aedat_readers(tmpdir: str | Path, n_events: int = 3_000_000, repeats: int = 5) -> list[dict]:
    """Time the readers; spikingjelly's loader runs once (it takes seconds), ours best of ``repeats``."""
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
        rows = bench_aedat_readers(tmp)
    print(f"{'reader':<55} {'events':>10} {'seconds':>9} {'M ev/s':>8} {'x spikingjelly':>15}")
    for r in rows:
        ratio = f"{r['ratio_vs_spikingjelly']:.0f}" if "ratio_vs_spikingjelly" in r else ""
        rate = r["events_per_s"] / 1e6
        print(f"{r['name']:<55} {r['events']:>10,} {r['seconds']:>9.4f} {rate:>8.1f} {ratio:>15}")


if __name__ == "__main__":
    main()

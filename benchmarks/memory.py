"""Peak memory of ``main.py inspect`` and ``main.py classify --whole`` against the length of a recording.

Writes recordings of 10 M, 30 M and 50 M events, runs each command in a child process and
reads the child's peak resident memory (``wait4``'s ``ru_maxrss``): DAVIS346-sized AEDAT4
(numpy + the format layer's writer, LZ4 as DV writes) or, with ``--format evt3``, 1280x720
Prophesee EVT 3.0 ``.raw`` (written here a packet at a time: TIME_HIGH, TIME_LOW, ADDR_Y and
ADDR_X words for every event, so 8 bytes an event, the 24-bit time wrapping every 16.8 s).
The targets (issue 26): at most 200 MB for ``inspect`` and 1 GB for ``classify --whole`` at
30 M events, and each growing by at most 50 MB from 10 M to 50 M events.

Run from the repository root: ``.venv/bin/python -m benchmarks.memory [--sizes 10 30 50]
[--format aedat4|evt3]`` (needs about 1.5 GB of free disk in the temporary folder).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eventcore.aedat.aedat4 import compress_packet, file_header
from eventcore.events import make_events

ROOT = Path(__file__).resolve().parents[1]
W, H = 346, 260
PACKET = 1 << 15  # events a packet


def write_big_aedat4(path: Path, n_events: int, seed: int = 0, rate_hz: float = 2e6) -> Path:
    """A DAVIS346 AEDAT4 file of ``n_events`` random events at ``rate_hz`` (written packet by packet)."""
    rng = np.random.default_rng(seed)
    t_next = 0
    with open(path, "wb") as f:
        f.write(file_header("DAVIS346_bench", W, H, "lz4"))
        for start in range(0, n_events, PACKET):
            n = min(PACKET, n_events - start)
            t = t_next + np.cumsum(rng.exponential(1e6 / rate_hz, n)).astype(np.int64)
            t_next = int(t[-1])
            ev = make_events(t, rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n))
            f.write(compress_packet(0, ev, "lz4"))
    return path


EVT3_W, EVT3_H = 1280, 720


def write_big_evt3(path: Path, n_events: int, seed: int = 0, rate_hz: float = 2e6) -> Path:
    """A 1280x720 EVT 3.0 file of ``n_events`` random events at ``rate_hz`` (written packet by packet)."""
    rng = np.random.default_rng(seed)
    t_next = 0
    with open(path, "wb") as f:
        f.write(f"% evt 3.0\n% format EVT3;width={EVT3_W};height={EVT3_H}\n"
                f"% geometry {EVT3_W}x{EVT3_H}\n% end\n".encode())
        for start in range(0, n_events, PACKET):
            n = min(PACKET, n_events - start)
            t = t_next + np.cumsum(rng.exponential(1e6 / rate_hz, n)).astype(np.int64)
            t_next = int(t[-1])
            words = np.empty((n, 4), "<u2")
            words[:, 0] = 0x8000 | ((t >> 12) & 0xFFF)
            words[:, 1] = 0x6000 | (t & 0xFFF)
            words[:, 2] = rng.integers(0, EVT3_H, n)
            words[:, 3] = 0x2000 | (rng.integers(0, 2, n) << 11) | rng.integers(0, EVT3_W, n)
            f.write(words.tobytes())
    return path


def peak_mb(argv: list[str]) -> tuple[float, float, int]:
    """(peak resident MB, seconds, exit status) of ``python main.py *argv`` run as a child."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "main.py", *argv], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(f"  main.py {' '.join(argv)} failed ({code}): {err.strip()}", file=sys.stderr)
    return usage.ru_maxrss / 1024, seconds, code


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 50], help="file lengths, millions of events")
    p.add_argument("--tmp", type=Path, default=None, help="folder for the generated files (default: a temporary one)")
    p.add_argument("--format", choices=("aedat4", "evt3"), default="aedat4", help="the recordings' format")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        rows = []
        for m in args.sizes:
            if args.format == "evt3":
                path = write_big_evt3(Path(tmp) / f"prophesee_{m}M.raw", m * 1_000_000)
            else:
                path = write_big_aedat4(Path(tmp) / f"davis346_{m}M.aedat4", m * 1_000_000)
            mb = path.stat().st_size / 1e6
            ins = peak_mb(["inspect", str(path)])
            cls = peak_mb(["classify", str(path), "--whole", "--device", "cpu"])
            rows.append((m, mb, ins, cls))
            print(f"{m:>4} M events ({mb:,.0f} MB file): inspect {ins[0]:,.0f} MB peak ({ins[1]:.1f} s), "
                  f"classify --whole {cls[0]:,.0f} MB peak ({cls[1]:.1f} s)", flush=True)
            path.unlink()
    if len(rows) > 1:
        (m0, _, i0, c0), (m1, _, i1, c1) = rows[0], rows[-1]
        print(f"growth from {m0} M to {m1} M events: inspect {i1[0] - i0[0]:+,.0f} MB, "
              f"classify --whole {c1[0] - c0[0]:+,.0f} MB")


if __name__ == "__main__":
    main()

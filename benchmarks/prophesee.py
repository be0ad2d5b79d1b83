"""Prophesee readers: events/s and exactness of faery and evt3 on the same files, in one run.

    python -m benchmarks.prophesee [--events 5000000]

Writes EVT 2.0, EVT 3.0 and DAT files of random 1280x720 events with faery, then reads each
with every library that decodes it (best of 3) and through the app's readers (the format
layer's numpy codecs: whole, and a block at a time as playback, inspect and classify --whole
read); every decoder's output is checked equal to the events written first.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import best_seconds


def random_events(n: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    import faery

    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=faery.EVENTS_DTYPE)
    ev["t"] = np.cumsum(rng.integers(0, 3, n)) + 1_000
    ev["x"] = rng.integers(0, width, n)
    ev["y"] = rng.integers(0, height, n)
    ev["on"] = rng.random(n) < 0.5
    return ev


def main() -> None:
    import evt3
    import faery

    from eventcore.aedat.prophesee import PropheseeReader, read_prophesee

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=5_000_000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    ev = random_events(args.events, 1280, 720)
    print(f"{args.events:,} random events, 1280x720; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'format':<8}{'reader':<28}{'M events/s':>11}  exact")
    with tempfile.TemporaryDirectory() as tmp:
        for version, suffix in (("evt2", ".raw"), ("evt3", ".raw"), ("dat2", ".dat")):
            path = Path(tmp) / f"rec_{version}{suffix}"
            faery.events_stream_from_array(ev, (1280, 720)).to_file(path, version=version, zero_t0=False)
            readers = {"faery": lambda: np.concatenate(list(faery.events_stream_from_file(path)))}
            if version == "evt3":
                readers["evt3"] = lambda: evt3.decode_file(str(path))
            readers["app (read_prophesee)"] = lambda: read_prophesee(path).events
            readers["app in blocks (open + chunks)"] = lambda: np.concatenate(list(PropheseeReader(path).chunks()))
            for name, fn in readers.items():
                out = fn()
                if name == "evt3":
                    exact = bool((out.timestamp == ev["t"]).all() and (out.x == ev["x"]).all()
                                 and (out.y == ev["y"]).all() and (out.polarity == ev["on"]).all())
                else:
                    t = out["timestamp"] if "timestamp" in out.dtype.names else out["t"]
                    pol = out["polarity"] if "polarity" in out.dtype.names else out["on"]
                    exact = bool((t == ev["t"]).all() and (out["x"] == ev["x"]).all()
                                 and (out["y"] == ev["y"]).all() and (pol == ev["on"]).all())
                s = best_seconds(fn, args.repeats)
                print(f"{version:<8}{name:<28}{args.events / s / 1e6:>11.1f}  {exact}", flush=True)


if __name__ == "__main__":
    main()

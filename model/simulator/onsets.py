"""Training clips of gestures as they begin in a live session, so a model learns to name one early.

A live window that ends soon after a gesture starts holds the idle scene before it (a
still subject, one walking back in, the previous gesture's tail) and the arms' first
moves out of the idle pose. The simulator's dataset samples never show that, so a model
trained on them calls a gesture's first half second ``other_gestures``. This module cuts
such clips out of simulated sessions (``model.simulator.sequence``, the decision-latency
benchmark's generator, with seeds of their own):

- an **onset clip** per gesture: the ``PRE_S`` before its start and up to ``POST_S`` of it,
  saved with ``onset_us`` so that training windows end between ``ONSET_MIN_US`` after the
  start and the clip's end (``model.datasets.samples``);
- an **idle clip** per gap of at least ``PRE_S``: its last ``PRE_S`` before the next gesture
  (label -1, "no gesture"), so that the scenes around onsets are also seen without one.

    python -m model.simulator.onsets OUT --sessions 240 [--workers 2]

writes ``OUT/train/onset_*.npz`` and ``OUT/train/idle_s*.npz`` shards. Seeds are
``SEED0 + i``: 31,000,000 and up, apart from every test and benchmark seed.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SEED0 = 31_000_000
PRE_S = 1.2  # idle scene kept before a gesture's start (a whole live window, with room for tempo changes)
POST_S = 1.1  # gesture kept after its start: training windows end up to here
PER_SESSION = 3


def clips(seed: int, classes: list[int]) -> list[tuple[np.ndarray, int, int | None]]:
    """``(events, label, onset_us)`` of a session's onset clips (onset in the events' time) and idle clips (None)."""
    from model.simulator.sequence import generate_session

    events, tl, _ = generate_session(classes, seed=seed)
    t = events["timestamp"]
    pre, post = round(PRE_S * 1e6), round(POST_S * 1e6)
    out: list[tuple[np.ndarray, int, int | None]] = []
    prev_end = 0
    for s0, s1, label in zip(tl.start_us.tolist(), tl.end_us.tolist(), tl.label.tolist()):
        a, b, c = np.searchsorted(t, [s0 - pre, s0, min(s0 + post, s1)])
        out.append((events[a:c], int(label), int(s0)))
        if s0 - prev_end >= pre:
            out.append((events[a:b], -1, None))
        prev_end = s1
    return out


def _write(job: tuple[Path, int, list[int]]) -> int:
    from model.datasets.shards import save_sample
    from model.simulator.render import SIZE

    folder, seed, classes = job
    made = clips(seed, classes)
    for k, (ev, label, onset) in enumerate(made):
        name = f"onset_{seed}_{k}.npz" if onset is not None else f"idle_s{seed}_{k}.npz"
        save_sample(folder / name, ev, label, SIZE, SIZE, onset_us=onset)
    return len(made)


def write_clips(out: str | Path, sessions: int, seed0: int = SEED0, workers: int = 1) -> int:
    """Write the clips of ``sessions`` sessions (every class equally often) to ``out/train``; returns how many."""
    from model.simulator.sequence import plan_sessions

    folder = Path(out) / "train"
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(folder, seed, classes) for seed, classes in plan_sessions(sessions * PER_SESSION, PER_SESSION, seed0)]
    if workers <= 1:
        return sum(map(_write, jobs))
    with ProcessPoolExecutor(workers) as pool:
        return sum(pool.map(_write, jobs))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m model.simulator.onsets", description=__doc__.split("\n")[0])
    ap.add_argument("out", help="dataset folder (clips go to OUT/train)")
    ap.add_argument("--sessions", type=int, default=240, help="simulated sessions, %(default)s (3 gestures each)")
    ap.add_argument("--seed0", type=int, default=SEED0, help="first session's seed, %(default)s")
    ap.add_argument("--workers", type=int, default=1, help="processes, %(default)s")
    args = ap.parse_args(argv)
    if args.sessions < 1:
        ap.error(f"--sessions must be at least 1, not {args.sessions}")
    n = write_clips(args.out, args.sessions, args.seed0, args.workers)
    print(f"{n} clips from {args.sessions} sessions in {Path(args.out) / 'train'}")


if __name__ == "__main__":
    main()

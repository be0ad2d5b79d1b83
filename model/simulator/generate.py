"""Synthetic DVS128 Gesture recordings: single samples, labelled sequences, dataset shards, demos.

    events, meta = generate_sample(3, duration_s=1.5, seed=0)    # right_arm_clockwise
    events, timeline = generate_sequence([0, 1, 7], seed=1)      # with idle pauses between

Run ``python -m model.simulator.generate --demo recordings/`` for AEDAT4 demo recordings
with their ``<name>_labels.csv`` ground truth beside them.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from app.events import EVENT_DTYPE
from app.sources.labels import CLASS_NAMES, LabelTimeline
from model.simulator.body import IDLE, Body, Pose, gesture_pose
from model.simulator.dvs import PixelParams, log_video_to_events
from model.simulator.render import SIZE, Look, render

STEP_S = 0.002  # render step; the pixel model interpolates crossing times within it
FADE_S = 0.4  # pose blend between successive segments of a sequence


def _check_class(c: int | None) -> int:
    idx = IDLE if c is None else int(c)
    if not -1 <= idx < len(CLASS_NAMES):
        raise ValueError(f"class index must be None/-1 (idle) or 0..{len(CLASS_NAMES) - 1}, got {c}")
    return idx


def _simulate(pose: Pose, body: Body, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    look = Look.random(rng)
    px = PixelParams.random(rng, (SIZE, SIZE))
    return log_video_to_events(render(pose, body, look, t, rng), px, rng)


def generate_sample(class_index: int | None, duration_s: float, seed: int,
                    step_s: float = STEP_S) -> tuple[np.ndarray, dict]:
    """One recording of ``class_index`` (None = idle) lasting ``duration_s``: (events, meta)."""
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    cls = _check_class(class_index)
    rng = np.random.default_rng(seed)
    body = Body.random(rng)
    t = np.arange(0.0, duration_s + 1e-9, step_s)
    pose = gesture_pose(cls, t, body, rng)
    events = _simulate(pose, body, t, rng)
    name = "idle" if cls == IDLE else CLASS_NAMES[cls]
    return events, {"class_index": cls, "class_name": name, "duration_s": duration_s, "seed": seed,
                    "width": SIZE, "height": SIZE}


def _blend(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    return a * (1 - w[:, None]) + b * w[:, None]


def generate_sequence(classes, seed: int, gesture_s: tuple[float, float] = (4.0, 7.0),
                      pause_s: tuple[float, float] = (1.5, 3.0),
                      step_s: float = STEP_S) -> tuple[np.ndarray, LabelTimeline]:
    """One subject performing ``classes`` in turn with idle pauses between: (events, LabelTimeline).

    Segments' poses are blended over ``FADE_S`` so the arms move, not jump, between them;
    a gesture's label covers its segment (without the blends).
    """
    cls_list = [_check_class(c) for c in classes]
    rng = np.random.default_rng(seed)
    body = Body.random(rng)
    segs: list[tuple[int, float]] = [(IDLE, rng.uniform(*pause_s))]
    for c in cls_list:
        segs += [(c, rng.uniform(*gesture_s)), (IDLE, rng.uniform(*pause_s))]
    bounds = np.concatenate([[0.0], np.cumsum([d for _, d in segs])])
    t = np.arange(0.0, bounds[-1], step_s)
    joints = None
    for (c, _), s0, s1 in zip(segs, bounds[:-1], bounds[1:]):
        lo, hi = max(s0 - FADE_S, 0.0), min(s1 + FADE_S, bounds[-1])
        sel = (t >= lo) & (t < hi)
        p = gesture_pose(c, t[sel] - s0, body, rng)
        flat = _flatten(p)
        if joints is None:
            joints = np.zeros((len(t),) + flat.shape[1:])
            weight = np.zeros(len(t))
        tt = t[sel]
        w = np.clip(np.minimum(tt - lo, hi - tt) / FADE_S, 0, 1)
        w = np.where(tt < FADE_S, 1.0, w) if s0 == 0 else w
        w = np.where(tt > bounds[-1] - FADE_S, 1.0, w) if s1 == bounds[-1] else w
        joints[sel] += flat * w[:, None, None]
        weight[sel] += w
    pose = _unflatten(joints / np.maximum(weight, 1e-9)[:, None, None])
    events = _simulate(pose, body, t, rng)
    gest = [(c, s0, s1) for (c, _), s0, s1 in zip(segs, bounds[:-1], bounds[1:]) if c != IDLE]
    timeline = LabelTimeline(
        start_us=np.array([round(s0 * 1e6) for _, s0, _ in gest], dtype=np.int64),
        end_us=np.array([round(s1 * 1e6) for _, _, s1 in gest], dtype=np.int64),
        label=np.array([c for c, _, _ in gest], dtype=np.int64),
    )
    return events, timeline


def _flatten(p: Pose) -> np.ndarray:
    return np.stack([p.neck, p.head, p.hip, *p.right, *p.left], axis=1)


def _unflatten(j: np.ndarray) -> Pose:
    return Pose(neck=j[:, 0], head=j[:, 1], hip=j[:, 2], right=tuple(j[:, 3 + i] for i in range(4)),
                left=tuple(j[:, 7 + i] for i in range(4)))


def _one(args: tuple[int, float, int]) -> tuple[np.ndarray, int]:
    cls, duration_s, seed = args
    return generate_sample(None if cls == IDLE else cls, duration_s, seed)[0], cls


def generate_dataset(n_per_class: int, seed: int, duration_s: float = 1.5, include_idle: bool = True,
                     workers: int = 1) -> list[tuple[np.ndarray, int]]:
    """``n_per_class`` samples of every class (and idle, label -1): [(events, label)].

    Sample ``i`` of class ``c`` uses its own seed derived from ``(seed, c, i)``, so shards
    made in parallel (``workers`` processes) or separately are identical and never overlap.
    """
    classes = list(range(len(CLASS_NAMES))) + ([IDLE] if include_idle else [])
    jobs = [(c, duration_s, int(np.random.SeedSequence([seed, c + 1, i]).generate_state(1)[0]))
            for c in classes for i in range(n_per_class)]
    if workers <= 1:
        return [_one(j) for j in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_one, jobs, chunksize=4))


def write_shard(path: str | Path, samples: list[tuple[np.ndarray, int]]) -> None:
    """Save samples as one .npz: concatenated ``events``, ``offsets`` [n+1] and ``labels`` [n]."""
    lengths = [len(e) for e, _ in samples]
    events = np.concatenate([e for e, _ in samples]) if samples else np.empty(0, EVENT_DTYPE)
    np.savez(path, events=events, offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
             labels=np.array([lbl for _, lbl in samples], dtype=np.int64))


def write_demos(folder: str | Path, seed: int = 0, n: int = 3) -> list[Path]:
    """Write ``n`` AEDAT4 demo recordings (a few gestures with idle pauses) and their label files."""
    from app.sources.recorder import write_aedat4

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        classes = rng.choice(len(CLASS_NAMES), size=4, replace=False).tolist()
        events, timeline = generate_sequence(classes, seed=seed * 1000 + i)
        path = folder / f"synthetic_demo_{i + 1}.aedat4"
        write_aedat4(path, events, SIZE, SIZE, camera="DVS128_synthetic")
        timeline.to_csv(path.with_name(path.stem + "_labels.csv"))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", metavar="FOLDER", help="write AEDAT4 demo recordings with label files here")
    ap.add_argument("--shard", metavar="FILE.npz", help="write a training shard (.npz) here")
    ap.add_argument("--n-per-class", type=int, default=10)
    ap.add_argument("--duration", type=float, default=1.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    if not (args.demo or args.shard):
        ap.error("give --demo FOLDER and/or --shard FILE.npz")
    if args.demo:
        for p in write_demos(args.demo, args.seed):
            print(p)
    if args.shard:
        write_shard(args.shard, generate_dataset(args.n_per_class, args.seed, args.duration, workers=args.workers))
        print(args.shard)


if __name__ == "__main__":
    main()

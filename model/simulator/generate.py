"""Synthetic DVS128 Gesture recordings: single samples, labelled sequences, training sets.

    events, meta = generate_sample(3, duration_s=1.5, seed=0)    # right_arm_clockwise
    events, timeline = generate_sequence([0, 1, 7], seed=1)      # with idle pauses between

The app's AEDAT4 demo recordings are written by ``python -m tools.make_demos recordings/``.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

from eventcore.labels import CLASS_NAMES, LabelTimeline
from model.simulator.body import IDLE, Body, Pose, gesture_pose
from model.simulator.dvs import PixelParams, log_video_to_events
from model.simulator.params import CALIBRATED, SimParams
from model.simulator.render import SIZE, Look, render
from model.simulator.scenes import NEGATIVE_KINDS, NEGATIVE_WEIGHTS, negative_scene
from model.simulator.setup import SensorFaults, Setup

OTHER = CLASS_NAMES.index("other_gestures")

STEP_S = 0.002  # render step; the pixel model interpolates crossing times within it
FADE_S = 0.4  # pose blend between successive segments of a sequence


def _check_class(c: int | None) -> int:
    idx = IDLE if c is None else int(c)
    if not -1 <= idx < len(CLASS_NAMES):
        raise ValueError(f"class index must be None/-1 (idle) or 0..{len(CLASS_NAMES) - 1}, got {c}")
    return idx


def _simulate(pose: Pose | None, body: Body | None, t: np.ndarray, rng: np.random.Generator,
              p: SimParams = CALIBRATED, look: Look | None = None, extras=None, setup: Setup | None = None) -> np.ndarray:
    look = Look.random(rng, p) if look is None else look
    px = PixelParams.random(rng, (SIZE, SIZE), p)
    return log_video_to_events(render(pose, body, look, t, rng, extras=extras, setup=setup), px, rng)


def _setup_rng(seed: int) -> np.random.Generator:
    """The set-up's and faults' own random stream, so an unchanged set-up gives the same events as before."""
    return np.random.default_rng([seed, 0x5E7])


def generate_sample(class_index: int | None, duration_s: float, seed: int,
                    step_s: float = STEP_S, params: SimParams | None = None,
                    negative: str | None = None, setup: Setup | str | None = None,
                    faults: SensorFaults | str | None = None) -> tuple[np.ndarray, dict]:
    """One recording of ``class_index`` (None = no gesture) lasting ``duration_s``: (events, meta).

    A no-gesture recording is an idle subject unless ``negative`` names another kind of
    scene (``scenes.NEGATIVE_KINDS``) or is "random" (one drawn with ``NEGATIVE_WEIGHTS``).
    ``params`` (default: the calibrated ``params.CALIBRATED``) sets the simulator's ranges;
    ``setup`` places the subject and sets the tempo, ``faults`` the sensor's (each "random" =
    drawn from ``setup.RANGES``; None = the DVS128 Gesture framing and a clean sensor).
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    cls = _check_class(class_index)
    p = CALIBRATED if params is None else params
    rng = np.random.default_rng(seed)
    srng = _setup_rng(seed)
    setup = Setup.random(srng) if setup == "random" else setup or Setup()
    faults = SensorFaults.random(srng) if faults == "random" else faults
    t = np.arange(0.0, duration_s + 1e-9, step_s)
    t_motion = t * setup.tempo  # the subject's own clock
    kind = None
    if cls == IDLE:
        kind = negative or "idle"
        if kind == "random":
            kind = str(rng.choice(NEGATIVE_KINDS, p=NEGATIVE_WEIGHTS))
        look = Look.random(rng, p)
        pose, body, extras, look = negative_scene(kind, t_motion, rng, p, look)
        events = _simulate(pose, body, t, rng, p, look, extras, setup)
    else:
        body = Body.random(rng, p)
        pose = gesture_pose(cls, t_motion, body, rng, p)
        events = _simulate(pose, body, t, rng, p, setup=setup)
    if faults is not None:
        events = faults.apply(events, SIZE, srng)
    name = "idle" if cls == IDLE else CLASS_NAMES[cls]
    meta = {"class_index": cls, "class_name": name, "duration_s": duration_s, "seed": seed,
            "width": SIZE, "height": SIZE}
    if kind is not None:
        meta["scene"] = kind
    if not setup.identity:
        meta["setup"] = asdict(setup)
    if faults is not None:
        meta["faults"] = asdict(faults)
    return events, meta


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


def _jobs(n_per_class: int, seed: int, duration_s: float, include_idle: bool,
          neg_factor: int = 1, other_factor: int = 1) -> list[tuple[int, float, int, int]]:
    """(class, duration, sample seed, index) for every sample; seeds derive from (seed, class, i).

    No-gesture scenes (label -1) number ``neg_factor`` x ``n_per_class``, and ``other_gestures``
    ``other_factor`` x ``n_per_class`` (it is five kinds of motion, not one)."""
    classes = list(range(len(CLASS_NAMES))) + ([IDLE] if include_idle else [])
    factor = {IDLE: neg_factor, OTHER: other_factor}
    return [(c, duration_s, int(np.random.SeedSequence([seed, c + 1, i]).generate_state(1)[0]), i)
            for c in classes for i in range(n_per_class * factor.get(c, 1))]


def _one(job: tuple[int, float, int, int], vary: bool = False) -> tuple[np.ndarray, int]:
    cls, duration_s, seed, _ = job
    how = "random" if vary else None
    return generate_sample(None if cls == IDLE else cls, duration_s, seed, negative="random", setup=how,
                           faults=how)[0], cls


def generate_dataset(n_per_class: int, seed: int, duration_s: float = 1.5, include_idle: bool = True,
                     workers: int = 1) -> list[tuple[np.ndarray, int]]:
    """``n_per_class`` samples of every class (and idle, label -1): [(events, label)].

    Sample ``i`` of class ``c`` uses its own seed derived from ``(seed, c, i)``, so datasets
    made in parallel (``workers`` processes) or separately are identical and never overlap.
    """
    jobs = _jobs(n_per_class, seed, duration_s, include_idle)
    if workers <= 1:
        return [_one(j) for j in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_one, jobs, chunksize=4))


def _write_one(args: tuple[Path, tuple[int, float, int, int], bool]) -> None:
    from model.datasets.shards import save_sample

    folder, job, vary = args
    events, cls = _one(job, vary)
    save_sample(folder / f"{'idle' if cls == IDLE else f'c{cls:02d}'}_{job[3]:05d}.npz", events, cls, SIZE, SIZE)


def write_dataset(folder: str | Path, n_train: int, n_test: int, seed: int = 0, duration_s: float = 2.0,
                  workers: int = 1, neg_factor: int = 1, other_factor: int = 1,
                  test_neg_factor: int | None = None, vary: bool = False) -> None:
    """Write ``FOLDER/train`` and ``FOLDER/test`` (one ``.npz`` per sample, model.datasets.shards).

    The test split uses another seed, so no sample of it appears in train; ``test_neg_factor``
    (default ``neg_factor``) sets its no-gesture count. Samples already on disk are kept, so an
    interrupted run resumes where it stopped. ``vary`` draws each training sample's set-up and
    sensor faults from ``setup.RANGES`` (the test split keeps the DVS128 Gesture framing).
    """
    folder = Path(folder)
    test_neg = neg_factor if test_neg_factor is None else test_neg_factor
    todo = []
    for split, n, s, neg in (("train", n_train, seed, neg_factor), ("test", n_test, seed + 1_000_003, test_neg)):
        (folder / split).mkdir(parents=True, exist_ok=True)
        for job in _jobs(n, s, duration_s, include_idle=True, neg_factor=neg, other_factor=other_factor):
            name = f"{'idle' if job[0] == IDLE else f'c{job[0]:02d}'}_{job[3]:05d}.npz"
            if not (folder / split / name).exists():
                todo.append((folder / split, job, vary and split == "train"))
    if workers <= 1:
        for t in todo:
            _write_one(t)
        return
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_write_one, todo, chunksize=2))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", metavar="FOLDER", help="write a training set: FOLDER/train and FOLDER/test")
    ap.add_argument("--n-per-class", type=int, default=10, help="training samples per class (and idle)")
    ap.add_argument("--n-test-per-class", type=int, default=4, help="test samples per class (and idle)")
    ap.add_argument("--duration", type=float, default=2.0, help="seconds per training sample")
    ap.add_argument("--neg-factor", type=int, default=1,
                    help="no-gesture scenes (idle, walkers, objects, pans, flicker...) per gesture class's count")
    ap.add_argument("--test-neg-factor", type=int, default=None,
                    help="no-gesture scenes in the test split per gesture class's count (default: --neg-factor)")
    ap.add_argument("--other-factor", type=int, default=1,
                    help="other_gestures samples (five kinds of motion) per gesture class's count")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vary", action="store_true",
                    help="each training sample at a random user set-up (placement, size, roll, tempo, sensor faults)")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    if not args.dataset:
        ap.error("give --dataset FOLDER")
    if args.dataset:
        write_dataset(args.dataset, args.n_per_class, args.n_test_per_class, args.seed, args.duration, args.workers,
                      args.neg_factor, args.other_factor, args.test_neg_factor, args.vary)
        print(args.dataset)


if __name__ == "__main__":
    main()

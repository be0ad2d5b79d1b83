"""Realism as a number: simulated recordings from fixed seed splits, judged per class by
networks trained only on real DVS128 Gesture recordings (``teacher``: the NeuroBench CSNN that
calibration tunes on; ``speck``: the SynSense Speck network, never tuned on), and by pixels
against the real preview image (``likeness``).

``val`` seeds are the ones ``model.simulator.calibrate`` tunes on; ``test`` seeds are never
used for tuning.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np

from eventcore.labels import CLASS_NAMES
from model.simulator.generate import generate_sample

# robust: benchmarks.robustness; robust_val: the same changes, for picking the app's settings against them
SPLIT_SEEDS = {"val": 7_000_001, "test": 9_000_011, "robust": 11_000_027, "robust_val": 13_000_037}
N_GESTURES = 11


def split_seed(split: str, cls: int, i: int) -> int:
    """The seed of recording ``i`` of class ``cls`` in a split (independent streams per split and class)."""
    return int(np.random.SeedSequence([SPLIT_SEEDS[split], cls + 1, i]).generate_state(1)[0])


def _gen(job):
    cls, seed, duration, params = job
    return generate_sample(cls, duration, seed, params=params)[0]


def simulate_split(split: str, n: int, duration: float = 2.0, params=None, workers: int = 1):
    """(samples, labels): ``n`` recordings of each of the 11 gesture classes from ``split`` seeds."""
    jobs = [(c, split_seed(split, c, i), duration, params) for c in range(N_GESTURES) for i in range(n)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            samples = list(pool.map(_gen, jobs, chunksize=2))
    else:
        samples = [_gen(j) for j in jobs]
    return samples, np.array([j[0] for j in jobs])


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (95 % at z = 1.96) of a proportion ``k / n``: how far a per-class
    accuracy from a few recordings can be trusted (16 recordings of 50 % span 28-72 %)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, mid - half)), float(min(1.0, mid + half))


def per_class(pred: np.ndarray, labels: np.ndarray) -> dict:
    """Overall and per-class accuracy of predictions against labels, with 95 % Wilson intervals."""
    hits = {c: (int(np.sum(pred[labels == c] == c)), int(np.sum(labels == c)))
            for c in range(N_GESTURES) if np.any(labels == c)}
    k, n = int(np.sum(pred == labels)), int(len(labels))
    return {"overall": k / n, "per_class": {CLASS_NAMES[c]: a / b for c, (a, b) in hits.items()}, "n": n,
            "interval": wilson(k, n), "per_class_interval": {CLASS_NAMES[c]: wilson(a, b) for c, (a, b) in hits.items()}}


def judge_all(samples, labels, judges=("teacher", "speck"), preview=None) -> dict:
    """Per-class accuracy of each judge on the samples; with ``preview`` (the real preview
    image's path) also the pixel likeness (0-1) of classes 0-9 (``model.simulator.likeness``)."""
    out = {}
    if preview is not None:
        from model.simulator.likeness import likeness, read_preview
        like = likeness(read_preview(preview), samples, labels)
        out["likeness"] = {"overall": like["overall"], "n": int(np.sum(labels < 10)),
                           "per_class": {CLASS_NAMES[c]: v["score"] for c, v in like["per_class"].items()}}
    if "teacher" in judges:
        from model.simulator.teacher import Teacher, predict
        out["teacher"] = per_class(predict(Teacher.load(), samples)[0], labels)
    if "speck" in judges:
        from model.simulator.speck import Speck, predict as speck_predict
        out["speck"] = per_class(speck_predict(Speck.load(), samples)[0], labels)
    return out

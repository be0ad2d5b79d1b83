"""Calibrate the simulator's physical parameters against the NeuroBench teacher network
(trained only on real DVS128 Gesture recordings): search ``SimParams`` within ``BOUNDS`` to
maximise the teacher's accuracy on a FIXED validation set of seeds.

    python -m model.simulator.calibrate --trials 40 --n 3 --out model/simulator/calibrated.json

The optimiser is optuna's multivariate TPE (seeded; the current parameters are the first
trial). Each trial simulates ``--n`` recordings of each of the 11 classes from the
validation seeds (``model.simulator.realism.SPLIT_SEEDS['val']``: common random numbers, so trials
differ only by their parameters) and scores them with the teacher:

    teacher = 0.5 * accuracy + 0.5 * mean share of output spikes on the true class
    score = 0.5 * teacher + 0.5 * likeness to the real preview (model.simulator.likeness)

(the share is a smoother signal than accuracy at few samples; the pixel likeness keeps the
search from pleasing the network with something a real camera would not record). Every parameter stays inside
its physical bounds, so the search cannot win with something unreal. The second judge (the
Speck network) is never used here: it is the held-out check (``benchmarks.realism``), as is
the test split of seeds.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from model.simulator.likeness import PREVIEW_PATH
from model.simulator.params import BOUNDS, CALIBRATED, SimParams

# The parameters searched by default: those that set what the judges see most (size,
# placement, speed, amplitude, event rate, noise, contrasts, sway, edge softness).
SEARCHED = ("body_scale", "shoulder_y_px", "speed", "amplitude", "threshold", "noise_hz",
            "texture_contrast", "body_contrast", "sway_px", "edge_px", "limb_width", "hand_size")


def score(params: SimParams, n: int, duration: float, workers: int, teacher,
          real_preview: np.ndarray | None = None, likeness_weight: float = 0.5) -> tuple[float, dict]:
    from model.simulator.likeness import likeness
    from model.simulator.realism import per_class, simulate_split
    from model.simulator.teacher import predict

    samples, labels = simulate_split("val", n, duration, params, workers)
    pred, counts = predict(teacher, samples)
    share = counts[np.arange(len(labels)), labels] / np.maximum(counts.sum(1), 1)
    res = per_class(pred, labels)
    s = 0.5 * res["overall"] + 0.5 * float(share.mean())
    if real_preview is not None:
        res["likeness"] = likeness(real_preview, samples, labels)["overall"]
        s = (1 - likeness_weight) * s + likeness_weight * res["likeness"]
    return s, res


def main(argv: list[str] | None = None) -> None:
    import optuna

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--n", type=int, default=3, help="validation recordings per class per trial")
    ap.add_argument("--duration", type=float, default=1.5, help="seconds per recording")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout-min", type=float, default=None, help="stop starting trials after this")
    ap.add_argument("--search", nargs="+", default=list(SEARCHED), choices=list(BOUNDS),
                    help="parameters to search (the others stay at their current values)")
    ap.add_argument("--preview", type=Path, default=PREVIEW_PATH,
                    help="real DVS128 Gesture preview image for the pixel likeness judge (none: teacher only)")
    ap.add_argument("--likeness-weight", type=float, default=0.5, help="share of the likeness in the score")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("calibrated.json"))
    ap.add_argument("--log", type=Path, default=None, help="JSON lines of every trial")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from model.simulator.teacher import Teacher

    teacher = Teacher.load()
    real = None
    if args.preview and args.preview.is_file():
        from model.simulator.likeness import read_preview
        real = read_preview(args.preview)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=args.seed, multivariate=True, n_startup_trials=5))
    study.enqueue_trial({k: getattr(CALIBRATED, k) for k in args.search})
    log = open(args.log, "a") if args.log else None
    t_start = time.time()

    def objective(trial: optuna.Trial) -> float:
        p = SimParams(**{**asdict(CALIBRATED), **{k: trial.suggest_float(k, *BOUNDS[k][:2]) for k in args.search}})
        t0 = time.time()
        s, res = score(p, args.n, args.duration, args.workers, teacher, real, args.likeness_weight)
        line = {"trial": trial.number, "score": s, "accuracy": res["overall"], "likeness": res.get("likeness"),
                "params": asdict(p),
                "per_class": res["per_class"], "seconds": round(time.time() - t0)}
        like = f" likeness {res['likeness']:.3f}" if "likeness" in res else ""
        print(f"trial {trial.number}: score {s:.3f} accuracy {res['overall']:.3f}{like} ({line['seconds']} s)", flush=True)
        if log:
            log.write(json.dumps(line) + "\n")
            log.flush()
        return s

    timeout = args.timeout_min * 60 if args.timeout_min else None
    study.optimize(objective, n_trials=args.trials, timeout=timeout)
    best = SimParams(**{**asdict(CALIBRATED), **study.best_params})
    best.to_json(args.out)
    print(f"best trial {study.best_trial.number}: score {study.best_value:.3f}; "
          f"{len(study.trials)} trials in {time.time() - t_start:.0f} s; written {args.out}")
    for k, (lo, hi, unit) in BOUNDS.items():
        print(f"  {k:18s} {getattr(best, k):8.3f}   [{lo}, {hi}] {unit}")


if __name__ == "__main__":
    main()

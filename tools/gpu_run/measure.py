"""The trained checkpoint's figures on one device; prints JSON.

    python -m tools.gpu_run.measure CHECKPOINT --data SIMDATA --device cuda      # accuracy, flips, latency, pipeline
    python -m tools.gpu_run.measure CHECKPOINT --compile --device cuda            # torch.compile (own process)

Precisions: ``fp32`` (IEEE float32: TF32 is switched off, so it is the reference), ``fp16`` and
``bf16`` (autocast with channels-last weights, as the app runs on a GPU). A window's decision is
the app's rule (argmax, "no gesture" below the minimum confidence); "flipped" counts windows
whose decision differs from fp32's. Latency is batch 1, frames on the host to rates on the host.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from eventcore.decision import NO_GESTURE
from model.checkpoint import load_checkpoint
from model.datasets import TrainWindow, load_splits
from model.evaluate import MIN_CONFIDENCE, predicted, report, score

ROOT = Path(__file__).resolve().parents[2]
PRECISIONS = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
FLIP_TRAIN_WINDOWS = 2048  # random training windows added to the test windows for the flip count


def prepare(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Eval mode on ``device``; channels-last weights on a GPU (the app's layout there)."""
    model = model.to(device).eval()
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


@torch.inference_mode()
def rates_of(model, frames: torch.Tensor, device: torch.device, dtype: torch.dtype | None) -> torch.Tensor:
    """Voted rates ``[N, K]`` (float32, host) of host frames ``[T, N, C, H, W]`` at one precision."""
    x = frames.to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=dtype or torch.float16, enabled=dtype is not None):
        return model(x).float().cpu()


def all_rates(model, data: DataLoader, device: torch.device) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Rates of every item of ``data`` at every precision, and the labels."""
    out: dict[str, list] = {k: [] for k in PRECISIONS}
    labels = []
    for x, y in data:
        frames = x.transpose(0, 1)
        for k, dtype in PRECISIONS.items():
            out[k].append(rates_of(model, frames, device, dtype))
        labels.append(y)
    return {k: torch.cat(v).numpy() for k, v in out.items()}, torch.cat(labels).numpy().astype(np.int64)


def flips(rates: dict[str, np.ndarray]) -> dict:
    """Windows whose decision differs from fp32's, and the largest rate difference, per half precision."""
    ref = predicted(rates["fp32"], True)
    return {k: {"windows": len(ref), "changed": int((predicted(r, True) != ref).sum()),
                "changed_share": float((predicted(r, True) != ref).mean()) if len(ref) else 0.0,
                "max_rate_diff": float(np.abs(r - rates["fp32"]).max()) if len(ref) else 0.0}
            for k, r in rates.items() if k != "fp32"}


def accuracy(model, cfg, meta, data: Path, device: torch.device, batch: int, workers: int) -> dict:
    """Simulated test accuracy (ship's protocol: one centred live window a sample) and decision flips."""
    window = TrainWindow(meta.windowing.window_us, meta.windowing.split_by)
    splits = load_splits("simulated", data, cfg, window, None, limit_train=FLIP_TRAIN_WINDOWS)
    loader = {"batch_size": batch, "num_workers": workers, "pin_memory": device.type == "cuda"}
    rates, labels = all_rates(model, DataLoader(splits.test, **loader), device)
    names = list(meta.class_names) + [NO_GESTURE]
    scores = {k: score(r, labels) for k, r in rates.items()}
    torch.manual_seed(0)
    train_rates, _ = all_rates(model, DataLoader(splits.train, **loader), device)
    return {
        "protocol": "one centred live-length window per test sample; idle samples count as a class; "
                    f"'no gesture' below a top rate of {MIN_CONFIDENCE}",
        "n_test": int(len(labels)),
        "accuracy": {k: s.accuracy for k, s in scores.items()},
        "per_class_fp32": dict(zip(names, map(float, np.nan_to_num(scores["fp32"].per_class)))),
        "report_fp32": report(scores["fp32"], names),
        "flips_test": flips(rates),
        "flips_train_windows": flips(train_rates),
    }


def latency(call, repeats: int, warmup_s: float, device: torch.device) -> dict:
    """Median and p95 wall milliseconds of ``call()`` after ``warmup_s`` of calls."""
    t_end = time.perf_counter() + warmup_s
    while time.perf_counter() < t_end:
        call()
    wall = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        call()
        wall.append(time.perf_counter() - t0)
    wall.sort()
    return {"median_ms": 1e3 * statistics.median(wall), "p95_ms": 1e3 * wall[round(0.95 * (len(wall) - 1))],
            "calls": repeats}


def one_window(cfg, meta, data: Path | None) -> torch.Tensor:
    """One real test window's frames ``[T, 1, C, H, W]`` (random sparse spikes without data)."""
    if data is not None:
        window = TrainWindow(meta.windowing.window_us, meta.windowing.split_by)
        x, _ = load_splits("simulated", data, cfg, window, None, limit_test=1).test[0]
        return torch.as_tensor(x)[:, None]
    torch.manual_seed(0)
    return (torch.rand(cfg.T, 1, cfg.in_channels, *cfg.input_size) < 0.05).float()


def eager_latency(model, frames: torch.Tensor, device: torch.device, repeats: int, warmup_s: float) -> dict:
    return {k: latency(lambda d=dtype: rates_of(model, frames, device, d), repeats, warmup_s, device)
            for k, dtype in PRECISIONS.items()}


def pipeline_latency(checkpoint: Path, device: torch.device) -> dict:
    """The app's pipeline (windowing, frames, model, smoothing) on the first demo recording, as fast as it goes."""
    from app.inference import InferenceEngine
    from app.pipeline import run_to_end
    from app.sources.open import open_file

    demos = sorted((ROOT / "recordings").glob("*.aedat4"))
    if not demos:
        return {"error": f"no demo recording in {ROOT / 'recordings'}"}
    engine = InferenceEngine.from_checkpoint(checkpoint, device=str(device), backend="torch")
    with open_file(demos[0]) as src:
        t0 = time.perf_counter()
        preds = run_to_end(src, engine)
        took = time.perf_counter() - t0
    lat = sorted(p.latency_ms for p in preds)
    if not lat:
        return {"recording": demos[0].name, "windows": 0}
    return {"recording": demos[0].name, "windows": len(lat), "median_ms": statistics.median(lat),
            "p95_ms": lat[round(0.95 * (len(lat) - 1))], "half_precision": engine.half, "wall_s": took}


def compiled(checkpoint: Path, device: torch.device, backend: str, repeats: int, warmup_s: float) -> dict:
    """``torch.compile`` at the app's precision (fp16 autocast on a GPU, fp32 on a CPU): compile time,
    batch-1 latency, and whether its rates match eager's."""
    model, cfg, meta = load_checkpoint(checkpoint, map_location="cpu")
    model = prepare(model, device)
    dtype = torch.float16 if device.type == "cuda" else None
    frames = one_window(cfg, meta, None)
    eager = rates_of(model, frames, device, dtype)
    fn = torch.compile(model, backend=backend)
    t0 = time.perf_counter()
    first = rates_of(fn, frames, device, dtype)
    first_s = time.perf_counter() - t0
    return {"backend": backend, "precision": "fp16" if dtype else "fp32", "first_call_s": first_s,
            "max_rate_diff_vs_eager": float((first - eager).abs().max()),
            **latency(lambda: rates_of(fn, frames, device, dtype), repeats, warmup_s, device)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.gpu_run.measure", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--data", type=Path, help="the simulated dataset (test split and training windows)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch", type=int, default=32, help="batch for the accuracy and flip passes")
    p.add_argument("--repeats", type=int, default=200, help="batch-1 calls timed per precision")
    p.add_argument("--warmup-s", type=float, default=2.0)
    p.add_argument("--compile", action="store_true", help="time torch.compile only (one compile per process)")
    p.add_argument("--compile-backend", default="inductor")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--workers", type=int, default=0, help="data loader processes for the accuracy and flip passes")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 is the reference: IEEE float32, not TF32
    torch.backends.cudnn.allow_tf32 = False
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if args.compile:
        print(json.dumps({"compile": compiled(args.checkpoint, device, args.compile_backend, args.repeats,
                                              args.warmup_s)}))
        return 0
    model, cfg, meta = load_checkpoint(args.checkpoint, map_location="cpu")
    model = prepare(model, device)
    out = {}
    if args.data is not None:
        out["test"] = accuracy(model, cfg, meta, args.data, device, args.batch, args.workers)
    out["latency_batch1"] = eager_latency(model, one_window(cfg, meta, args.data), device, args.repeats,
                                          args.warmup_s)
    out["pipeline"] = pipeline_latency(args.checkpoint, device)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

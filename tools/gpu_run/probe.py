"""One training step of the network on the device, then the largest batch that fits.

    python -m tools.gpu_run.probe --config dvs128_paper --device cuda --amp-dtype bfloat16 --cap 64

Prints JSON: each batch tried (fits or out of memory, seconds a step, samples/s) and the
largest that fits. Every step is the training step of ``model.train`` (autocast, MSE on the
voted rates, Adam, channels-last, cudnn.benchmark) on random spikes, so what fits here fits there.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from model.networks import CONFIGS, NetConfig, build_network
from model.train import one_hot_targets


def training_step(cfg: NetConfig, device: torch.device, amp_dtype: torch.dtype | None,
                  channels_last: bool) -> Callable[[int], float]:
    """``step(batch)``: two training steps at ``batch`` on random spikes; seconds of the second."""
    model = build_network(cfg).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    def step(batch: int) -> float:
        model.train()
        x = (torch.rand(cfg.T, batch, cfg.in_channels, *cfg.input_size, device=device) < 0.05).float()
        y = torch.randint(-1, cfg.n_classes, (batch,), device=device)
        took = 0.0
        for _ in range(2):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t0 = time.perf_counter()
            with torch.autocast(device.type, dtype=amp_dtype or torch.float16, enabled=amp_dtype is not None):
                rates = model(x)
            loss = F.mse_loss(rates.float(), one_hot_targets(y, cfg.n_classes))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            float(loss)
            took = time.perf_counter() - t0
        optimizer.zero_grad(set_to_none=True)
        return took

    return step


def free(device: torch.device) -> None:
    """Give a failed trial's memory back to the device."""
    if device.type == "cuda":
        gc.collect()
        torch.cuda.empty_cache()


def largest_batch(step: Callable[[int], float], cap: int, device: torch.device, start: int = 1) -> dict:
    """Double the batch from ``start`` up to ``cap`` until a step runs out of memory: every trial and the largest fit."""
    trials: dict[int, dict] = {}
    largest, batch = 0, start
    while batch <= cap:
        oom = False
        try:
            took = step(batch)
        except torch.OutOfMemoryError:
            oom = True  # freed below, outside the handler, once the traceback's tensors are gone
        free(device)
        if oom:
            trials[batch] = {"fits": False}
            break
        trials[batch] = {"fits": True, "step_s": round(took, 4), "samples_per_s": round(batch / max(took, 1e-9), 1)}
        largest, batch = batch, batch * 2
    return {"trials": trials, "largest": largest, "cap": cap}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.gpu_run.probe", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--amp-dtype", choices=("float16", "bfloat16", "none"), default="bfloat16")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--cap", type=int, default=64, help="largest batch to try")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from tools.gpu_run.trainer import register

    register()
    cfg = CONFIGS[args.config]
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    amp = None if args.amp_dtype == "none" else getattr(torch, args.amp_dtype)
    result = largest_batch(training_step(cfg, device, amp, args.channels_last), args.cap, device)
    if device.type == "cuda":
        result["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    print(json.dumps(result))
    return 0 if result["largest"] else 1


if __name__ == "__main__":
    sys.exit(main())

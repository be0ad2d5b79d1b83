"""Inference latency of the TCJA-SNN configurations: batch-1 median / p95 and batch-8 throughput.

    python -m benchmarks.inference_latency                       # eager, CPU, every config
    python -m benchmarks.inference_latency --candidates          # also the small64 candidates
    python -m benchmarks.inference_latency --configs small64 --compile
    python -m benchmarks.inference_latency --device cuda         # fp16 + channels_last

Inputs are random sparse spike frames (dense convolutions: timing does not depend on content).
``--compile`` takes one config per process: the first compile costs 70-95 s on a 2-core CPU
and a second compile in the same process misbehaved (DESIGN.md).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import replace

import torch

from model.networks import CONFIGS, NetConfig, build_network, count_parameters

CANDIDATES = (
    replace(CONFIGS["small64"], name="cand 4x48 T16", channels=(48,) * 4, head_hidden=192),
    replace(CONFIGS["small64"], name="cand 4x64 T16"),
    replace(CONFIGS["small64"], name="cand 4x64 T20", T=20),
    replace(CONFIGS["small64"], name="cand 4x96 T16", channels=(96,) * 4, head_hidden=384),
    replace(CONFIGS["small64"], name="cand 5x64 T16", channels=(64,) * 5, tcja_blocks=(3, 4)),
)


def machine(device: str) -> str:
    if device.startswith("cuda"):
        return f"GPU {torch.cuda.get_device_name(device)}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU {cpu}, {torch.get_num_threads()} threads"


def spikes(cfg: NetConfig, batch: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    shape = (cfg.T, batch, cfg.in_channels, *cfg.input_size)
    return (torch.rand(shape, device=device) < 0.1).to(dtype)


def timed(fn, x: torch.Tensor, repeats: int, device: str) -> tuple[list[float], list[float]]:
    """Wall and process-CPU seconds of each of ``repeats`` calls ``fn(x)``.

    CPU time shows contention: on a shared machine wall time grows, CPU time barely does.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        fn(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def bench(cfg: NetConfig, args: argparse.Namespace) -> dict:
    cuda = args.device.startswith("cuda")
    dtype = torch.float16 if cuda and not args.fp32 else torch.float32
    model = build_network(cfg).eval().to(args.device, dtype)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    fn = torch.compile(model) if args.compile else model
    row = {"name": cfg.name, "params": count_parameters(model), "T": cfg.T, "size": cfg.input_size}
    with torch.inference_mode():
        x1 = spikes(cfg, 1, args.device, dtype)
        row["first_s"] = timed(fn, x1, 1, args.device)[0][0]
        t_end = time.perf_counter() + args.warmup_s
        while time.perf_counter() < t_end:
            timed(fn, x1, 1, args.device)
        wall, cpu = timed(fn, x1, args.repeats, args.device)
        wall.sort()
        row["median_ms"] = 1e3 * statistics.median(wall)
        row["p95_ms"] = 1e3 * wall[min(len(wall) - 1, round(0.95 * (len(wall) - 1)))]
        row["cpu_ms"] = 1e3 * statistics.median(cpu)
        xb = spikes(cfg, args.batch, args.device, dtype)
        timed(fn, xb, 1, args.device)
        row["win_per_s"] = args.batch / statistics.median(timed(fn, xb, max(2, args.repeats // 5), args.device)[0])
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--candidates", action="store_true", help="also time the small64 candidate shapes")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--compile", action="store_true", help="torch.compile (one config per process)")
    p.add_argument("--fp32", action="store_true", help="keep float32 on CUDA (default there: fp16)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup-s", type=float, default=1.5, help="seconds of batch-1 calls before timing")
    p.add_argument("--batch", type=int, default=8, help="batch size for the throughput column")
    args = p.parse_args()
    cfgs = [CONFIGS[n] for n in args.configs] + (list(CANDIDATES) if args.candidates else [])
    if args.compile and len(cfgs) != 1:
        p.error("--compile benchmarks one config per process: pass a single --configs name")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is available")
    torch.set_num_threads(args.threads)
    mode = "compiled" if args.compile else "eager"
    print(f"{machine(args.device)}; torch {torch.__version__}; {mode}")
    print(f"{'config':<16}{'params':>11}{'T':>4}{'input':>9}{'first s':>9}{'b1 med ms':>11}{'b1 p95 ms':>11}"
          f"{'b1 cpu ms':>11}{f'b{args.batch} win/s':>11}")
    for cfg in cfgs:
        r = bench(cfg, args)
        size = "x".join(map(str, r["size"]))
        print(f"{r['name']:<16}{r['params']:>11,}{r['T']:>4}{size:>9}{r['first_s']:>9.2f}"
              f"{r['median_ms']:>11.1f}{r['p95_ms']:>11.1f}{r['cpu_ms']:>11.1f}{r['win_per_s']:>11.1f}", flush=True)


if __name__ == "__main__":
    main()

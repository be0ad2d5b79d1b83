"""Inference latency of the TCJA-SNN configurations: batch-1 median / p95 and batch-8 throughput.

    python -m benchmarks.inference_latency                       # eager, CPU, every config
    python -m benchmarks.inference_latency --candidates          # also the small64 candidates
    python -m benchmarks.inference_latency --configs small64 --compile
    python -m benchmarks.inference_latency --device cuda         # fp16 + channels_last
    python -m benchmarks.inference_latency --backends            # eager, torch.compile, ONNX Runtime,
                                                                 #   OpenVINO on small64 and dvs128_paper

``--backends`` times every backend on the same input in one run, interleaved call by call
(round robin), so a background load changes them alike and the ratios to eager hold; it
prints the load average and each call's process CPU time beside the wall time. First
answer: from a loaded checkpoint to the first result, cold (export to an empty cache,
compile from scratch) and cached (the ONNX file, and OpenVINO's compiled blob, already
there). ``torch.compile`` runs in a child process per config (one compile per process).

Inputs are random sparse spike frames (dense convolutions: timing does not depend on content).
``--compile`` takes one config per process: the first compile costs 70-95 s on a 2-core CPU
and a second compile in the same process misbehaved (DESIGN.md).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from model.checkpoint import CheckpointMeta, Windowing, load_checkpoint, save_checkpoint
from model.networks import CONFIGS, NetConfig, build_network, count_parameters
from model.zoo import WEIGHTS_DIR

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


def _checkpoint(name: str, folder: Path) -> Path:
    """The shipped checkpoint of ``name``, else one with random weights (timing does not depend on them)."""
    shipped = WEIGHTS_DIR / f"{name}.pt"
    if shipped.is_file():
        return shipped
    cfg = CONFIGS[name]
    torch.manual_seed(0)
    meta = CheckpointMeta(tuple(f"class{i}" for i in range(cfg.n_classes)),
                          Windowing(1_000_000, 100_000, "number", cfg.input_size, "native"), "random")
    path = folder / f"{name}_random.pt"
    save_checkpoint(path, build_network(cfg), cfg, meta)
    return path


def _compiled_worker(conn, checkpoint: str, frames: np.ndarray, threads: int) -> None:
    """Child process: compile ``forward_with_maps``, report the first answer, then time calls on request."""
    torch.set_num_threads(threads)
    x = torch.from_numpy(frames)
    t0 = time.perf_counter()
    net = load_checkpoint(checkpoint)[0]
    fn = torch.compile(net.forward_with_maps)
    with torch.inference_mode():
        fn(x).rates.numpy()
        conn.send(time.perf_counter() - t0)
        while conn.recv() == "run":
            w0, c0 = time.perf_counter(), time.process_time()
            out = fn(x)
            [t.numpy() for t in (out.rates, *out.gates, *out.spike_maps)]
            conn.send((time.perf_counter() - w0, time.process_time() - c0))


class _Compiled:
    """``torch.compile`` in a child process, called like the in-process backends."""

    def __init__(self, checkpoint: Path, frames: np.ndarray, threads: int) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_compiled_worker, args=(child, str(checkpoint), frames, threads), daemon=True)
        self.proc.start()
        self.first_s = self.conn.recv()

    def __call__(self) -> tuple[float, float]:
        self.conn.send("run")
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send("stop")
        self.proc.join(30)


def _first_answer(make, frames: np.ndarray) -> tuple[object, float]:
    t0 = time.perf_counter()
    runner = make()
    runner.run(frames)
    return runner, time.perf_counter() - t0


def compare_backends(name: str, args: argparse.Namespace, folder: Path) -> list[dict]:
    """Batch-1 latency and first answer of every backend for one config, timed round robin."""
    from app.backends import TorchRunner, available_backends, make_runner

    cfg = CONFIGS[name]
    ckpt = _checkpoint(name, folder)
    frames = spikes(cfg, 1, "cpu", torch.float32).numpy()
    calls: dict[str, object] = {}
    rows: dict[str, dict] = {}

    def timed_call(run):
        def call():
            w0, c0 = time.perf_counter(), time.process_time()
            run(frames)
            return time.perf_counter() - w0, time.process_time() - c0
        return call

    eager, first = _first_answer(lambda: TorchRunner(load_checkpoint(ckpt)[0]), frames)
    calls["eager"], rows["eager"] = timed_call(eager.run), {"first_cold_s": first, "first_cached_s": first}
    for backend in ("onnxruntime", "openvino"):
        if backend not in args.backends or backend not in available_backends():
            continue
        cold = Path(tempfile.mkdtemp(dir=folder))
        _, first_cold = _first_answer(lambda: make_runner(backend, ckpt, threads=args.threads, cache_root=cold), frames)
        runner, first_cached = _first_answer(
            lambda: make_runner(backend, ckpt, threads=args.threads, cache_root=cold), frames)
        calls[backend] = timed_call(runner.run)
        rows[backend] = {"first_cold_s": first_cold, "first_cached_s": first_cached}
    compiled = None
    if "compile" in args.backends:
        compiled = _Compiled(ckpt, frames, args.threads)  # compiles while this process waits
        calls["compile"], rows["compile"] = compiled, {"first_cold_s": compiled.first_s, "first_cached_s": None}
    wall: dict[str, list[float]] = {k: [] for k in calls}
    cpu: dict[str, list[float]] = {k: [] for k in calls}
    load0 = os.getloadavg()[0]
    t_end = time.perf_counter() + args.warmup_s
    while time.perf_counter() < t_end:
        for call in calls.values():
            call()
    repeats = args.repeats if cfg.input_size[0] <= 64 else max(5, args.repeats // 3)
    for _ in range(repeats):
        for k, call in calls.items():
            w, c = call()
            wall[k].append(w)
            cpu[k].append(c)
    if compiled is not None:
        compiled.close()
    base = statistics.median(wall["eager"])
    out = []
    for k in calls:
        ws = sorted(wall[k])
        med = statistics.median(ws)
        out.append({"config": name, "backend": k, **rows[k], "median_ms": 1e3 * med,
                    "p95_ms": 1e3 * ws[min(len(ws) - 1, round(0.95 * (len(ws) - 1)))],
                    "cpu_ms": 1e3 * statistics.median(cpu[k]), "speedup": base / med,
                    "load": (load0 + os.getloadavg()[0]) / 2, "repeats": repeats})
    return out


def print_backends(rows: list[dict]) -> None:
    print(f"{'config':<14}{'backend':<13}{'first cold s':>13}{'first cached s':>15}{'b1 med ms':>11}"
          f"{'b1 p95 ms':>11}{'b1 cpu ms':>11}{'x eager':>9}{'load':>6}")
    for r in rows:
        cached = f"{r['first_cached_s']:.2f}" if r["first_cached_s"] is not None else "-"
        print(f"{r['config']:<14}{r['backend']:<13}{r['first_cold_s']:>13.2f}{cached:>15}{r['median_ms']:>11.1f}"
              f"{r['p95_ms']:>11.1f}{r['cpu_ms']:>11.1f}{r['speedup']:>9.2f}{r['load']:>6.1f}", flush=True)


def main_backends(args: argparse.Namespace) -> None:
    import importlib.metadata as md

    torch.set_num_threads(args.threads)
    versions = []
    for pkg in ("torch", "onnxruntime", "openvino"):
        try:
            versions.append(f"{pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            pass
    print(f"{machine('cpu')}; {', '.join(versions)}; batch 1, round robin; "
          f"load average at start {os.getloadavg()[0]:.1f} (on {os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            print_backends(compare_backends(name, args, Path(tmp)))


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
    p.add_argument("--backends", "--backend", nargs="*", default=None,
                   choices=["torch", "compile", "onnxruntime", "openvino"],
                   help="compare eager with these backends (none listed: all), batch 1, round robin; "
                        "configs default to small64 and dvs128_paper")
    args = p.parse_args()
    if args.backends is not None:
        args.backends = args.backends or ["compile", "onnxruntime", "openvino"]  # eager (torch) always runs
        if args.configs == list(CONFIGS):
            args.configs = ["small64", "dvs128_paper"]
        main_backends(args)
        return
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

"""Each step of the GPU run timed on this CPU and scaled to one H100 with 16 cores: an ESTIMATE.

    python -m tools.gpu_run.budget            # prints the table the README gives (a minute or two)

Measured here: the simulator's CPU seconds per sample (the small64 mix), the data loader's CPU
seconds per training sample (dvs128_paper frames with the USER_SETUPS augmentation), one
dvs128_paper training step and batch-1 forward, and the network's FLOPs and kernel count.
Scaled with stated assumptions (below), not with anything measured on a GPU.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from model.networks import CONFIGS, build_network
from tools.gpu_run.plan import SMALL64_DATA

# Assumptions (said as such in the README): the GPU host's cores are as fast as these; an H100
# sustains this share of its 989 TFLOP/s dense bf16 peak on this network (3x3 convolutions at
# 128 channels, but a quarter of the work in memory-bound BatchNorm, LIF and pooling over T=20);
# a CUDA kernel launch costs about this much CPU time at batch 1.
CORES = 16
H100_EFFECTIVE_FLOPS = 100e12
LAUNCH_S = 8e-6
LOADER_WORKERS = 12


def simulator_cpu_s(n: int = 12) -> float:
    """CPU seconds a simulated sample of the small64 mix costs (one process, one thread)."""
    from model.simulator.generate import _jobs, _one

    d = SMALL64_DATA
    jobs = _jobs(d["n_per_class"], d["seed"], d["duration"], True, d["neg_factor"], d["other_factor"])
    pick = [jobs[i] for i in np.random.default_rng(0).choice(len(jobs), n, replace=False)]
    t0 = time.process_time()
    for job in pick:
        _one(job)
    return (time.process_time() - t0) / n


def n_samples() -> int:
    d = SMALL64_DATA
    per = 10 + d["other_factor"] + d["neg_factor"]
    return (d["n_per_class"] + d["n_test_per_class"]) * per


def loader_cpu_s(n: int = 24) -> float:
    """CPU seconds the data loader spends on one dvs128_paper training window (augmented, 1 s, T=20)."""
    from model.datasets import USER_SETUPS, TrainWindow
    from model.datasets.samples import EventSamples
    from model.simulator.generate import generate_sample
    from model.datasets.shards import save_sample
    import tempfile
    from pathlib import Path

    cfg = CONFIGS["dvs128_paper"]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(4):
            ev, _ = generate_sample(i, SMALL64_DATA["duration"], seed=i)
            paths.append(Path(tmp) / f"c{i}.npz")
            save_sample(paths[-1], ev, i, 128, 128)
        ds = EventSamples(paths, np.arange(4), (128, 128), cfg.T, cfg.input_size, TrainWindow(1_000_000),
                          train=True, augment=USER_SETUPS)
        t0 = time.process_time()
        for i in range(n):
            ds[i % 4]
        return (time.process_time() - t0) / n


def network_figures() -> dict:
    """dvs128_paper: forward FLOPs a sample, aten ops a forward (those inside the LIF layers apart), and CPU
    seconds (process time, all threads) of a training sample and a batch-1 forward."""
    from spikingjelly.activation_based import neuron

    cfg = CONFIGS["dvs128_paper"]
    net = build_network(cfg)
    x = (torch.rand(cfg.T, 1, 2, *cfg.input_size) < 0.05).float()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(x)
    ops = {"other": 0, "lif": 0}
    where = ["other"]
    lifs = [m for m in net.modules() if isinstance(m, neuron.LIFNode)]
    for m in lifs:
        m.register_forward_pre_hook(lambda *_: where.__setitem__(0, "lif"))
        m.register_forward_hook(lambda *_: where.__setitem__(0, "other"))

    class Count(torch.utils._python_dispatch.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            ops[where[0]] += 1
            return func(*args, **(kwargs or {}))

    with Count(), torch.no_grad():
        net.eval()(x)
    net.train()
    opt = torch.optim.Adam(net.parameters())
    xb = (torch.rand(cfg.T, 2, 2, *cfg.input_size) < 0.05).float()
    for _ in range(2):
        t0 = time.process_time()
        loss = F.mse_loss(net(xb), torch.zeros(2, cfg.n_classes))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step = (time.process_time() - t0) / 2
    net.eval()
    with torch.inference_mode():
        net(x)
        t0 = time.process_time()
        net(x)
        fwd = time.process_time() - t0
    return {"forward_flops": counter.get_total_flops(), "ops_outside_lif": ops["other"], "ops_in_lif": ops["lif"],
            "lif_layers": len(lifs), "train_step_cpu_s_per_sample": step, "forward_cpu_s": fwd}


def main() -> None:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    sim = simulator_cpu_s()
    load = loader_cpu_s()
    net = network_figures()
    n = n_samples()
    n_train = SMALL64_DATA["n_per_class"] * (10 + SMALL64_DATA["other_factor"] + SMALL64_DATA["neg_factor"])
    train_flops = 3 * net["forward_flops"]
    gpu_rate = H100_EFFECTIVE_FLOPS / train_flops
    loader_rate = LOADER_WORKERS / load
    print(f"measured on this CPU ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}):")
    print(f"  simulator: {sim:.2f} CPU s a sample; {n} samples = {sim * n:.0f} CPU s "
          f"-> {sim * n / CORES:.0f} s on {CORES} cores")
    print(f"  loader: {load * 1e3:.1f} CPU ms a training window -> {loader_rate:.0f} samples/s with "
          f"{LOADER_WORKERS} workers")
    print(f"  dvs128_paper: {net['forward_flops'] / 1e9:.1f} GFLOP a forward (T=20, batch 1); aten ops a forward: "
          f"{net['ops_outside_lif']} outside its {net['lif_layers']} LIF layers, {net['ops_in_lif']} inside them "
          f"(the torch reference LIF steps through T); CPU time: {net['train_step_cpu_s_per_sample']:.2f} s a "
          f"training sample, {net['forward_cpu_s']:.2f} s a forward")
    print(f"scaled to one H100 (assumed {H100_EFFECTIVE_FLOPS / 1e12:.0f} TFLOP/s effective):")
    print(f"  training: {train_flops / 1e9:.0f} GFLOP a sample -> {gpu_rate:.0f} samples/s on the GPU, "
          f"{min(gpu_rate, loader_rate):.0f} with the loader; an epoch of {n_train} samples "
          f"{n_train / min(gpu_rate, loader_rate):.1f} s")
    fused = net["ops_outside_lif"] + net["lif_layers"]
    print(f"  batch-1 forward: {net['forward_flops'] / H100_EFFECTIVE_FLOPS * 1e3:.2f} ms of arithmetic; kernel "
          f"launches ({LAUNCH_S * 1e6:.0f} us each): {fused * LAUNCH_S * 1e3:.1f} ms with one LIF kernel a layer "
          f"(spikingjelly's triton LIF), {(net['ops_outside_lif'] + net['ops_in_lif']) * LAUNCH_S * 1e3:.1f} ms "
          f"with its torch reference")


if __name__ == "__main__":
    main()

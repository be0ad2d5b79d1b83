"""Train a TCJA-SNN: ``python -m model.train --dataset dvs128 --data DvsGesture/ --config dvs128_paper``.

The default is the official TCJA-SNN recipe (TCJA.md): the loss is the MSE between the
voted class rates and the one-hot label (all zeros for an idle sample, so "no gesture" comes
out as low rates),

    L = 1/K * sum_k (rate_k - [k == label])^2,

Adam (lr 1e-3), cosine annealing over all epochs (1024), batch 16, mixed precision on CUDA,
and for DVS128 Gesture each whole sample split into T=20 frames by event count. Live
configurations (``small64``) instead train on random windows of the live window length.
The frames come from the app's own ``Geometry`` and ``events_to_frames``.

Several GPUs: ``torchrun --nproc_per_node=4 -m model.train ...`` (DDP; rank 0 writes; each rank
logs the samples it trained on and a digest of its weights to ``rank<N>.jsonl`` every epoch).
``--time-budget-s`` fits a run into a time: the cosine schedule spans the epochs that fit and an
epoch stops at the deadline (``tools.gpu_run`` uses it).
Outputs in ``--out``: ``best.pt`` and ``last.pt`` (app checkpoints with metadata),
``resume.pt`` (model, optimizer, scaler, epoch, best; the cosine schedule is closed-form in the
epoch: ``--resume`` continues from it, also with more ``--epochs``)
and ``log.jsonl`` (one line per epoch).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, Subset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from model.checkpoint import CheckpointError, CheckpointMeta, Windowing, load_checkpoint, save_checkpoint
from model.device import choose_device
from eventcore.errors import SettingsError, SourceError, UserError
from eventcore.settings import ms_to_us
from model.datasets import CAMERA, DATASETS, USER_SETUPS, Splits, TrainWindow, dvs128_gesture, load_splits
from model.evaluate import predict, predicted, score
from model.networks import CONFIGS, NetConfig, build_network

DEFAULT_CONFIG = {"dvs128": "dvs128_paper", "simulated": "small64", "recordings": "small64", "nmnist": "nmnist", "fmnist": "fmnist_paper"}
# Live configurations train on windows of the live length (ms); the rest on whole samples.
DEFAULT_WINDOW_MS = {"small64": 1000.0}
DEFAULT_HOP_MS = 100.0
RESUME_FILE = "resume.pt"


@dataclass(frozen=True)
class Dist:
    """This process's place in a (possibly single-process) run."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=DATASETS, required=True)
    p.add_argument("--data", type=Path, help="dataset folder (fmnist: default /usr/share/datasets/fashion-mnist)")
    p.add_argument("--config", choices=sorted(CONFIGS), help="network (default: per dataset)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/<dataset>-<config>)")
    p.add_argument("--epochs", type=int, default=1024, help="epochs; the cosine schedule spans them (1024)")
    p.add_argument("--batch-size", type=int, default=16, help="per process (16)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision (default: on with CUDA)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available)")
    p.add_argument("--workers", type=int, default=None, help="data loader processes (default: 0 on CPU, 6 on GPU)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help=f"continue from OUT/{RESUME_FILE}")
    p.add_argument("--val-fraction", type=float, default=0.0,
                   help="carve this fraction of training recordings out as validation and pick the best on it "
                        "(default 0: keep the max test accuracy, as the paper)")
    p.add_argument("--window-ms", type=float, default=None,
                   help="train on random windows of this length (the live window); 0 = whole samples "
                        "(default: 1000 for small64, whole samples otherwise)")
    p.add_argument("--hop-ms", type=float, default=DEFAULT_HOP_MS, help="live hop stored in the checkpoint (100)")
    p.add_argument("--min-window-ms", type=float, default=None,
                   help="train on windows of random length from this to --window-ms, so that a short window "
                        "(the first moments of a gesture) is named too (default: fixed length)")
    p.add_argument("--init", type=Path, default=None,
                   help="start from this checkpoint's weights (same network config), e.g. to retrain a shipped model")
    p.add_argument("--split-by", choices=("number", "time"), default="number")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random shifts and scales (default: on when training on windows; never flips)")
    p.add_argument("--limit-train", type=int, default=None, help="use only this many training samples")
    p.add_argument("--limit-test", type=int, default=None, help="use only this many test samples")
    p.add_argument("--limit-batches", type=int, default=None, help="stop each epoch after this many batches")
    p.add_argument("--eval-every", type=int, default=1, help="evaluate every N epochs (and the last)")
    p.add_argument("--amp-dtype", choices=("float16", "bfloat16"), default="float16",
                   help="mixed-precision type: float16 (with a GradScaler) or bfloat16 (no scaler; also on the CPU)")
    p.add_argument("--channels-last", action="store_true", help="channels-last weights (faster convolutions on GPUs)")
    p.add_argument("--time-budget-s", type=float, default=None,
                   help="train for at most this long: the cosine schedule spans the epochs that fit (re-planned "
                        "after each epoch) and an epoch stops at the deadline; every epoch is checkpointed")
    p.add_argument("--cache", type=Path, default=None, help="DVS128 Gesture sample cache folder")
    return p.parse_args(argv)


def setup_distributed(device_arg: str | None) -> Dist:
    """Join the torchrun process group when WORLD_SIZE > 1; pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = choose_device(device_arg)
    if device.type == "cuda":
        if world > 1:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world, device)


def one_hot_targets(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """One-hot rows; all zeros for idle samples (label -1)."""
    target = F.one_hot(labels.clamp(min=0), n_classes).float()
    return target * (labels >= 0).unsqueeze(1)


def loader(ds: Dataset, batch: int, *, shuffle: bool, workers: int, cuda: bool, seed: int,
           sampler=None) -> DataLoader:
    gen = torch.Generator()
    gen.manual_seed(seed)
    return DataLoader(ds, batch_size=batch, shuffle=shuffle and sampler is None, sampler=sampler,
                      num_workers=workers, pin_memory=cuda, persistent_workers=workers > 0, drop_last=False,
                      generator=gen)


def past(deadline: float | None, d: Dist) -> bool:
    """Whether ``deadline`` (time.monotonic) has passed on any rank, so that all ranks stop together."""
    if deadline is None:
        return False
    late = torch.tensor([float(time.monotonic() > deadline)], device=d.device)
    if d.world > 1:
        dist.all_reduce(late, op=dist.ReduceOp.MAX)
    return bool(late.item())


def train_epoch(model, data: DataLoader, optimizer, scaler, d: Dist, amp: torch.dtype | None, n_classes: int,
                idle: bool, limit: int | None, desc: str, deadline: float | None = None) -> dict:
    """One pass over ``data`` (at most ``limit`` batches, none past ``deadline``): loss, accuracy, samples/s."""
    model.train()
    n_batches = len(data) if limit is None else min(limit, len(data))
    bar = tqdm(total=n_batches, desc=desc, unit="batch", disable=not d.main, dynamic_ncols=True, leave=True)
    loss_sum = torch.zeros((), device=d.device)
    done = 0
    correct, seen, t0 = 0, 0, time.perf_counter()
    for i, (x, y) in enumerate(data):
        if i >= n_batches or (i % 4 == 0 and i > 0 and past(deadline, d)):
            break
        x = x.to(d.device, non_blocking=True).transpose(0, 1)  # [T, N, C, H, W]
        y = y.to(d.device, non_blocking=True)
        with torch.autocast(d.device.type, dtype=amp or torch.float16, enabled=amp is not None):
            rates = model(x)
        loss = F.mse_loss(rates.float(), one_hot_targets(y, n_classes))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        loss_sum += loss.detach() * len(y)
        correct += int((predicted(rates.detach().float().cpu().numpy(), idle) == y.cpu().numpy()).sum())
        seen += len(y)
        if d.main and (i % 5 == 0 or i == n_batches - 1):
            rate = seen * d.world / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct / seen:.3f}",
                            rate=f"{rate:.1f} samples/s")
        bar.update()
        done += 1
    bar.close()
    totals = torch.tensor([loss_sum.item(), correct, seen], dtype=torch.float64, device=d.device)
    if d.world > 1:
        dist.all_reduce(totals)
    elapsed = time.perf_counter() - t0
    loss, right, n = totals.tolist()
    return {"loss": loss / max(n, 1), "train_acc": right / max(n, 1), "samples_per_s": n / max(elapsed, 1e-9),
            "epoch_s": elapsed, "batches": done}


def eval_loader(ds: Dataset, d: Dist, batch: int, workers: int) -> DataLoader:
    """This rank's exact share of ``ds`` (no padding, unlike DistributedSampler), in order."""
    share = Subset(ds, range(d.rank, len(ds), d.world)) if d.world > 1 else ds
    return loader(share, batch, shuffle=False, workers=workers, cuda=d.device.type == "cuda", seed=0)


def evaluate_split(model, data: DataLoader, d: Dist, amp: bool, idle: bool, desc: str) -> float:
    """Accuracy over all ranks' shares (counts summed)."""
    rates, labels = predict(model, data, d.device, amp, desc=desc, progress=d.main)
    correct = torch.tensor([score(rates, labels, idle).correct, len(labels)], dtype=torch.float64, device=d.device)
    if d.world > 1:
        dist.all_reduce(correct)
    return correct[0].item() / max(correct[1].item(), 1)


def cosine_lr(lr0: float, epoch: int, epochs: int) -> float:
    """Cosine annealing in closed form, ``lr0 * (1 + cos(pi * epoch / epochs)) / 2``, so that the
    schedule's only state is the epoch and a resume may extend ``epochs``."""
    return lr0 * 0.5 * (1.0 + math.cos(math.pi * min(epoch, epochs) / epochs))


def machine(d: Dist) -> str:
    if d.device.type == "cuda":
        what = f"{d.world} x {torch.cuda.get_device_name(d.device)}"
    else:
        what = f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    return f"{platform.node()}: {what}, torch {torch.__version__}"


def resolve_window(args: argparse.Namespace, cfg: NetConfig) -> TrainWindow:
    ms = args.window_ms if args.window_ms is not None else DEFAULT_WINDOW_MS.get(cfg.name, 0.0)
    min_us = int(round(args.min_window_ms * 1000)) if args.min_window_ms else None
    try:
        return TrainWindow(int(round(ms * 1000)) if ms > 0 else None, args.split_by, min_us)
    except ValueError as err:
        raise UserError(f"--min-window-ms: {err}") from None


def live_windowing(splits: Splits, window: TrainWindow, cfg: NetConfig, hop_us: int) -> Windowing:
    """The checkpoint's live windowing; a whole-sample model gets its training samples' median length."""
    if not splits.events:
        return Windowing(window_us=1, hop_us=1, split_by="number", input_size=cfg.input_size,
                         geometry="static image repeated over T")
    window_us = window.window_us
    if window_us is None:
        window_us = int(round(float(np.median(splits.train.durations_us())), -3)) or 1_000_000
    sensor = splits.train.sensor
    side = cfg.input_size[1]
    geometry = "native" if sensor == (side, cfg.input_size[0]) else f"{sensor[0]}x{sensor[1]} centre-cropped, scaled to {side}"
    return Windowing(window_us=window_us, hop_us=hop_us, split_by=window.split_by, input_size=cfg.input_size,
                     geometry=geometry)


def plan_epochs(limit: int, done: int, per_epoch: float, deadline: float, d: Dist) -> int:
    """Epochs that fit before ``deadline`` at ``per_epoch`` seconds each (the last epoch's pace: the first
    one's start-up does not count against the rest), at most ``limit``, at least ``done``; the same on every rank."""
    fits = done + int(max(deadline - time.monotonic(), 0.0) // max(per_epoch, 1e-9))
    plan = torch.tensor([float(min(limit, fits))], device=d.device)
    if d.world > 1:
        dist.all_reduce(plan, op=dist.ReduceOp.MIN)
    return max(int(plan.item()), done)


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer, in ``state_dict`` order."""
    import hashlib

    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def sync_ranks(model: torch.nn.Module, d: Dist, out: Path, epoch: int, sampler, n_seen: int) -> None:
    """End of a DDP epoch: rank 0's BatchNorm statistics everywhere, and this rank's record in ``rank<N>.jsonl``.

    DDP keeps the parameters equal; each rank's last forward updates its own running statistics, so
    they are broadcast from rank 0 (whose weights are saved). The record lists the sample indices
    this rank trained on and a digest of its weights: the ranks' indices are disjoint, the digests equal.
    """
    for b in model.buffers():
        dist.broadcast(b, 0)
    record = {"epoch": epoch + 1, "rank": d.rank, "samples": list(sampler)[:n_seen],
              "weights_sha256": weights_digest(model)}
    with open(out / f"rank{d.rank}.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def run(args: argparse.Namespace, argv: list[str]) -> dict:
    """Train as ``args`` say; returns the final summary (also stored in the checkpoints)."""
    d = setup_distributed(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = d.device.type == "cuda"
    amp = cuda if args.amp is None else args.amp
    amp_dtype = getattr(torch, args.amp_dtype) if amp else None
    if amp and not cuda and amp_dtype != torch.bfloat16:
        raise SettingsError("--amp on the CPU needs --amp-dtype bfloat16 (float16 mixed precision needs CUDA)")
    workers = args.workers if args.workers is not None else (6 if cuda else 0)
    torch.manual_seed(args.seed + d.rank)
    np.random.seed(args.seed + d.rank)
    if cuda:
        torch.backends.cudnn.benchmark = True

    cfg = CONFIGS[args.config or DEFAULT_CONFIG[args.dataset]]
    window = resolve_window(args, cfg)
    augment = None
    if args.augment if args.augment is not None else window.window_us is not None:
        # Simulated subjects stand where the simulator puts them: train on every live user's set-up.
        augment = USER_SETUPS if args.dataset == "simulated" else CAMERA
    out = args.out or Path("runs") / f"{args.dataset}-{cfg.name}"
    try:
        if d.main:
            out.mkdir(parents=True, exist_ok=True)
            if args.dataset == "dvs128" and args.data is not None:  # rank 0 fills the cache, the others wait
                dvs128_gesture.prepare(args.data, args.cache, workers)
        if d.world > 1:
            dist.barrier()
        splits = load_splits(args.dataset, args.data, cfg, window, augment, val_fraction=args.val_fraction,
                             seed=args.seed, cache=args.cache, workers=workers, limit_train=args.limit_train,
                             limit_test=args.limit_test)
    except (ValueError, SourceError) as err:
        raise UserError(str(err)) from None
    windowing = live_windowing(splits, window, cfg, int(round(args.hop_ms * 1000)))
    protocol = "picked on validation" if splits.val is not None else "max test accuracy"
    idle = bool((splits.train.labels < 0).any() or (splits.test.labels < 0).any())

    model = build_network(cfg).to(d.device)
    if args.init is not None and not args.resume:
        try:
            start, start_cfg, _ = load_checkpoint(args.init)
        except CheckpointError as err:
            raise UserError(f"--init: {err}") from None
        if start_cfg.to_dict() != cfg.to_dict():
            raise UserError(f"--init: {args.init} is a {start_cfg.name!r} network, not {cfg.name!r}")
        model.load_state_dict(start.state_dict())
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scaler = torch.amp.GradScaler(d.device.type, enabled=amp_dtype == torch.float16)
    state = {"epoch": 0, "best": -1.0, "best_epoch": -1, "best_acc": {}, "time_s": 0.0}
    resume_path = out / RESUME_FILE
    if args.resume:
        if not resume_path.is_file():
            raise UserError(f"--resume: {resume_path} not found (nothing to resume in {out})")
        saved = torch.load(resume_path, map_location=d.device, weights_only=True)
        if saved["config"] != cfg.to_dict():
            raise UserError(f"--resume: {resume_path} was trained with config {saved['config']['name']!r}, "
                          f"not {cfg.name!r}")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scaler.load_state_dict(saved["scaler"])
        state = saved["state"]
        if d.main:  # the other ranks keep their own seeds, so their augmentations differ
            torch.set_rng_state(saved["rng"].cpu())
    net = DistributedDataParallel(model, device_ids=[d.device.index] if cuda else None) if d.world > 1 else model

    # drop_last: ranks get disjoint, equal shares (< world samples an epoch left out, others each epoch)
    sampler = DistributedSampler(splits.train, shuffle=True, seed=args.seed, drop_last=True) if d.world > 1 else None
    train_data = loader(splits.train, args.batch_size, shuffle=True, workers=workers, cuda=cuda,
                        seed=args.seed + state["epoch"], sampler=sampler)
    evals = {name: eval_loader(ds, d, args.batch_size * 2, workers)
             for name, ds in (("val", splits.val), ("test", splits.test)) if ds is not None}
    if d.main:
        print(f"{cfg.name} on {splits.trained_on}: {len(splits.train)} train"
              f"{f', {len(splits.val)} val' if splits.val is not None else ''}, {len(splits.test)} test samples; "
              f"input [T={cfg.T}, {cfg.in_channels}, {cfg.input_size[0]}, {cfg.input_size[1]}]"
              f" ({window.describe(cfg.T) if splits.events else 'static image repeated over T'}); "
              f"augment {augment.to_meta() if augment else 'off'}; {machine(d)}; amp {amp}; protocol: {protocol}",
              flush=True)

    summary = {}
    planned = args.epochs
    deadline = time.monotonic() + args.time_budget_s if args.time_budget_s else None
    for epoch in range(state["epoch"], args.epochs):
        if epoch >= planned:
            break
        t0 = time.perf_counter()
        lr = cosine_lr(args.lr, epoch, planned)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if sampler is not None:
            sampler.set_epoch(epoch)
        stats = train_epoch(net, train_data, optimizer, scaler, d, amp_dtype, cfg.n_classes, idle,
                            args.limit_batches, f"epoch {epoch + 1}/{planned}", deadline)
        if d.world > 1:
            sync_ranks(model, d, out, epoch, sampler, stats["batches"] * args.batch_size)
        if deadline is not None:
            planned = plan_epochs(args.epochs, epoch + 1, time.perf_counter() - t0, deadline, d)
        last_epoch = epoch + 1 == planned
        if (epoch + 1) % args.eval_every == 0 or last_epoch:
            for name, data in evals.items():
                stats[f"{name}_acc"] = evaluate_split(model, data, d, amp and cuda, idle, name)
        state["time_s"] += time.perf_counter() - t0
        state["epoch"] = epoch + 1
        pick = stats.get("val_acc" if splits.val is not None else "test_acc")
        improved = pick is not None and pick > state["best"]
        if improved:
            state.update(best=pick, best_epoch=epoch + 1,
                         best_acc={k: stats[k] for k in ("train_acc", "val_acc", "test_acc") if k in stats})
        summary = {"epoch": epoch + 1, "lr": lr, **stats, "best_epoch": state["best_epoch"]}
        if d.main:
            print(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in summary.items()}), flush=True)
            with open(out / "log.jsonl", "a") as f:
                f.write(json.dumps(summary) + "\n")
            notes = {"protocol": protocol, "train_window": window.window_us or "whole",
                     "train_window_min": window.min_window_us, "init": str(args.init) if args.init else None,
                     "augment": augment.to_meta() if augment else None, "epochs_done": epoch + 1,
                     "epochs": planned, "time_s": round(state["time_s"], 1), "machine": machine(d),
                     "recipe": {"loss": "mse(voted rates, one-hot)", "optimizer": "adam", "lr": args.lr,
                                "schedule": f"cosine over {planned} epochs", "batch": args.batch_size * d.world,
                                "amp": args.amp_dtype if amp else False, "channels_last": args.channels_last,
                                "time_budget_s": args.time_budget_s},
                     "seed": args.seed, "val_fraction": args.val_fraction,
                     "samples": {"train": len(splits.train), "val": len(splits.val) if splits.val else 0,
                                 "test": len(splits.test)}}
            command = "python -m model.train " + shlex.join(argv)
            if improved:
                acc = {("val_best" if k == "val_acc" else "test_at_best_val" if splits.val is not None
                        else "test_max" if k == "test_acc" else "train_at_best"): v
                       for k, v in state["best_acc"].items()}
                meta = CheckpointMeta(splits.class_names, windowing, splits.trained_on, acc, command,
                                      notes=json.dumps({**notes, "epoch": epoch + 1}))
                save_checkpoint(out / "best.pt", model, cfg, meta)
            last_acc = {f"{k}_last": v for k, v in stats.items() if k.endswith("_acc")}
            meta = CheckpointMeta(splits.class_names, windowing, splits.trained_on, last_acc, command,
                                  notes=json.dumps({**notes, "protocol": "the last epoch (none picked)",
                                                    "epoch": epoch + 1}))
            save_checkpoint(out / "last.pt", model, cfg, meta)
            tmp = resume_path.with_name(RESUME_FILE + ".tmp")
            torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scaler": scaler.state_dict(), "state": state,
                        "rng": torch.get_rng_state()}, tmp)
            os.replace(tmp, resume_path)
    if d.main:
        print(f"done: best {protocol} {state['best']:.4f} at epoch {state['best_epoch']}; "
              f"{state['time_s']:.0f} s; checkpoints in {out}", flush=True)
    if d.world > 1:  # every rank done before any tears down: gloo aborts a rank whose peer left first
        dist.barrier()
        dist.destroy_process_group()
    return {**summary, "best": state["best"], "best_epoch": state["best_epoch"], "out": str(out)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        ms_to_us("--window-ms", None if args.window_ms == 0 else args.window_ms)  # 0 = whole samples
        ms_to_us("--hop-ms", args.hop_ms)
        run(args, argv)
    except UserError as err:  # bad input: one line, exit 2, as in the app and evaluation
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

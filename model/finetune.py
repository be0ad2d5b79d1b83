"""Fine-tune a shipped checkpoint on a user's own takes (a teach folder) in minutes on a CPU.

    python -m model.finetune DATA_DIR [--from small64] [--epochs 12] [--name NAME]

Protocol: one take per gesture is held out (picked at random with ``--seed``); the accuracy
on the held-out takes is measured before (the base model; restricted to the gestures it
knows when the set differs) and after, per window (the live window, every 500 ms across
the take) and per take (the take's windows' mean rates). The checkpoint written is the one
trained without the held-out takes, so its stored accuracies are honest.

Cheap by construction: all blocks but the last are frozen (batch-norm statistics too) and
run once per training crop, whose output is cached; only the last block (a TCJA block in
``small64``) and the head train, for a few epochs over ``crops_per_take`` random
live-length windows of each take (small shifts and scales, never flips). On the 2-core CPU
the frozen blocks' one pass costs more than all the epochs of the rest. A different gesture set
gets a new voting head (``voting x n_classes`` outputs); gestures the base model knows by
name keep their rows of the old head.

Checkpoints go to the user's model folder (``$XDG_DATA_HOME/tcja-gesture/models``, or
``--out``), never into the shipped ``model/weights``.
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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional
from torch import nn

from eventcore.errors import CheckpointError, SettingsError, UserError
from eventcore.frames import events_to_frames
from eventcore.geometry import Geometry
from model.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from model.datasets.augment import Augment, RandomFraming
from model.datasets.samples import TrainWindow
from model.datasets.takes import Take, TakeSet, load_takes, split_takes
from model.device import choose_device
from model.networks import NetConfig, TCJANet, build_network
from model.zoo import WEIGHTS_DIR, resolve_model, user_models_dir

Progress = Callable[[float, str], None]
HEAD_KEY = "fc.5.0.weight"  # the voting layer: voting x n_classes outputs
PREFIX_CHUNK = 8  # windows per pass through the frozen blocks (their activations take ~30 MB per window)


@dataclass(frozen=True)
class FinetuneSettings:
    """How to fine-tune: epochs, crops per take, frozen blocks (None: all but the last), lr."""

    epochs: int = 12
    crops_per_take: int = 4
    freeze_blocks: int | None = None
    lr: float = 3e-3  # with batch 8: 100 % vs 82 % of held-out takes at 1e-3 / batch 16 (11 x 5 benchmark)
    batch_size: int = 8
    eval_hop_us: int = 500_000
    seed: int = 0
    augment: Augment = field(default_factory=lambda: Augment((RandomFraming(shift_x=0.05, shift_y=0.05, scale=(0.92, 1.08)),)))

    def __post_init__(self) -> None:
        if not 1 <= self.epochs <= 1000:
            raise SettingsError(f"--epochs must be 1..1000, not {self.epochs}")
        if not 1 <= self.crops_per_take <= 256:
            raise SettingsError(f"crops per take must be 1..256, not {self.crops_per_take}")


@dataclass(frozen=True)
class HeldOutScore:
    """Accuracy on the held-out takes: per window and per take (None when the model cannot say)."""

    windows: float | None
    takes: float | None
    n_windows: int
    n_takes: int

    def describe(self) -> str:
        if self.windows is None:
            return "n/a (the base model knows none of these gestures)"
        return (f"{self.takes:.0%} of {self.n_takes} held-out takes, "
                f"{self.windows:.0%} of {self.n_windows} windows")


@dataclass(frozen=True)
class FinetuneResult:
    """What a fine-tuning run produced and measured."""

    path: Path
    class_names: tuple[str, ...]
    before: HeldOutScore
    after: HeldOutScore
    seconds: float
    train_takes: int
    held_out: tuple[str, ...]
    simulated: bool


def _split_index(net: TCJANet, blocks: int) -> int:
    """Index in ``net.conv`` just after the ``blocks``-th block's pooling (0: nothing frozen)."""
    pools = [i for i, m in enumerate(net.conv) if any(isinstance(c, nn.MaxPool2d) for c in m.modules())]
    return 0 if blocks <= 0 else pools[blocks - 1] + 1


def adapt_head(net: TCJANet, cfg: NetConfig, base_names: tuple[str, ...],
               names: tuple[str, ...]) -> tuple[TCJANet, NetConfig]:
    """The same network for gesture set ``names``: a new voting head unless the set is the base's.

    Rows of gestures the base knows by name are copied; the others start fresh.
    """
    if tuple(names) == tuple(base_names):
        return net, cfg
    new_cfg = replace(cfg, n_classes=len(names))
    torch.manual_seed(0)
    new = build_network(new_cfg)
    state = net.state_dict()
    head = new.state_dict()[HEAD_KEY].clone()
    old = state[HEAD_KEY].view(cfg.n_classes, cfg.voting, -1)
    for k, n in enumerate(names):
        if n in base_names:
            head.view(len(names), cfg.voting, -1)[k] = old[base_names.index(n)]
    state[HEAD_KEY] = head
    new.load_state_dict(state)
    return new, new_cfg


def take_windows(take: Take, window_us: int, hop_us: int) -> list[np.ndarray]:
    """Live-length windows across a take every ``hop_us`` (the whole take when shorter)."""
    t = take.events["timestamp"]
    t0, t1 = int(t[0]), int(t[-1]) + 1
    if t1 - t0 <= window_us:
        return [take.events]
    starts = np.arange(t0, t1 - window_us + 1, hop_us)
    bounds = np.searchsorted(t, np.stack([starts, starts + window_us], 1))
    return [take.events[a:b] for a, b in bounds]


class _Frames:
    """Events in sensor coordinates -> model frames, the app's geometry and binning."""

    def __init__(self, sensor: tuple[int, int], cfg: NetConfig, split_by: str,
                 device: torch.device = torch.device("cpu")) -> None:
        self.h, self.w = cfg.input_size
        self.geometry = Geometry(sensor[0], sensor[1], self.w)
        self.T, self.split_by, self.device = cfg.T, split_by, device

    def __call__(self, windows: list[np.ndarray]) -> torch.Tensor:
        out = np.empty((self.T, len(windows), 2, self.h, self.w), dtype=np.float32)
        for b, ev in enumerate(windows):
            events_to_frames(self.geometry.apply(ev), self.T, self.h, self.w, self.split_by, out=out[:, b])
        return torch.from_numpy(out).to(self.device)


@torch.no_grad()
def held_out_score(net: TCJANet, takes: list[Take], to_frames: _Frames, window_us: int, hop_us: int,
                   columns: list[int] | None = None) -> HeldOutScore:
    """Accuracy on ``takes`` per window and per take; ``columns`` maps each gesture to a rate column (-1: none)."""
    net.eval()
    if columns is not None and all(c < 0 for c in columns):
        return HeldOutScore(None, None, 0, len(takes))
    right_w = total_w = right_t = 0
    for take in takes:
        windows = take_windows(take, window_us, hop_us)
        rates = torch.cat([net(to_frames(windows[i:i + PREFIX_CHUNK]))
                           for i in range(0, len(windows), PREFIX_CHUNK)]).float().cpu().numpy()
        if columns is not None:  # the base model's rates of the gestures it knows; the others can't win
            known = np.asarray(columns, dtype=int)
            rates = np.where(known[None] >= 0, rates[:, np.maximum(known, 0)], -1.0)
        pred = rates.argmax(1)
        right_w += int((pred == take.class_index).sum())
        total_w += len(pred)
        right_t += int(rates.mean(0).argmax() == take.class_index)
    return HeldOutScore(right_w / max(total_w, 1), right_t / max(len(takes), 1), total_w, len(takes))


def _crops(takes: list[Take], n: int, window: TrainWindow, augment: Augment, sensor: tuple[int, int],
           rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    windows, labels = [], []
    for take in takes:
        for _ in range(n):
            ev = window.cut(take.events, rng)
            windows.append(augment(ev, sensor[0], sensor[1], rng))
            labels.append(take.class_index)
    return windows, np.asarray(labels, dtype=np.int64)


def _prefix(net: TCJANet, split: int, x: torch.Tensor) -> torch.Tensor:
    functional.reset_net(net)
    for m in list(net.conv)[:split]:
        x = m(x)
    return x


def _tail(net: TCJANet, split: int, h: torch.Tensor) -> torch.Tensor:
    functional.reset_net(net)
    for m in list(net.conv)[split:]:
        h = m(h)
    rates = net.fc(h).mean(0)
    return rates.view(rates.shape[0], net.cfg.n_classes, net.cfg.voting).mean(2)


def default_name(takes: TakeSet, base: str) -> str:
    return f"{takes.folder.resolve().name}-{base}"


def finetune(data_dir: str | Path, base: str | Path | None = None, *, name: str | None = None,
             out_dir: str | Path | None = None, settings: FinetuneSettings = FinetuneSettings(),
             progress: Progress | None = None, command: str = "", device: str | None = "cpu") -> FinetuneResult:
    """Fine-tune ``base`` (a shipped name or a checkpoint path) on the takes in ``data_dir``; see the module doc.

    ``device``: "cpu" (default), "cuda", or None for CUDA when available.
    """
    t_start = time.perf_counter()
    dev = choose_device(device)
    say = progress or (lambda f, m: None)
    takes = load_takes(data_dir)
    train, held = split_takes(takes, settings.seed)
    base_path = resolve_model(base)
    net, cfg, meta = load_checkpoint(base_path, map_location=dev)
    base_names = meta.class_names
    names = takes.class_names
    columns = [base_names.index(n) if n in base_names else -1 for n in names]
    out_dir = Path(out_dir) if out_dir else user_models_dir()
    name = name or default_name(takes, base_path.stem)
    out = out_dir / f"{name}.pt"
    if out.resolve().parent == WEIGHTS_DIR.resolve():
        raise CheckpointError(f"{out}: fine-tuned models are not written into the shipped model/weights; "
                              f"choose another --out")
    win = meta.windowing
    to_frames = _Frames(takes.manifest.sensor, cfg, win.split_by, dev)
    say(0.02, f"{len(takes.takes)} takes of {len(names)} gestures; holding out {', '.join(t.name for t in held)}")
    before = held_out_score(net, held, to_frames, win.window_us, settings.eval_hop_us, columns)
    say(0.08, f"before: {before.describe()}")

    net, cfg = adapt_head(net.cpu(), cfg, base_names, names)
    net = net.to(dev)
    freeze = settings.freeze_blocks if settings.freeze_blocks is not None else cfg.n_blocks - 1
    split = _split_index(net, freeze)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    window = TrainWindow(win.window_us, win.split_by)
    windows, labels = _crops(train, settings.crops_per_take, window, settings.augment, takes.manifest.sensor, rng)
    frozen = list(net.conv)[:split]
    for m in frozen:
        m.eval()
        for p in m.parameters():
            p.requires_grad_(False)
    cache = []
    with torch.no_grad():
        for i in range(0, len(windows), PREFIX_CHUNK):
            h = _prefix(net, split, to_frames(windows[i:i + PREFIX_CHUNK]))
            cache.append(h.to(torch.uint8) if bool(((h == 0) | (h == 1)).all()) else h.half())
            done = min(len(windows), i + PREFIX_CHUNK)
            say(0.08 + 0.22 * done / len(windows), f"preparing training windows ({done} of {len(windows)})")
    feats = torch.cat(cache, 1)  # [T, N, C, H, W]
    y = torch.from_numpy(labels).to(dev)
    trainable = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=settings.lr)
    n = feats.shape[1]
    steps = settings.epochs * math.ceil(n / settings.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    tail = [m for m in list(net.conv)[split:]] + [net.fc]
    for epoch in range(settings.epochs):
        for m in tail:
            m.train()
        perm = torch.randperm(n, device=dev)
        loss_sum = 0.0
        for i in range(0, n, settings.batch_size):
            idx = perm[i:i + settings.batch_size]
            rates = _tail(net, split, feats[:, idx].float())
            loss = F.mse_loss(rates, F.one_hot(y[idx], cfg.n_classes).float())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
        say(0.3 + 0.6 * (epoch + 1) / settings.epochs, f"epoch {epoch + 1}/{settings.epochs}: loss {loss_sum / n:.4f}")
    for p in net.parameters():
        p.requires_grad_(True)
    after = held_out_score(net, held, to_frames, win.window_us, settings.eval_hop_us)
    seconds = time.perf_counter() - t_start
    say(0.97, f"after: {after.describe()}")

    simulated = takes.manifest.simulated
    what = "SIMULATED takes" if simulated else "takes"
    trained_on = (f"fine-tuned on {len(train)} {what} of {len(names)} gestures ({takes.folder.resolve()}) "
                  f"from {base_path.stem} (trained on {meta.trained_on})")
    protocol = ("one take per gesture held out (random, seed {}); windows of {} ms every {} ms across each take; "
                "take = mean rates of its windows; before = base model{}").format(
        settings.seed, win.window_us // 1000, settings.eval_hop_us // 1000,
        "" if tuple(names) == tuple(base_names) else " restricted to the gestures it knows by name")
    accuracies = {}
    for tag, score in (("before", before), ("after", after)):
        if score.windows is not None:
            accuracies[f"heldout_takes_{tag}"] = score.takes
            accuracies[f"heldout_windows_{tag}"] = score.windows
    notes = {"base_model": str(base_path.stem), "base_path": str(base_path.resolve()),
             "base_trained_on": meta.trained_on, "data_dir": str(takes.folder.resolve()),
             "camera": takes.manifest.camera, "simulated_takes": simulated, "protocol": protocol,
             "held_out": [t.name for t in held], "train_takes": len(train),
             "recipe": {"epochs": settings.epochs, "crops_per_take": settings.crops_per_take,
                        "frozen_blocks": freeze, "lr": settings.lr, "batch": settings.batch_size,
                        "loss": "mse(voted rates, one-hot)", "augment": settings.augment.to_meta()},
             "time_s": round(seconds, 1), "machine": f"{platform.node()}: " + (
                 torch.cuda.get_device_name(dev) if dev.type == "cuda" else
                 f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)") + f", torch {torch.__version__}"}
    save_checkpoint(out, net, cfg, CheckpointMeta(names, win, trained_on, accuracies, command,
                                                  notes=json.dumps(notes)))
    say(1.0, f"saved {out}")
    return FinetuneResult(out, names, before, after, seconds, len(train), tuple(t.name for t in held), simulated)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m model.finetune", description=__doc__.splitlines()[0])
    add_arguments(p)
    return p.parse_args(argv)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``finetune`` (shared with ``main.py finetune``)."""
    p.add_argument("data_dir", type=Path, help="a teach folder (main.py teach)")
    p.add_argument("--from", dest="base", default=None, help="shipped model name or checkpoint path (default: the shipped default)")
    p.add_argument("--epochs", type=int, default=FinetuneSettings.epochs,
                   help="passes over the training windows (default: %(default)s)")
    p.add_argument("--crops", type=int, default=FinetuneSettings.crops_per_take,
                   help="random windows cut from each training take, shifted and scaled a little (default: %(default)s)")
    p.add_argument("--name", default=None, help="checkpoint name (default: <folder>-<base>)")
    p.add_argument("--out", type=Path, default=None, help=f"folder for the checkpoint (default: {user_models_dir()})")
    p.add_argument("--freeze", type=int, default=None, help="frozen conv blocks (default: all but the last)")
    p.add_argument("--seed", type=int, default=0,
                   help="picks the held-out take of each gesture and the random windows (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default: 1; on a busy 2-core CPU, 2 threads cost 3.6x the CPU time)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")


def chance_warning(res: FinetuneResult) -> str:
    """A line when the held-out takes came out no better than guessing ("" otherwise)."""
    after, n = res.after, len(res.class_names)
    if after.takes is None or n < 2 or after.takes > 1.0 / n + 1e-9:
        return ""
    return (f"warning: held-out takes at chance ({after.takes:.0%}, guessing gives {1 / n:.0%}): the model did not "
            "learn these gestures; record more takes, or make the gestures more distinct")


def run(args: argparse.Namespace, command: str) -> FinetuneResult:
    """Fine-tune as ``args`` say, printing progress and the before/after accuracy."""
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = FinetuneSettings(epochs=args.epochs, crops_per_take=args.crops, freeze_blocks=args.freeze,
                                seed=args.seed)
    res = finetune(args.data_dir, args.base, name=args.name, out_dir=args.out, settings=settings,
                   progress=lambda f, m: print(f"[{f:4.0%}] {m}", flush=True), command=command, device=args.device)
    sim = " (fine-tuned on SIMULATED takes)" if res.simulated else ""
    print(f"held-out accuracy before: {res.before.describe()}")
    print(f"held-out accuracy after:  {res.after.describe()}")
    if chance_warning(res):
        print(chance_warning(res))
    print(f"{res.path}{sim}: {len(res.class_names)} gestures, {res.train_takes} training takes, {res.seconds:.0f} s")
    return res


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        run(args, "python -m model.finetune " + shlex.join(argv))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

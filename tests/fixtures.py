"""Test fixtures shared by several test files: a labelled synthetic recording and tiny checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from eventcore.events import make_events
from eventcore.labels import CLASS_NAMES, LabelTimeline

ROOT = Path(__file__).resolve().parents[1]
DURATION_US = 3_000_000
TRUTH = 3  # right_arm_clockwise, labelled from 0.5 s to 2.5 s


def rotating_bar(duration_us: int = DURATION_US, rate: float = 120_000, seed: int = 0) -> np.ndarray:
    """A bar turning once a second about the sensor centre: ON events ahead of it, OFF behind."""
    rng = np.random.default_rng(seed)
    n = int(rate * duration_us / 1e6)
    t = np.sort(rng.integers(0, duration_us, n))
    r = rng.uniform(8, 56, n)
    off = rng.normal(0, 0.08, n)
    angle = 2 * np.pi * t / 1e6 + off
    x = np.clip(64 + r * np.cos(angle), 0, 127).astype(np.int16)
    y = np.clip(64 + r * np.sin(angle), 0, 127).astype(np.int16)
    return make_events(t, x, y, (off > 0).astype(np.int8))


def write_recording(path: Path) -> Path:
    from app.sources.recorder import write_aedat4

    write_aedat4(path, rotating_bar(), 128, 128)
    LabelTimeline(np.array([500_000]), np.array([2_500_000]), np.array([TRUTH])).to_csv(
        path.with_name(path.stem + "_labels.csv"))
    return path


def tiny_config(name: str, tcja_blocks: tuple[int, ...]):
    """A small event network (fast on a busy 2-core CPU), 64x64 input as small64."""
    from model.networks import NetConfig

    return NetConfig(name=name, T=8, in_channels=2, input_size=(64, 64), channels=(8, 8, 8),
                     tcja_blocks=tcja_blocks, tcja_k_t=2, tcja_k_c=2, head_hidden=32)


def write_checkpoint(path: Path, cfg, seed: int, trained_on: str, in_channels: int = 2, fc_scale: float = 6.0,
                     windowing=None) -> Path:
    """Random weights, scaled so spikes reach the head and the TCJA gates vary."""
    from model.checkpoint import CheckpointMeta, Windowing, save_checkpoint
    from model.networks import build_network
    from model.tcja import TCJA

    torch.manual_seed(seed)
    net = build_network(cfg)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.fill_(4.0)
            m.bias.data.fill_(0.8)
        if isinstance(m, TCJA):
            for p in m.parameters():
                p.data *= 20
    for p in net.fc.parameters():
        p.data *= fc_scale
    windowing = windowing or Windowing(300_000, 100_000, "number", cfg.input_size, "center_crop_scale")
    names = CLASS_NAMES[: cfg.n_classes]
    save_checkpoint(path, net, cfg, CheckpointMeta(names, windowing, trained_on))
    return path

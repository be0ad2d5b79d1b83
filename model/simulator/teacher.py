"""Run the NeuroBench DVS Gesture CSNN (trained on real recordings) as a judge of realism.

The weights are read at run time from ``../shared/data/teacher/`` and never stored in the
project. Network: three [conv 5x5 "same" -> maxpool 2 -> LIF] stages (2->16->32->64 on
32x32 input), then linear 1024->11 -> LIF. LIF per step:

    reset = mem_prev > thr;  mem = beta * mem_prev + x - reset * thr;  spike = mem > thr

Input: events denoised (an event is kept when one of its 4 neighbours fired within the
previous 10 ms), coordinates // 4, frames [T, 2, 32, 32] of about 40 ms (channel 0 OFF,
1 ON), one frame per step; prediction = class with the most output spikes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from eventcore.events import make_events
from eventcore.frames import events_to_frames

TEACHER_PATH = Path(__file__).resolve().parents[3] / "shared" / "data" / "teacher" / "neurobench_dvs_gesture_csnn.pt"
FRAME_US = 40_000


def denoise(events: np.ndarray, filter_us: int = 10_000, size: int = 128) -> np.ndarray:
    """Events that have an event at a 4-neighbour pixel within the previous ``filter_us`` (tonic's Denoise)."""
    if len(events) == 0:
        return events
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    t = events["timestamp"].astype(np.int64)
    span = int(t.max() - t.min()) + 1
    key = (y * size + x) * span + (t - t.min())
    order = np.argsort(key, kind="stable")
    skey = key[order]
    keep = np.zeros(len(events), dtype=bool)
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        nx, ny = x + dx, y + dy
        inside = (nx >= 0) & (nx < size) & (ny >= 0) & (ny < size)
        nkey = (ny * size + nx) * span + (t - t.min())
        i = np.searchsorted(skey, nkey, side="right") - 1
        ok = i >= 0
        prev = skey[np.clip(i, 0, None)]
        same_pixel = prev // span == ny * size + nx
        keep |= inside & ok & same_pixel & ((t - t.min()) - prev % span < filter_us)
    return events[keep]


def to_frames(events: np.ndarray, frame_us: int = FRAME_US, factor: int = 4, size: int = 128) -> np.ndarray:
    """Event counts [T, 2, size//factor, size//factor] in T equal frames of about ``frame_us``."""
    s = size // factor
    span = int(events["timestamp"][-1] - events["timestamp"][0]) if len(events) else 0
    small = make_events(events["timestamp"], events["x"] // factor, events["y"] // factor, events["polarity"])
    return events_to_frames(small, max(1, round(span / frame_us)), s, s, split_by="time")


class Teacher(nn.Module):
    """The NeuroBench CSNN, rebuilt from its plain state_dict."""

    def __init__(self, state: dict[str, torch.Tensor]):
        super().__init__()
        self.conv = nn.ModuleList(nn.Conv2d(i, o, 5, padding=2) for i, o in ((2, 16), (16, 32), (32, 64)))
        self.linear1 = nn.Linear(1024, 11)
        for k, conv in enumerate(self.conv, 1):
            conv.weight.data.copy_(state[f"conv{k}.weight"])
            conv.bias.data.copy_(state[f"conv{k}.bias"])
        self.linear1.weight.data.copy_(state["linear1.weight"])
        self.linear1.bias.data.copy_(state["linear1.bias"])
        self.beta = [float(state[f"lif{k}.beta"]) for k in range(1, 5)]
        self.thr = [float(state[f"lif{k}.threshold"]) for k in range(1, 5)]

    @classmethod
    def load(cls, path: str | Path = TEACHER_PATH) -> "Teacher":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"teacher weights not found: {path}")
        return cls(torch.load(path, map_location="cpu", weights_only=True)).eval()

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Output spike counts [N, 11] of frames [T, N, 2, 32, 32]."""
        mem = [None] * 4
        counts = 0
        for x in frames:
            for k in range(4):
                x = torch.max_pool2d(self.conv[k](x), 2) if k < 3 else self.linear1(x.flatten(1))
                m = torch.zeros_like(x) if mem[k] is None else mem[k]
                reset = (m > self.thr[k]).float()
                mem[k] = self.beta[k] * m + x - reset * self.thr[k]
                x = (mem[k] > self.thr[k]).float()
            counts = counts + x
        return counts


def teacher_frames(events: np.ndarray) -> np.ndarray:
    """The teacher's input for one recording: denoised, downscaled, binned [T, 2, 32, 32]."""
    return to_frames(denoise(events))


def predict(teacher: Teacher, samples: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class [N], -1 where no output neuron spiked; spike counts [N, 11]) of equal-duration recordings."""
    frames = [teacher_frames(e) for e in samples]
    T = max(f.shape[0] for f in frames)
    batch = np.zeros((T, len(frames), 2, 32, 32), dtype=np.float32)
    for i, f in enumerate(frames):
        batch[: len(f), i] = f
    counts = teacher(torch.from_numpy(batch)).numpy()
    return np.where(counts.max(1) > 0, counts.argmax(1), -1), counts

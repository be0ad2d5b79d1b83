"""Labelled event samples -> model input frames, with the app's own windowing and binning.

Each item is cut exactly like a live window (``TrainWindow``), optionally augmented
(``CameraAugment``), mapped to the model's input size with the app's ``Geometry`` and binned
with the app's ``events_to_frames``, so the network trains on what it will see at run time.
Training items draw a random window inside the sample; evaluation items take the centred one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from eventcore.frames import events_to_frames
from eventcore.geometry import Geometry
from model.datasets.augment import CameraAugment
from model.datasets.shards import load_sample


@dataclass(frozen=True)
class TrainWindow:
    """How a sample becomes one model input: ``window_us=None`` = the whole sample (the paper's protocol).

    Otherwise a window of ``window_us`` (the live window length), binned into T frames by
    ``split_by`` like every live window.
    """

    window_us: int | None
    split_by: str = "number"

    def __post_init__(self) -> None:
        if self.split_by not in ("number", "time"):
            raise ValueError(f"split_by must be 'number' or 'time', got {self.split_by!r}")
        if self.window_us is not None and self.window_us <= 0:
            raise ValueError(f"window_us must be positive, got {self.window_us}")

    def describe(self, T: int) -> str:
        span = "the whole sample" if self.window_us is None else f"one {self.window_us / 1000:g} ms window"
        return f"{span} split into T={T} frames by {self.split_by}"

    def cut(self, events: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """The window: random position when ``rng`` is given, else centred (a view, no copy)."""
        if self.window_us is None or len(events) == 0:
            return events
        t = events["timestamp"]
        t0, t1 = int(t[0]), int(t[-1])
        room = t1 - t0 - self.window_us
        if room <= 0:
            return events
        start = t0 + (int(rng.integers(0, room + 1)) if rng is not None else room // 2)
        a, b = np.searchsorted(t, [start, start + self.window_us], side="left")
        return events[a:b]


class EventSamples(Dataset):
    """Items ``(frames [T, 2, H, W] float32, label)``; samples are shard paths or event arrays.

    ``labels`` holds one class index per sample (-1 = idle); ``sensor`` is the (width, height)
    the sample coordinates refer to.
    """

    def __init__(
        self,
        samples: Sequence[Path | np.ndarray],
        labels: Sequence[int],
        sensor: tuple[int, int],
        T: int,
        input_size: tuple[int, int],
        window: TrainWindow,
        train: bool,
        augment: CameraAugment | None = None,
    ) -> None:
        if len(samples) != len(labels):
            raise ValueError(f"{len(samples)} samples but {len(labels)} labels")
        self.samples = list(samples)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.sensor = (int(sensor[0]), int(sensor[1]))
        self.T, self.input_size = int(T), (int(input_size[0]), int(input_size[1]))
        self.window, self.train, self.augment = window, train, augment
        h, w = self.input_size
        if h != w:
            raise ValueError(f"event models take square inputs, got {self.input_size}")
        self.geometry = None if self.sensor == (w, h) else Geometry(self.sensor[0], self.sensor[1], w)

    def __len__(self) -> int:
        return len(self.samples)

    def events(self, i: int) -> np.ndarray:
        s = self.samples[i]
        return load_sample(s)[0] if isinstance(s, (str, Path)) else s

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        # A per-item seed from torch's RNG: fresh every epoch, in workers (seeded per epoch by
        # the DataLoader) and in the main process alike, and reproducible under manual_seed.
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ()))) if self.train else None
        ev = self.window.cut(self.events(i), rng)
        if self.augment is not None and rng is not None:
            ev = self.augment(ev, self.sensor[0], self.sensor[1], rng)
        if self.geometry is not None:
            ev = self.geometry.apply(ev)
        h, w = self.input_size
        frames = events_to_frames(ev, self.T, h, w, split_by=self.window.split_by)
        return torch.from_numpy(frames), int(self.labels[i])

    def durations_us(self, limit: int = 200) -> np.ndarray:
        """Durations of (up to ``limit`` evenly spread) samples, for the live window of whole-sample models."""
        idx = np.linspace(0, len(self) - 1, min(limit, len(self))).astype(int) if len(self) else []
        out = []
        for i in idx:
            t = self.events(int(i))["timestamp"]
            out.append(int(t[-1] - t[0]) if len(t) else 0)
        return np.asarray(out, dtype=np.int64)

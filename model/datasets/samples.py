"""Labelled event samples -> model input frames, with the app's own windowing and binning.

Each item goes through the same :class:`eventcore.transforms.InputChain` as a live window
(cut, optional ``Augment`` chain in sensor coordinates, geometry, frames), so the network
trains on what it will see at run time.
Training items draw a random window (of a random length when ``min_window_us`` is set, so that
the network also names a gesture from its first fraction of a second) inside the sample;
evaluation items take the centred window of ``window_us``. A clip saved with ``onset_us`` (a
gesture as it begins in a session, ``model.simulator.onsets``) is cut to end between
``ONSET_MIN_US`` after the gesture's start and the clip's end, so the network learns to name
a gesture from its first moves with the idle scene before them in the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from eventcore.transforms import CutWindow, input_chain
from model.datasets.augment import Augment
from model.datasets.shards import load_onset, load_sample

ONSET_MIN_US = 100_000  # an onset clip's training window ends at least this long after the gesture starts


@dataclass(frozen=True)
class TrainWindow:
    """How a sample becomes one model input: ``window_us=None`` = the whole sample (the paper's protocol).

    Otherwise a window of ``window_us`` (the live window length), binned into T frames by
    ``split_by`` like every live window.
    """

    window_us: int | None
    split_by: str = "number"
    min_window_us: int | None = None  # training windows' length uniform in [min_window_us, window_us]

    def __post_init__(self) -> None:
        if self.split_by not in ("number", "time"):
            raise ValueError(f"split_by must be 'number' or 'time', got {self.split_by!r}")
        if self.window_us is not None and self.window_us <= 0:
            raise ValueError(f"window_us must be positive, got {self.window_us}")
        if self.min_window_us is not None and not (self.window_us and 0 < self.min_window_us <= self.window_us):
            raise ValueError(f"min_window_us must be in (0, window_us], got {self.min_window_us} with {self.window_us}")

    def describe(self, T: int) -> str:
        if self.window_us is None:
            span = "the whole sample"
        elif self.min_window_us:
            span = f"one window of {self.min_window_us / 1000:g}-{self.window_us / 1000:g} ms"
        else:
            span = f"one {self.window_us / 1000:g} ms window"
        return f"{span} split into T={T} frames by {self.split_by}"

    def length_us(self, rng: np.random.Generator | None) -> int | None:
        """A training window's length (random in the range with an ``rng``), else ``window_us``."""
        if rng is None or not self.min_window_us:
            return self.window_us
        return int(rng.integers(self.min_window_us, self.window_us + 1))

    def cut(self, events: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """The window: random position and length when ``rng`` is given, else centred (a view, no copy)."""
        return CutWindow(self.length_us(rng))(events, rng)


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
        augment: Augment | None = None,
    ) -> None:
        if len(samples) != len(labels):
            raise ValueError(f"{len(samples)} samples but {len(labels)} labels")
        self.samples = list(samples)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.sensor = (int(sensor[0]), int(sensor[1]))
        self.T, self.input_size = int(T), (int(input_size[0]), int(input_size[1]))
        self.window, self.train, self.augment = window, train, augment
        self._onsets: dict[int, int | None] = {}
        self.chain = input_chain(self.sensor[0], self.sensor[1], self.T, self.input_size, window.split_by,
                                 window.window_us)

    def __len__(self) -> int:
        return len(self.samples)

    def events(self, i: int) -> np.ndarray:
        s = self.samples[i]
        return load_sample(s)[0] if isinstance(s, (str, Path)) else s

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        # A per-item seed from torch's RNG: fresh every epoch, in workers (seeded per epoch by
        # the DataLoader) and in the main process alike, and reproducible under manual_seed.
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ()))) if self.train else None
        ev, length = self.events(i), self.window.length_us(rng)
        end = self.window_end(i, ev, rng)
        if self.augment is not None and rng is not None:
            # Cut enough source time for the chain (a faster tempo compresses it), then augment.
            span = None if length is None else int(length * self.augment.span_factor)
            ev = self.augment(CutWindow(span)(ev, rng, end), self.sensor[0], self.sensor[1], rng)
            end = None if end is None or not len(ev) else int(ev["timestamp"][-1]) + 1
        ev = self.chain.geometry(CutWindow(length)(ev, rng, end))
        return torch.from_numpy(self.chain.frames(ev)), int(self.labels[i])

    def onset_us(self, i: int) -> int | None:
        """Sample ``i``'s gesture start when it is an onset clip, else None (read once per shard)."""
        s = self.samples[i]
        if not isinstance(s, (str, Path)):
            return None
        if i not in self._onsets:
            self._onsets[i] = load_onset(s)
        return self._onsets[i]

    def window_end(self, i: int, events: np.ndarray, rng: np.random.Generator | None) -> int | None:
        """Where an onset clip's window ends: random from ``ONSET_MIN_US`` after its start to its end
        (training), or half a second after the start (evaluation); None for other samples."""
        onset = self.onset_us(i)
        if onset is None or not len(events):
            return None
        last = int(events["timestamp"][-1]) + 1
        lo = min(onset + ONSET_MIN_US, last)
        return int(rng.integers(lo, last + 1)) if rng is not None else min(onset + 500_000, last)

    def durations_us(self, limit: int = 200) -> np.ndarray:
        """Durations of (up to ``limit`` evenly spread) samples, for the live window of whole-sample models."""
        idx = np.linspace(0, len(self) - 1, min(limit, len(self))).astype(int) if len(self) else []
        out = []
        for i in idx:
            t = self.events(int(i))["timestamp"]
            out.append(int(t[-1] - t[0]) if len(t) else 0)
        return np.asarray(out, dtype=np.int64)

"""The second judge of realism: the SynSense Speck DVS Gesture network (sinabs examples),
trained on real DVS128 Gesture recordings, run in plain torch as the chip runs it.

The weights are read at run time from ``../shared/data/teacher/`` and never stored in the
project. Never tune the simulator on this network: it is the held-out check that realism
found with the NeuroBench teacher (``teacher.py``) is real and not one network's quirk.

Network (state_dict keys; no biases; each layer followed by an integrate-and-fire neuron):
``0`` conv 2->16 k2 s2; ``2`` conv 16->16 3x3; then [2x2 sum-pool, conv 3x3] four times
(``5`` 16->32, ``8`` 32->32, ``11`` 32->64, ``14`` 64->64); 2x2 sum-pool, ``18`` conv
64->256 k2 (1x1 output); ``22`` linear 256->128; ``24`` linear 128->11. Weights after a
sum-pool are divided by 4 (trained after average pools). Each layer is quantised as on the
chip: ``k = 127 / max(w)`` (``128 / |min(w)|`` when the negative side is larger),
``w <- round(w k)``, ``thr = round(k)``, ``v_min = round(-k)``. Neuron (multi-spike,
subtract reset): ``v += x; s = floor(max(v, 0) / thr); v -= s thr; v = max(v, v_min)``.

Input: one spike per event on channel ``polarity`` (0 OFF, 1 ON) at ``[y, x]`` of the
128x128 plane, summed over 5 ms steps; prediction = class with the most output spikes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SPECK_PATH = Path(__file__).resolve().parents[3] / "shared" / "data" / "teacher" / "sinabs_speck_dvs_gesture.pt"
STEP_US = 5_000
_CONVS = (("0", 2, 0, False), ("2", 1, 1, False), ("5", 1, 1, True), ("8", 1, 1, True),
          ("11", 1, 1, True), ("14", 1, 1, True), ("18", 1, 0, True))  # key, stride, padding, pool before


def _quantise(w: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    hi, lo = float(w.max()), float(-w.min())
    k = 127.0 / hi if hi >= lo else 128.0 / lo
    return torch.round(w * k), float(round(k)), float(round(-k))


class Speck:
    """The quantised Speck network; ``forward`` takes spike frames [T, N, 2, 128, 128]."""

    def __init__(self, state: dict[str, torch.Tensor]):
        self.layers = []
        for key, stride, pad, pooled in _CONVS:
            w = state[f"{key}.weight"].float() / (4.0 if pooled else 1.0)
            q, thr, vmin = _quantise(w)
            self.layers.append(("conv", q, stride, pad, pooled, thr, vmin))
        for key in ("22", "24"):
            q, thr, vmin = _quantise(state[f"{key}.weight"].float())
            self.layers.append(("linear", q, 1, 0, False, thr, vmin))

    @classmethod
    def load(cls, path: str | Path = SPECK_PATH) -> "Speck":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Speck judge weights not found: {path}")
        return cls(torch.load(path, map_location="cpu", weights_only=True))

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Output spike counts [N, 11] of input spike frames [T, N, 2, 128, 128]."""
        v = [None] * len(self.layers)
        counts = 0
        for x in frames:
            for i, (kind, w, stride, pad, pooled, thr, vmin) in enumerate(self.layers):
                if kind == "conv":
                    if pooled:
                        x = F.avg_pool2d(x, 2) * 4.0  # sum pool
                    x = F.conv2d(x, w, stride=stride, padding=pad)
                else:
                    x = F.linear(x.flatten(1), w)
                m = x if v[i] is None else v[i] + x
                s = torch.floor(torch.clamp(m, min=0) / thr)
                v[i] = torch.clamp(m - s * thr, min=vmin)
                x = s
            counts = counts + x
        return counts

    __call__ = forward


def speck_frames(events: np.ndarray, t0: int | None = None, n_steps: int | None = None,
                 size: int = 128) -> np.ndarray:
    """Event counts [T, 2, size, size] (channel = polarity) in ``STEP_US`` steps."""
    t = events["timestamp"].astype(np.int64)
    t0 = int(t[0]) if t0 is None and len(t) else (t0 or 0)
    if n_steps is None:
        n_steps = max(1, int((int(t[-1]) - t0) // STEP_US) + 1) if len(t) else 1
    k = (t - t0) // STEP_US
    ok = (k >= 0) & (k < n_steps)
    idx = ((k[ok] * 2 + events["polarity"][ok].astype(np.int64)) * size + events["y"][ok]) * size + events["x"][ok]
    out = np.bincount(idx, minlength=n_steps * 2 * size * size).astype(np.float32)
    return out.reshape(n_steps, 2, size, size)


def predict(judge: Speck, samples: list[np.ndarray], batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class [N], -1 where no output neuron spiked; output spike counts [N, 11]) of recordings
    (each from its first event)."""
    out = []
    for s in range(0, len(samples), batch):
        part = samples[s: s + batch]
        frames = [speck_frames(e) for e in part]
        T = max(f.shape[0] for f in frames)
        x = np.zeros((T, len(frames), 2, 128, 128), dtype=np.float32)
        for i, f in enumerate(frames):
            x[: len(f), i] = f
        out.append(judge(torch.from_numpy(x)).numpy())
    counts = np.concatenate(out) if out else np.zeros((0, 11), np.float32)
    return np.where(counts.max(1) > 0, counts.argmax(1), -1), counts

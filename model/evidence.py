"""Where the evidence for a class lies in the input: a class activation map of a TCJA-SNN.

The head ``Flatten - Linear(W1) - LIF - Linear(W2) - LIF - vote`` is linearised (its LIFs
taken as the identity), so class k's rate grows with ``sum W_k * f`` where
``W_k = mean over k's voting neurons of W2 @ W1`` (``[C, H_L/2, W_L/2]``) and ``f`` are the
last block's pooled spikes averaged over T. Each pooled cell's weight is spread over the
cell's pre-pooling positions, weighted by their own spike rates (``features``), summed over
channels and clipped at 0: the class activation map at the last block's resolution
(8x8 for small64). It is then upsampled (bilinear) to the first block's spike map and
multiplied by it (smoothed 3x3, so a lone noisy pixel does not light up), so the coarse
evidence lands on the pixels where the network fires.

On simulated hand waves (``tests/test_attention.py``) 96-99 % of the coarse map lies on the
waving arm's half of the image, and 78-90 % of the fine map on the forearm and hand (10-14 %
of the image).

Example::

    weights = head_weights(net)                       # once per model
    ev = class_evidence(features, weights, k, maps[0])  # per window, [H, W] in 0..1
"""

from __future__ import annotations

import numpy as np
from torch import nn


def head_weights(net: nn.Module) -> np.ndarray:
    """The linearised head of a TCJANet: ``[n_classes, C, H_f, W_f]`` weights on its pooled features."""
    cfg = net.cfg
    linears = [m for m in net.fc.modules() if isinstance(m, nn.Linear)]
    if len(linears) != 2:
        raise ValueError(f"{cfg.name}: expected a two-layer head, found {len(linears)} linear layers")
    w1 = linears[0].weight.detach().float().cpu().numpy()  # [hidden, C * H_f * W_f]
    w2 = linears[1].weight.detach().float().cpu().numpy()  # [voting * classes, hidden]
    per_class = w2.reshape(cfg.n_classes, cfg.voting, -1).mean(1)
    return (per_class @ w1).reshape(cfg.n_classes, cfg.channels[-1], *cfg.feature_size).astype(np.float32)


def _resize_matrix(n_out: int, n_in: int) -> np.ndarray:
    """``[n_out, n_in]`` bilinear (half-pixel centres, edges clamped) interpolation matrix."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (pos - lo).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


def coarse_evidence(features: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Class ``k``'s activation map ``[H_L, W_L]`` (>= 0) from the last block's features ``[C, H_L, W_L]``."""
    w = weights[k]
    fy, fx = features.shape[1] // w.shape[1], features.shape[2] // w.shape[2]
    w = np.repeat(np.repeat(w, fy, axis=1), fx, axis=2)
    h, wd = w.shape[1:]
    cam = np.einsum("chw,chw->hw", w, features[:, :h, :wd])
    return np.maximum(cam, 0.0)


def class_evidence(features: np.ndarray, weights: np.ndarray, k: int, fine: np.ndarray | None = None) -> np.ndarray:
    """Class ``k``'s evidence map in 0..1: the coarse map upsampled onto ``fine`` (a spike map) when given."""
    cam = coarse_evidence(features, weights, k)
    if fine is not None:
        cam = _resize_matrix(fine.shape[0], cam.shape[0]) @ cam @ _resize_matrix(fine.shape[1], cam.shape[1]).T
        cam = cam * _box3(fine)
    top = float(cam.max())
    return (cam / top if top > 0 else cam).astype(np.float32)


def _box3(m: np.ndarray) -> np.ndarray:
    """The 3x3 mean of a map (zero outside)."""
    p = np.pad(m.astype(np.float32), 1)
    h, w = m.shape
    return sum(p[i:i + h, j:j + w] for i in range(3) for j in range(3)) / np.float32(9)


def evidence_class(rates: np.ndarray, features: np.ndarray, weights: np.ndarray) -> int:
    """The class to explain: the highest rate, or when no class fires, the highest linearised score."""
    if float(rates.max()) > 0:
        return int(rates.argmax())
    return int(np.einsum("kchw,chw->k", weights, _pool(features, weights.shape[2:])).argmax())


def _pool(features: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Max-pool ``[C, H, W]`` features to ``size`` (the head's input grid)."""
    c, h, w = features.shape
    fy, fx = h // size[0], w // size[1]
    return features[:, :size[0] * fy, :size[1] * fx].reshape(c, size[0], fy, size[1], fx).max(axis=(2, 4))

"""Temporal-Channel Joint Attention (TCJA) block of Zhu et al., TNNLS 2024 (arXiv 2206.10177).

For spikes ``X`` of shape ``[T, N, C, H, W]`` the block computes

    Z   = mean_{H,W} X                          -> [N, T, C]
    TLA = Conv1d_time(Z)     C -> C channels, kernel K_T, "same" zero padding, no bias
    CLA = Conv1d_channel(Z)  T -> T channels, kernel K_C, "same" zero padding, no bias
    F   = sigmoid(TLA * CLA)                    -> [N, T, C]  (one full T x C gate per sample)
    Y   = X * F[..., None, None]

It has ``K_C * T**2 + K_T * C**2`` parameters. Attribute names follow the official code
(ridgerchu/TCJA ``src/layers.py``): ``conv`` is the T-channel conv (CLA), ``conv_c`` the
C-channel conv (TLA), so an official ``state_dict`` loads unchanged.

Example::

    >>> blk = TCJA(T=20, channels=128, k_t=4, k_c=4)
    >>> y = blk(torch.rand(20, 2, 128, 8, 8).round())     # [T, N, C, H, W] -> same shape
    >>> blk.record_gate = True; _ = blk(y); blk.last_gate.shape
    torch.Size([2, 20, 128])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def same_padding(kernel_size: int) -> tuple[int, int]:
    """(left, right) zero padding PyTorch's ``padding='same'`` uses: k=4 gives (1, 2)."""
    total = kernel_size - 1
    return total // 2, total - total // 2


class TCJA(nn.Module):
    """TCJA attention on multi-step spikes ``[T, N, C, H, W]``; T is fixed by the weights.

    Set ``record_gate = True`` to keep the last gate ``F`` (detached, ``[N, T, C]``) in
    ``last_gate``; off by default so training pays nothing for it.
    """

    def __init__(self, T: int, channels: int, k_t: int = 4, k_c: int = 4) -> None:
        super().__init__()
        self.T, self.channels, self.k_t, self.k_c = T, channels, k_t, k_c
        self.conv = nn.Conv1d(T, T, kernel_size=k_c, bias=False)
        self.conv_c = nn.Conv1d(channels, channels, kernel_size=k_t, bias=False)
        self._pad_c = same_padding(k_c)
        self._pad_t = same_padding(k_t)
        self.record_gate = False
        self.last_gate: torch.Tensor | None = None

    def extra_repr(self) -> str:
        return f"T={self.T}, channels={self.channels}, k_t={self.k_t}, k_c={self.k_c}"

    def gate(self, x_seq: torch.Tensor) -> torch.Tensor:
        """The gate ``F = sigmoid(TLA(Z) * CLA(Z))`` for ``x_seq`` ``[T, N, C, H, W]``, as ``[N, T, C]``."""
        if x_seq.dim() != 5:
            raise ValueError(f"TCJA expects [T, N, C, H, W] input, got shape {list(x_seq.shape)}")
        T, _, C = x_seq.shape[:3]
        if T != self.T or C != self.channels:
            raise ValueError(
                f"TCJA block was built for T={self.T}, C={self.channels} (its weights are "
                f"Conv1d({self.T}, {self.T}) and Conv1d({self.channels}, {self.channels})) "
                f"but the input has T={T}, C={C}"
            )
        z = x_seq.mean(dim=(3, 4)).transpose(0, 1)  # [N, T, C]
        cla = self.conv(F.pad(z, self._pad_c))  # along C, T as channels
        tla = self.conv_c(F.pad(z.transpose(1, 2), self._pad_t)).transpose(1, 2)  # along T, C as channels
        return torch.sigmoid(tla * cla)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        gate = self.gate(x_seq)
        if self.record_gate:
            self.last_gate = gate.detach()
        return x_seq * gate.transpose(0, 1)[..., None, None]

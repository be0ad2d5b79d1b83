"""TCJA-SNN networks built from named configurations.

Every network is ``{Conv3x3 - BN - LIF - [TCJA] - MaxPool2} x blocks`` followed by the head
``Flatten - Dropout - Linear(no bias) - LIF - Dropout - Linear(no bias, voting*classes) - LIF``;
the output spikes are averaged over T and then over each group of ``voting`` neurons:

    rate_k = 1/(T*V) * sum_t sum_{j<V} s_t[k*V + j]      in [0, 1], k < n_classes

Input ``[T, N, in_channels, H, W]`` (spikingjelly multi-step layout), output ``[N, n_classes]``.
Module layout and parameter names copy ridgerchu/TCJA ``src/dvs128.py`` (``CextNet``): a
``conv`` Sequential holding, per block, ``SeqToANNContainer(Conv2d, BatchNorm2d)``, ``LIFNode``,
``[TCJA]``, ``SeqToANNContainer(MaxPool2d)``, and an ``fc`` Sequential (``fc.2.0`` and ``fc.5.0``
are the Linear layers); so the official ``torch.load(ckpt)['net']`` loads into "dvs128_paper".

Configurations (``CONFIGS``):

- ``dvs128_paper``: the paper's DVS128 Gesture network, 128x128, T=20, 5 x 128 channels, TCJA
  (K_T=K_C=4) in blocks 4-5, head 2048-512-110, 1,832,576 parameters. Eager CPU latency
  (2-core AMD EPYC, batch 1, 2 threads): 0.50 s median per window, too slow for live use there.
- ``small64``: the live configuration, 64x64 input (a DVS128 sensor scaled by 1/2), T=16,
  4 x 64 channels, TCJA in blocks 3-4, head 1024-256-110, 437,376 parameters. Candidates
  measured on that machine when otherwise idle (batch 1, eager, 2 threads;
  ``python -m benchmarks.inference_latency --candidates``):

  ========================  =======  =========  ======
  candidate                  params  median ms  p95 ms
  ========================  =======  =========  ======
  4 x 48 ch, T=16            252,512       17.0    17.4
  4 x 64 ch, T=16 (chosen)   437,376       22.6    23.4
  4 x 64 ch, T=20            438,528       29.1    30.9
  4 x 96 ch, T=16            959,168       34.2    34.9
  5 x 64 ch, T=16            277,760       23.1    24.2
  ========================  =======  =========  ======

  64 channels at T=16 leaves three quarters of a 100 ms hop to the source, binning and GUI
  threads that share the two cores (under load from other processes it measured about
  45 ms); T=20 costs 29 % more, 96 channels 50 % more; a fifth block saves parameters but
  no time and leaves only a 2x2 map for the head.
- ``fmnist_paper``: Fashion-MNIST (static 28x28 image repeated over T=8 by the data code),
  PLIF-paper layout ``{Conv3x3(128)-BN-LIF-MaxPool2} x 2 - Dropout - FC 2048 - LIF - Dropout -
  FC 100 - LIF - vote(10)``; the paper does not say where its TCJA goes, so it sits after
  the second block's LIF, as in the DVS128 net where TCJA follows the last blocks.
- ``nmnist``: N-MNIST, 34x34 two-polarity frames, T=10, 3 x 64 channels, TCJA in blocks 2-3,
  head 1024-256-100: small enough to train on a CPU as a smoke test of the training code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from torch import nn

from model.tcja import TCJA


@dataclass(frozen=True)
class NetConfig:
    """Architecture of a TCJA-SNN; everything needed to rebuild it (stored in checkpoints).

    ``channels`` holds one entry per conv block; ``tcja_blocks`` are 0-based block indices
    whose LIF output is gated by a TCJA(T, channels[i], tcja_k_t, tcja_k_c).
    """

    name: str
    T: int
    in_channels: int
    input_size: tuple[int, int]
    channels: tuple[int, ...]
    tcja_blocks: tuple[int, ...]
    tcja_k_t: int = 4
    tcja_k_c: int = 4
    conv_kernel: int = 3
    head_hidden: int = 512
    voting: int = 10
    n_classes: int = 11
    dropout: float = 0.5

    def __post_init__(self) -> None:
        for key in ("input_size", "channels", "tcja_blocks"):
            object.__setattr__(self, key, tuple(int(v) for v in getattr(self, key)))
        ints = ("T", "in_channels", "tcja_k_t", "tcja_k_c", "conv_kernel", "head_hidden", "voting", "n_classes")
        for key in ints:
            object.__setattr__(self, key, int(getattr(self, key)))
        object.__setattr__(self, "dropout", float(self.dropout))
        bad = [k for k in ints if getattr(self, k) < 1]
        if bad:
            raise ValueError(f"NetConfig {self.name!r}: {bad} must be >= 1")
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f"NetConfig {self.name!r}: channels must be positive, got {self.channels}")
        if len(self.input_size) != 2:
            raise ValueError(f"NetConfig {self.name!r}: input_size must be (H, W), got {self.input_size}")
        if self.conv_kernel % 2 == 0:
            raise ValueError(f"NetConfig {self.name!r}: conv_kernel must be odd, got {self.conv_kernel}")
        if any(not 0 <= b < len(self.channels) for b in self.tcja_blocks):
            raise ValueError(
                f"NetConfig {self.name!r}: tcja_blocks {self.tcja_blocks} outside 0..{len(self.channels) - 1}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"NetConfig {self.name!r}: dropout must be in [0, 1), got {self.dropout}")
        if min(self.feature_size) < 1:
            raise ValueError(
                f"NetConfig {self.name!r}: {len(self.channels)} pooling blocks shrink {self.input_size} to nothing"
            )

    @property
    def n_blocks(self) -> int:
        return len(self.channels)

    @property
    def feature_size(self) -> tuple[int, int]:
        """Spatial size after the last block (each block halves, flooring)."""
        h, w = self.input_size
        return h >> self.n_blocks, w >> self.n_blocks

    @property
    def map_sizes(self) -> tuple[tuple[int, int], ...]:
        """Spatial size of each block's LIF output (the spike-rate maps)."""
        h, w = self.input_size
        return tuple((h >> i, w >> i) for i in range(self.n_blocks))

    def to_dict(self) -> dict:
        """Plain dict of ints/floats/str/lists (safe for ``torch.load(weights_only=True)``)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "NetConfig":
        """Inverse of :meth:`to_dict`; ValueError on unknown or missing fields."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown NetConfig fields {unknown}")
        try:
            return cls(**d)
        except TypeError as err:
            raise ValueError(f"incomplete NetConfig: {err}") from None


@dataclass(frozen=True)
class NetOutput:
    """What the GUI needs from one forward pass (all detached except ``rates``).

    ``rates`` [N, n_classes]; ``spike_maps[i]`` [N, H_i, W_i]: block i's LIF output averaged
    over T and channels; ``gates[j]`` [N, T, C]: the TCJA gate of ``cfg.tcja_blocks[j]``;
    ``features`` [N, C, H_L, W_L]: the last block's (gated) spikes before its pooling, averaged
    over T, from which :mod:`model.evidence` maps the class evidence.
    """

    rates: torch.Tensor
    spike_maps: tuple[torch.Tensor, ...]
    gates: tuple[torch.Tensor, ...]
    features: torch.Tensor | None = None


def lif() -> neuron.LIFNode:
    """The paper's multi-step LIF neuron: tau 2, threshold 1, hard reset to 0, ATan surrogate."""
    return neuron.LIFNode(
        tau=2.0,
        v_threshold=1.0,
        v_reset=0.0,
        surrogate_function=surrogate.ATan(),
        detach_reset=True,
        step_mode="m",
    )


class TCJANet(nn.Module):
    """A TCJA-SNN built from a :class:`NetConfig`; input ``[T, N, C, H, W]``, output rates ``[N, classes]``.

    Neuron states are reset at the start of every forward, so calls are independent.

    Example::

        >>> net = build_network(CONFIGS["small64"]).eval()
        >>> net(torch.zeros(16, 1, 2, 64, 64)).shape
        torch.Size([1, 11])
    """

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        k = cfg.conv_kernel
        conv: list[nn.Module] = []
        c_in = cfg.in_channels
        for i, c in enumerate(cfg.channels):
            conv.append(
                layer.SeqToANNContainer(
                    nn.Conv2d(c_in, c, kernel_size=k, padding=k // 2, bias=False),
                    nn.BatchNorm2d(c),
                )
            )
            conv.append(lif())
            if i in cfg.tcja_blocks:
                conv.append(TCJA(cfg.T, c, k_t=cfg.tcja_k_t, k_c=cfg.tcja_k_c))
            conv.append(layer.SeqToANNContainer(nn.MaxPool2d(2, 2)))
            c_in = c
        self.conv = nn.Sequential(*conv)
        fh, fw = cfg.feature_size
        self.fc = nn.Sequential(
            nn.Flatten(2),
            layer.Dropout(cfg.dropout, step_mode="m"),
            layer.SeqToANNContainer(nn.Linear(c_in * fh * fw, cfg.head_hidden, bias=False)),
            lif(),
            layer.Dropout(cfg.dropout, step_mode="m"),
            layer.SeqToANNContainer(nn.Linear(cfg.head_hidden, cfg.voting * cfg.n_classes, bias=False)),
            lif(),
        )

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.cfg
        expected = (cfg.T, cfg.in_channels, *cfg.input_size)
        if x.dim() != 5 or (x.shape[0], *x.shape[2:]) != expected:
            raise ValueError(
                f"network {cfg.name!r} expects input [T={cfg.T}, N, {cfg.in_channels}, "
                f"{cfg.input_size[0]}, {cfg.input_size[1]}], got {list(x.shape)}"
            )

    def _vote(self, spikes: torch.Tensor) -> torch.Tensor:
        rates = spikes.mean(0)
        return rates.view(rates.shape[0], self.cfg.n_classes, self.cfg.voting).mean(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        functional.reset_net(self)
        return self._vote(self.fc(self.conv(x)))

    def forward_with_maps(self, x: torch.Tensor) -> NetOutput:
        """Forward that also returns per-block spike-rate maps, the TCJA gates and the last block's features."""
        self._check_input(x)
        functional.reset_net(self)
        tcjas = [m for m in self.conv if isinstance(m, TCJA)]
        maps: list[torch.Tensor] = []
        for m in tcjas:
            m.record_gate = True
        last = len(self.conv) - 1  # the last block's pooling
        try:
            h = x
            for i, m in enumerate(self.conv):
                if i == last:
                    features = h.detach().mean(0)
                h = m(h)
                if isinstance(m, neuron.LIFNode):
                    maps.append(h.detach().mean(dim=(0, 2)))
            rates = self._vote(self.fc(h))
            gates = tuple(m.last_gate for m in tcjas)
        finally:
            for m in tcjas:
                m.record_gate = False
                m.last_gate = None
        return NetOutput(rates=rates, spike_maps=tuple(maps), gates=gates, features=features)


def build_network(cfg: NetConfig) -> TCJANet:
    """A freshly initialised network for ``cfg`` (training mode, CPU, float32)."""
    return TCJANet(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


CONFIGS: dict[str, NetConfig] = {
    cfg.name: cfg
    for cfg in (
        NetConfig(
            name="dvs128_paper",
            T=20,
            in_channels=2,
            input_size=(128, 128),
            channels=(128,) * 5,
            tcja_blocks=(3, 4),
            head_hidden=512,
        ),
        NetConfig(
            name="small64",
            T=16,
            in_channels=2,
            input_size=(64, 64),
            channels=(64,) * 4,
            tcja_blocks=(2, 3),
            head_hidden=256,
        ),
        NetConfig(
            name="fmnist_paper",
            T=8,
            in_channels=1,
            input_size=(28, 28),
            channels=(128, 128),
            tcja_blocks=(1,),
            head_hidden=2048,
            n_classes=10,
        ),
        NetConfig(
            name="nmnist",
            T=10,
            in_channels=2,
            input_size=(34, 34),
            channels=(64,) * 3,
            tcja_blocks=(1, 2),
            head_hidden=256,
            n_classes=10,
        ),
    )
}

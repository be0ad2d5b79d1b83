"""ONNX export of a TCJA-SNN, with a plain-torch LIF, cached once per checkpoint file.

spikingjelly 2.0's ``LIFNode`` runs a custom op (``sj_lif::forward``) that
``torch.onnx.export`` rejects. :class:`PlainLIF` computes the same multi-step LIF with
ordinary tensor ops (spikingjelly's torch reference: decay input, hard reset)::

    h_t = v + (x_t - (v - v_reset)) / tau;   s_t = [h_t - v_threshold >= 0];   v = v_reset if s_t else h_t

:class:`ExportNet` copies a :class:`~model.networks.TCJANet` with every LIF swapped and
returns, in one graph for one window (batch 1: the app classifies one window at a time;
a runner loops for more), what the GUI draws besides the rates::

    input  "frames"  [T, 1, C, H, W] float32
    output "rates"   [1, n_classes]
           "gate_j"  [1, T, C_j]     one per TCJA block (cfg.tcja_blocks order)
           "map_i"   [1, H_i, W_i]   one per conv block: its LIF spikes averaged over T and channels
           "features" [1, C, H_L, W_L] the last block's (gated) spikes before its pooling, averaged over T

The same names and shapes as :meth:`TCJANet.forward_with_maps` (``NetOutput``).

Example::

    path = cached_onnx("model/weights/small64.pt")   # exported on the first call, then reused
"""

from __future__ import annotations

import copy
import hashlib
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import layer, neuron
from torch import nn

from model.checkpoint import load_checkpoint
from model.networks import TCJANet
from model.tcja import TCJA

OPSET = 17
# Bump when the exported graph changes (names, outputs, LIF formula): old cache files are then ignored.
EXPORT_VERSION = 2
APP_NAME = "tcja-gesture"


class PlainLIF(nn.Module):
    """spikingjelly's multi-step LIF (decay_input, hard reset) in ordinary torch ops, for export.

    Time is axis 0 of the input (``[T, ...]``); each step keeps the rank (a ``[1, ...]`` slice), so a
    runtime can keep its blocked convolution layout through the neuron.
    """

    def __init__(self, tau: float, v_threshold: float, v_reset: float) -> None:
        super().__init__()
        self.tau, self.v_threshold, self.v_reset = float(tau), float(v_threshold), float(v_reset)

    @classmethod
    def from_node(cls, node: neuron.LIFNode) -> "PlainLIF":
        """Copy a LIFNode's constants; refuse variants whose formula differs (soft reset, no input decay)."""
        if node.v_reset is None or not getattr(node, "decay_input", True):
            raise NotImplementedError("only hard-reset LIF neurons with decay_input=True can be exported")
        if getattr(node, "step_mode", "m") != "m":
            raise NotImplementedError("only multi-step LIF neurons can be exported")
        return cls(node.tau, node.v_threshold, node.v_reset)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        spikes = []
        v: torch.Tensor | None = None  # None: still the initial v_reset
        for x in x_seq.split(1, 0):
            if self.v_reset == 0.0:  # v - 0 == v exactly, and the first step is 0 + (x - 0) / tau == x / tau
                h = x / self.tau if v is None else v + (x - v) / self.tau
            else:
                v0 = torch.full_like(x, self.v_reset) if v is None else v
                h = v0 + (x - (v0 - self.v_reset)) / self.tau
            fire = h >= self.v_threshold  # == (h - v_threshold >= 0) in IEEE arithmetic
            spikes.append(fire.to(x.dtype))
            v = torch.where(fire, self.v_reset, h)
        return torch.cat(spikes)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, v_threshold={self.v_threshold}, v_reset={self.v_reset}"


def _tcja_gate(m: TCJA, z: torch.Tensor) -> torch.Tensor:
    """TCJA's gate from its squeezed input ``z`` [N, T, C], the same ops as :meth:`TCJA.gate`."""
    cla = m.conv(F.pad(z, m._pad_c))
    tla = m.conv_c(F.pad(z.transpose(1, 2), m._pad_t)).transpose(1, 2)
    return torch.sigmoid(tla * cla)


def _unwrap(m: nn.Module) -> list[nn.Module]:
    """The per-frame layers of a spikingjelly container (dropout dropped: the identity in eval)."""
    if isinstance(m, layer.SeqToANNContainer):
        return list(m)
    if isinstance(m, layer.Dropout):
        return []
    return [m]


class ExportNet(nn.Module):
    """A TCJANet for one window, plain-torch LIFs, forward returning (rates, *gates, *maps, features).

    The sequence stays a 4-D ``[T, C, H, W]`` tensor (time as the batch axis of every
    convolution), which avoids layout conversions between 5-D and 4-D tensors in the runtimes.
    """

    def __init__(self, net: TCJANet) -> None:
        super().__init__()
        self.cfg = net.cfg
        net = copy.deepcopy(net).float().cpu().eval()

        def convert(seq: nn.Sequential) -> nn.ModuleList:
            out = nn.ModuleList()
            for m in seq:
                if isinstance(m, neuron.LIFNode):
                    out.append(PlainLIF.from_node(m))
                elif isinstance(m, TCJA | nn.Flatten):
                    out.append(m)
                else:
                    for inner in _unwrap(m):
                        if isinstance(inner, layer.SeqToANNContainer | layer.Dropout | neuron.BaseNode):
                            raise NotImplementedError(f"cannot export nested {type(inner).__name__}")
                        out.append(inner)
            return out

        self.conv = convert(net.conv)
        self.fc = convert(net.fc)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        T = self.cfg.T
        gates: list[torch.Tensor] = []
        maps: list[torch.Tensor] = []
        h = x.flatten(0, 1)  # [T, 1, C, H, W] -> [T, C, H, W]
        last = len(self.conv) - 1  # the last block's pooling
        for i, m in enumerate(self.conv):
            if i == last:
                features = h.mean(0).unsqueeze(0)
            if isinstance(m, TCJA):
                gate = _tcja_gate(m, h.mean(dim=(2, 3)).unsqueeze(0))  # [1, T, C]
                gates.append(gate)
                h = h * gate[0, :, :, None, None]
            else:
                h = m(h)
            if isinstance(m, PlainLIF):  # sums of 0/1 spikes are exact in any order: equal to mean over (T, C)
                maps.append((h.sum(dim=(0, 1)) / float(h.shape[0] * h.shape[1])).unsqueeze(0))
        for m in self.fc:
            h = h.reshape(T, -1) if isinstance(m, nn.Flatten) else m(h)
        rates = h.mean(0).reshape(1, self.cfg.n_classes, self.cfg.voting).mean(2)
        return (rates, *gates, *maps, features)


def output_names(cfg) -> list[str]:
    """Names of the exported graph's outputs, in order: rates, gate_j..., map_i..., features."""
    return (["rates"] + [f"gate_{j}" for j in range(len(cfg.tcja_blocks))] + [f"map_{i}" for i in range(cfg.n_blocks)]
            + ["features"])


def export_onnx(net: TCJANet, path: str | Path, opset: int = OPSET) -> Path:
    """Write ``net`` (eval, float32) as ONNX for one window (batch 1) to ``path``, atomically."""
    cfg = net.cfg
    wrapper = ExportNet(net)
    dummy = torch.zeros(cfg.T, 1, cfg.in_channels, *cfg.input_size)
    names = output_names(cfg)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python ints from shapes (T is fixed by design)
            torch.onnx.export(wrapper, (dummy,), tmp, input_names=["frames"], output_names=names,
                              opset_version=opset, do_constant_folding=True, dynamo=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def cache_dir() -> Path:
    """Where exported graphs live: ``$XDG_CACHE_HOME/tcja-gesture`` (default ``~/.cache/tcja-gesture``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / APP_NAME


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), the cache key of its export."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cached_path(checkpoint: str | Path, root: str | Path | None = None) -> Path:
    """The cache file for ``checkpoint``'s export (it may not exist yet)."""
    key = file_hash(checkpoint)[:32]
    return Path(root or cache_dir()) / "onnx" / f"{key}-v{EXPORT_VERSION}-opset{OPSET}.onnx"


def cached_onnx(checkpoint: str | Path, root: str | Path | None = None) -> Path:
    """The ONNX file of a checkpoint, exported on the first call and reused while the file is unchanged."""
    path = cached_path(checkpoint, root)
    if not path.is_file():
        net, _, _ = load_checkpoint(checkpoint, map_location="cpu")
        export_onnx(net, path)
    return path


def cached_onnx_in_child(checkpoint: str | Path, root: str | Path | None = None, timeout_s: float = 600.0) -> Path:
    """:func:`cached_onnx` run in a child process, for callers that must not export in their own threads.

    A process that ends while a thread of its own is inside the exporter may crash on the way
    out; a child finishes (or dies) on its own and leaves the cache whole (atomic rename).
    RuntimeError with the child's last line when it fails.
    """
    path = cached_path(checkpoint, root)
    if path.is_file():
        return path
    project = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [project, os.environ.get("PYTHONPATH")]))}
    code = "import sys; from model.export import cached_onnx; cached_onnx(sys.argv[1], sys.argv[2] or None)"
    r = subprocess.run([sys.executable, "-c", code, str(checkpoint), str(root or "")], capture_output=True,
                       text=True, env=env, timeout=timeout_s)
    if r.returncode != 0 or not path.is_file():
        last = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
        raise RuntimeError(f"ONNX export of {checkpoint} failed: {last[:200]}")
    return path

"""Inference backends with one interface: frames in; rates, TCJA gates and spike-rate maps out.

Besides the rates, every backend returns the TCJA gates, the per-block spike-rate maps and the
last block's features (the input of the class evidence map, :mod:`model.evidence`).

- ``torch``: the spikingjelly network itself (eager; the GPU when the engine runs on one);
- ``onnxruntime`` and ``openvino``: the checkpoint exported once to ONNX with a plain-torch
  LIF (:mod:`model.export`, cached by the checkpoint's hash) and run on the CPU. Both give
  the torch model's classes, rates and spike maps exactly, gates within 3e-7
  (``tests/test_export.py``).

OpenVINO is pinned to float32 (``INFERENCE_PRECISION_HINT=f32``): on CPUs with bfloat16
units (as the development machine's AMD EPYC) it otherwise computes in bfloat16 and spikes
near the threshold change.

Example::

    runner = make_runner("openvino", "model/weights/small64.pt")
    out = runner.run(frames)            # frames [T, N, 2, H, W] float32
    out.rates[0].argmax(), out.gates[0].shape, out.spike_maps[0].shape
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BACKENDS = ("torch", "onnxruntime", "openvino")
# Fastest first, from benchmarks/inference_latency.py on the 2-core AMD EPYC VM (README, Backends).
CPU_PREFERENCE = ("openvino", "onnxruntime", "torch")
_MODULE = {"torch": "torch", "onnxruntime": "onnxruntime", "openvino": "openvino"}
ENV_BACKEND = "TCJA_GESTURE_BACKEND"


@dataclass
class BackendOutput:
    """One batch's outputs as numpy: rates [N, K]; gates[j] [N, T, C_j]; spike_maps[i] [N, H_i, W_i];
    features [N, C, H_L, W_L] (the last block's, for the class evidence map)."""

    rates: np.ndarray
    gates: list[np.ndarray]
    spike_maps: list[np.ndarray]
    features: np.ndarray | None = None


class Runner(ABC):
    """Runs one network on batches of frames ``[T, N, C, H, W]`` float32."""

    name: str = "runner"

    @abstractmethod
    def run(self, frames: np.ndarray) -> BackendOutput:
        """Rates, gates and spike maps for every window of the batch."""

    def describe(self) -> str:
        """A short label for status lines and benchmark tables."""
        return self.name


def available_backends() -> list[str]:
    """The backends whose library is installed here, in :data:`BACKENDS` order."""
    return [b for b in BACKENDS if importlib.util.find_spec(_MODULE[b]) is not None]


def default_backend(device: str = "cpu") -> str:
    """The fastest installed backend for ``device``: torch on a GPU, else by :data:`CPU_PREFERENCE`.

    ``$TCJA_GESTURE_BACKEND`` (a backend name) overrides the CPU choice, e.g. "torch" for test runs.
    """
    if not str(device).startswith("cpu"):
        return "torch"
    found = available_backends()
    wanted = os.environ.get(ENV_BACKEND, "").strip()
    if wanted:
        return check_backend(wanted)
    return next(b for b in CPU_PREFERENCE if b in found)


def check_backend(name: str) -> str:
    """``name`` if it is a known, installed backend; else ValueError saying which are."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")
    if name not in available_backends():
        raise ValueError(f"backend {name!r} is not installed here (pip install {name}); installed: "
                         f"{', '.join(available_backends())}")
    return name


def default_threads() -> int:
    """Worker threads for the ONNX backends: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _split(outputs: list[np.ndarray], names: list[str]) -> BackendOutput:
    """Sort the graph's outputs by name (rates, gate_j, map_i, features: see :mod:`model.export`)."""
    by = dict(zip(names, outputs))
    pick = lambda prefix: [by[f"{prefix}_{i}"] for i in range(sum(n.startswith(prefix + "_") for n in names))]  # noqa: E731
    return BackendOutput(by["rates"], pick("gate"), pick("map"), by.get("features"))


def _per_window(run_one, frames: np.ndarray, names: list[str]) -> BackendOutput:
    """Run a batch-1 graph on each window of ``frames`` and stack the outputs along the batch axis."""
    if frames.ndim != 5:
        raise ValueError(f"frames must be [T, N, C, H, W], got shape {list(frames.shape)}")
    frames = np.asarray(frames, dtype=np.float32)
    outs = [run_one(np.ascontiguousarray(frames[:, i:i + 1])) for i in range(frames.shape[1])]
    return _split([np.concatenate(parts) for parts in zip(*outs)], names)


class TorchRunner(Runner):
    """The spikingjelly network, eager, on the model's device."""

    name = "torch"

    def __init__(self, model) -> None:
        import torch

        self._torch = torch
        self.model = model.eval()
        self.device = next(model.parameters()).device

    def run(self, frames: np.ndarray) -> BackendOutput:
        torch = self._torch
        with torch.inference_mode():
            out = self.model.forward_with_maps(torch.from_numpy(np.asarray(frames, np.float32)).to(self.device))
        as_np = lambda t: t.float().cpu().numpy()  # noqa: E731
        return BackendOutput(as_np(out.rates), [as_np(g) for g in out.gates], [as_np(m) for m in out.spike_maps],
                             as_np(out.features))


class OnnxRuntimeRunner(Runner):
    """An exported graph in ONNX Runtime's CPU provider (all graph optimisations, no spinning threads)."""

    name = "onnxruntime"

    def __init__(self, onnx_path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # spinning workers would take CPU from the source and GUI threads between windows
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0].name
        self._names = [o.name for o in self.session.get_outputs()]

    def run(self, frames: np.ndarray) -> BackendOutput:
        return _per_window(lambda x: self.session.run(None, {self._input: x}), frames, self._names)


def _output_name(names: set[str]) -> str:
    """The graph's own name for an output (rates, gate_j, map_i, features) among the names a runtime gives it.

    OpenVINO may also name an output after the node computing it (``/ReduceMean_2_output_0``),
    and picks either as "any name" (it did for ``features`` on a freshly compiled graph).
    """
    own = sorted(n for n in names if re.fullmatch(r"rates|gate_\d+|map_\d+|features", n))
    return own[0] if own else sorted(names)[0]


class OpenVinoRunner(Runner):
    """An exported graph compiled by OpenVINO for the CPU: float32, latency hint, compiled-model cache."""

    name = "openvino"

    def __init__(self, onnx_path: str | Path, threads: int | None = None,
                 cache_dir: str | Path | None = None) -> None:
        import openvino as ov

        core = ov.Core()
        if cache_dir is not None:
            core.set_property({"CACHE_DIR": str(cache_dir)})
        config = {
            "INFERENCE_PRECISION_HINT": "f32",
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": int(threads or default_threads()),
        }
        self.compiled = core.compile_model(str(onnx_path), "CPU", config)
        self._request = self.compiled.create_infer_request()
        self._outputs = list(self.compiled.outputs)
        self._names = [_output_name(o.get_names()) for o in self._outputs]
        self._lock = threading.Lock()  # one infer request: one window at a time

    def _one(self, x: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            res = self._request.infer({0: x})
            return [np.array(res[o]) for o in self._outputs]

    def run(self, frames: np.ndarray) -> BackendOutput:
        return _per_window(self._one, frames, self._names)


def make_runner(backend: str, checkpoint: str | Path, model=None, threads: int | None = None,
                cache_root: str | Path | None = None) -> Runner:
    """A runner for a checkpoint file; ``model`` (its loaded network) serves the torch backend.

    The ONNX backends export the checkpoint on first use and reuse the cached graph afterwards.
    """
    check_backend(backend)
    if backend == "torch":
        if model is None:
            from model.checkpoint import load_checkpoint

            model = load_checkpoint(checkpoint, map_location="cpu")[0]
        return TorchRunner(model)
    from model.export import cache_dir, cached_onnx

    path = cached_onnx(checkpoint, cache_root)
    if backend == "onnxruntime":
        return OnnxRuntimeRunner(path, threads)
    return OpenVinoRunner(path, threads, cache_dir=Path(cache_root or cache_dir()) / "openvino")

"""The inference engine: windows of events in, class rates, TCJA gates and spike maps out.

Everything it needs (network, T, input size, windowing, class names) comes from the
checkpoint. Neuron state is reset on every window (the network's forward does it), since
TCJA mixes all T steps of a window and cannot run frame by frame.

Example::

    engine = InferenceEngine.from_checkpoint("small64")
    result = engine.infer([window_events])[0]
    print(engine.class_names[result.rates.argmax()])
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from app.backends import Runner, check_backend, default_backend, make_runner
from eventcore.errors import CheckpointError, SettingsError
from eventcore.settings import WindowSettings
from eventcore.transforms import InputChain, ToFrames, input_chain
from model.checkpoint import load_checkpoint
from model.evidence import class_evidence, evidence_class, head_weights
from model.device import choose_device, device_name
from model.zoo import resolve_model


class SpikeMaps(list):
    """One window's spike-rate maps [H, W] per block, carrying the window's class evidence map.

    ``evidence`` ([H, W] in 0..1, the first block's grid, :mod:`model.evidence`) explains class
    ``evidence_class``; both ride on the maps' list so that everything handing the maps on
    (the pipeline's predictions) hands them on too. None without a recording engine.
    """

    def __init__(self, maps=(), evidence: np.ndarray | None = None, evidence_class: int | None = None) -> None:
        super().__init__(maps)
        self.evidence = evidence
        self.evidence_class = evidence_class


@dataclass
class ModelResult:
    """One window's output: rates [n_classes]; gates [T, C] per TCJA block; maps [H, W] per block (+ evidence)."""

    rates: np.ndarray
    gates: list[np.ndarray]
    spike_maps: list[np.ndarray]

    @property
    def evidence(self) -> np.ndarray | None:
        """Where the evidence for :attr:`evidence_class` lies, [H, W] in 0..1 (None when not recorded)."""
        return getattr(self.spike_maps, "evidence", None)

    @property
    def evidence_class(self) -> int | None:
        return getattr(self.spike_maps, "evidence_class", None)


class InferenceEngine:
    """Runs a checkpointed TCJA-SNN on windows of events, on one device.

    ``record=True`` also returns the TCJA gates, per-block spike-rate maps and the class evidence
    map (for the GUI; computed here, in the inference thread, from the same forward pass).
    With ``compile=True`` a compiled copy is built in a background thread by
    :meth:`start_compile`; until it is ready (or if it fails) the eager model answers.
    ``backend`` (``app.backends``): "torch", or "onnxruntime" / "openvino" on the CPU (the
    checkpoint exported once to ONNX, exact); None picks the fastest one installed for the device
    when the engine comes from a checkpoint file, else torch.
    """

    def __init__(self, model: torch.nn.Module, cfg, meta: dict, device: torch.device | str | None = None,
                 record: bool = False, name: str = "model", backend: str | None = None,
                 checkpoint: str | Path | None = None) -> None:
        self.device = choose_device(device)
        self.cfg, self.meta, self.name, self.record = cfg, meta, name, record
        self.model = model.to(self.device).eval()
        self.half = self.device.type == "cuda"
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        win = meta.get("windowing", {})
        self.windowing = WindowSettings(int(win.get("window_us", 1_000_000)), int(win.get("hop_us", 100_000)))
        self.split_by = str(win.get("split_by", "number"))
        h, w = cfg.input_size
        self.to_frames = ToFrames(cfg.T, h, w, self.split_by)
        self.class_names = tuple(meta.get("class_names") or ())
        if len(self.class_names) != cfg.n_classes:
            raise CheckpointError(f"{name}: checkpoint names {len(self.class_names)} classes but the network has "
                                  f"{cfg.n_classes}")
        self.trained_on = str(meta.get("trained_on", "unknown"))
        self.head_weights = head_weights(self.model) if record else None
        self._fn = self._eager
        self.compile_state = "off"
        self._lock = threading.Lock()
        self.backend = _check_backend(backend, self.device, checkpoint)
        self.runner: Runner | None = None
        self.backend_state = "torch backend"
        if self.backend != "torch":
            self._start_runner(Path(checkpoint))

    @classmethod
    def from_checkpoint(cls, model: str | Path | None = None, device: str | None = None, record: bool = False,
                        backend: str | None = None) -> "InferenceEngine":
        """Load a shipped model by name, or a checkpoint file by path."""
        dev = choose_device(device)
        path = resolve_model(model)
        net, cfg, meta = load_checkpoint(path, map_location=dev)
        meta = meta.to_dict() if hasattr(meta, "to_dict") else meta
        return cls(net, cfg, meta, device=dev, record=record, name=Path(path).stem,
                   backend=backend or default_backend(dev.type), checkpoint=path)

    def _start_runner(self, checkpoint: Path) -> None:
        """Load the ONNX runner now when the checkpoint's export is cached, else export it in the background.

        Until it is ready (or if it fails) the torch model answers: the same answers, only slower.
        """

        backend = self.backend

        def load() -> None:
            try:
                cached_onnx_in_child(checkpoint)  # the export itself never runs in this process's threads
                runner = make_runner(backend, checkpoint, model=self.model)
            except Exception as err:  # an export or runtime failure: torch stays, and says so
                self._say(f"torch ({backend} failed: {type(err).__name__})")
                return
            if self.backend == backend:  # not switched to torch.compile meanwhile
                self.runner = runner
                self._say(f"{backend} backend")

        from model.export import cached_onnx_in_child, cached_path

        if cached_path(checkpoint).is_file():
            load()
        else:
            self._say(f"{self.backend} (exporting once; torch answers meanwhile)")
            threading.Thread(target=load, name="export", daemon=True).start()

    def _say(self, state: str) -> None:
        """Set ``backend_state``; an ONNX backend also shows it where the torch.compile state goes."""
        self.backend_state = self.compile_state = state

    @property
    def window_us(self) -> int:
        """The checkpoint's own window length (the default a session may override)."""
        return self.windowing.window_us

    @property
    def hop_us(self) -> int:
        return self.windowing.hop_us

    def input_chain(self, sensor_width: int, sensor_height: int, roi: tuple[int, int, int] | None = None,
                    split_by: str | None = None) -> InputChain:
        """The cut -> geometry -> frames chain from a sensor to this model (whole sample; live windows cut upstream)."""
        return input_chain(sensor_width, sensor_height, self.T, self.cfg.input_size, split_by or self.split_by,
                           None, roi)

    @property
    def T(self) -> int:
        return self.cfg.T

    @property
    def input_size(self) -> int:
        return int(self.cfg.input_size[0])

    @property
    def device_name(self) -> str:
        return device_name(self.device)

    def _eager(self, x: torch.Tensor):
        return self.model.forward_with_maps(x) if self.record else self.model(x)

    def infer(self, windows: list[np.ndarray], gains: list[float] | None = None) -> list[ModelResult]:
        """Classify a batch of windows (event arrays in model coordinates; ``gains``: each one's
        ``Geometry.count_gain`` where they were read through different squares)."""
        return self._run(torch.from_numpy(self.to_frames.batch(windows, gains)))

    def infer_frames(self, batch: np.ndarray) -> list[ModelResult]:
        """Classify ready-made frames [N, T, 2, H, W]."""
        return self._run(torch.from_numpy(batch).transpose(0, 1))

    def _run(self, x: torch.Tensor) -> list[ModelResult]:
        """Forward frames [T, N, 2, H, W] and split the outputs per window."""
        runner = self.runner
        if runner is not None:  # an ONNX backend: numpy in and out, no torch on the hot path
            out = runner.run(x.numpy())
            if not self.record:
                return [ModelResult(r, [], []) for r in out.rates]
            rates, gates, maps, feats = out.rates, out.gates, out.spike_maps, out.features
        else:
            x = x.to(self.device, non_blocking=True)
            with self._lock, torch.inference_mode(), torch.autocast(self.device.type, torch.float16, enabled=self.half):
                out = self._fn(x)
            if not self.record:
                return [ModelResult(r, [], []) for r in out.float().cpu().numpy()]
            as_np = lambda t: t.float().cpu().numpy()  # noqa: E731
            rates, gates, maps = as_np(out.rates), [as_np(g) for g in out.gates], [as_np(m) for m in out.spike_maps]
            feats = as_np(out.features)
        return [ModelResult(rates[i], [g[i] for g in gates], self._maps(rates[i], [m[i] for m in maps],
                                                              None if feats is None else feats[i]))
                for i in range(len(rates))]

    def _maps(self, rates: np.ndarray, maps: list[np.ndarray], features: np.ndarray | None) -> SpikeMaps:
        """One window's spike maps with its class evidence map (the most likely class's)."""
        if features is None:
            return SpikeMaps(maps)
        k = evidence_class(rates, features, self.head_weights)
        return SpikeMaps(maps, class_evidence(features, self.head_weights, k, maps[0]), k)

    def start_compile(self, on_done=None) -> threading.Thread:
        """Compile a copy of the model off the caller's thread; swap it in once warmed up.

        Falls back to (keeps) eager on any failure; ``compile_state`` says which. An engine on an
        ONNX backend switches to torch for it (asking for torch.compile is asking for torch).
        """
        if self.backend != "torch":
            self.backend, self.runner, self.backend_state = "torch", None, "torch backend"

        def work() -> None:
            self.compile_state = "compiling"
            try:
                twin = copy.deepcopy(self.model)
                fn = torch.compile(twin.forward_with_maps if self.record else twin)
                h, w = self.cfg.input_size
                dummy = torch.zeros(self.T, 1, self.cfg.in_channels, h, w, device=self.device)
                with torch.inference_mode(), torch.autocast(self.device.type, torch.float16, enabled=self.half):
                    fn(dummy)
                with self._lock:
                    self._fn = fn
                self.compile_state = "compiled"
            except Exception as err:  # any compiler failure: stay eager, say so
                self.compile_state = f"eager (compile failed: {type(err).__name__})"
            if on_done is not None:
                on_done(self.compile_state)

        t = threading.Thread(target=work, name="compile", daemon=True)
        t.start()
        return t


def _check_backend(backend: str | None, device: torch.device, checkpoint: str | Path | None) -> str:
    """The backend to use (None: torch); SettingsError (exit 2) for one that is unknown, missing or unusable here."""
    backend = backend or "torch"
    try:
        check_backend(backend)
    except ValueError as err:
        raise SettingsError(f"--backend {backend}: {err}") from None
    if backend != "torch" and device.type != "cpu":
        raise SettingsError(f"--backend {backend} runs on the CPU; use --device cpu, or --backend torch on {device}")
    if backend != "torch" and checkpoint is None:
        raise SettingsError(f"--backend {backend} needs the model's checkpoint file (it is exported from it once)")
    return backend

"""Checkpoint files that carry their own metadata (architecture, windowing, data, accuracies).

One ``torch.save`` of a plain dict, read back with ``torch.load(weights_only=True)`` so a
checkpoint cannot run code::

    {"format": "tcja-gesture-checkpoint", "version": 1,
     "config": NetConfig.to_dict(), "state_dict": {name: tensor}, "meta": CheckpointMeta.to_dict()}

Example::

    >>> save_checkpoint("model/weights/small64.pt", net, CONFIGS["small64"], meta)
    >>> net, cfg, meta = load_checkpoint("model/weights/small64.pt", map_location="cpu")
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import pickle
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from torch import nn

from eventcore.errors import CheckpointError, SettingsError
from eventcore.settings import MAX_INPUT_SIZE, MAX_T, WindowSettings
from model.networks import NetConfig, TCJANet, build_network

FORMAT = "tcja-gesture-checkpoint"
VERSION = 1
REPO_ROOT = Path(__file__).resolve().parents[1]
MAX_PARAMETERS = 500_000_000  # a declared network beyond this is a damaged file, not a model


@dataclass(frozen=True)
class Windowing:
    """How a window of events became the model input (training and live use must agree).

    ``split_by``: "number" (equal event count per frame, as the paper) or "time";
    ``geometry``: how a sensor is mapped to ``input_size`` (e.g. "native", "center_crop_scale").
    """

    window_us: int
    hop_us: int
    split_by: str
    input_size: tuple[int, int]
    geometry: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))
        if self.split_by not in ("number", "time"):
            raise ValueError(f"split_by must be 'number' or 'time', got {self.split_by!r}")
        if self.window_us <= 0 or self.hop_us <= 0 or len(self.input_size) != 2:
            raise ValueError(f"invalid windowing {self}")


@dataclass(frozen=True)
class CheckpointMeta:
    """Everything the app and a reader of the file need besides the weights.

    ``trained_on``: "simulated", "real" or a dataset description; ``accuracies``: name ->
    fraction in [0, 1] (say the protocol in the name, e.g. "dvs128_test_max").
    """

    class_names: tuple[str, ...]
    windowing: Windowing
    trained_on: str
    accuracies: dict[str, float] = field(default_factory=dict)
    command: str = ""
    date: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    notes: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        object.__setattr__(self, "accuracies", {str(k): float(v) for k, v in self.accuracies.items()})

    @property
    def window_settings(self) -> WindowSettings:
        """The live window and hop the model was trained for."""
        return WindowSettings(self.windowing.window_us, self.windowing.hop_us)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["class_names"] = list(self.class_names)
        d["windowing"]["input_size"] = list(self.windowing.input_size)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CheckpointMeta":
        """Inverse of :meth:`to_dict`; ValueError on unknown, missing or invalid fields."""
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown meta fields {unknown}")
        try:
            return cls(**{**d, "windowing": Windowing(**d["windowing"])})
        except (KeyError, TypeError) as err:
            raise ValueError(f"incomplete meta: {err}") from None


def _check_sizes(cfg: NetConfig, meta: CheckpointMeta) -> str | None:
    """Refuse declared sizes that would allocate absurd amounts of memory before building anything."""
    if not 1 <= cfg.T <= MAX_T:
        return f"T={cfg.T} outside 1..{MAX_T}"
    if not all(1 <= v <= MAX_INPUT_SIZE for v in cfg.input_size):
        return f"input size {list(cfg.input_size)} outside 1..{MAX_INPUT_SIZE}"
    try:
        meta.window_settings
    except SettingsError as err:
        return f"windowing: {err}"
    k2, widths = cfg.conv_kernel ** 2, (cfg.in_channels, *cfg.channels)
    fh, fw = cfg.feature_size
    params = sum(a * b * k2 for a, b in zip(widths, widths[1:]))
    params += fh * fw * cfg.channels[-1] * cfg.head_hidden + cfg.head_hidden * cfg.n_classes * cfg.voting
    if params > MAX_PARAMETERS:
        return f"declares about {params:,} parameters (more than {MAX_PARAMETERS:,})"
    return None


def _check_consistent(cfg: NetConfig, meta: CheckpointMeta) -> str | None:
    if len(meta.class_names) != cfg.n_classes:
        return f"{len(meta.class_names)} class names for a {cfg.n_classes}-class network"
    if meta.windowing.input_size != cfg.input_size:
        return f"windowing input_size {list(meta.windowing.input_size)} vs network input {list(cfg.input_size)}"
    return None


def save_checkpoint(path: str | Path, model: nn.Module, cfg: NetConfig, meta: CheckpointMeta) -> None:
    """Write ``model``'s weights with ``cfg`` and ``meta`` to ``path`` (atomically: temp file + rename)."""
    problem = _check_consistent(cfg, meta)
    if problem:
        raise ValueError(f"{path}: not saved, metadata disagrees with config {cfg.name!r}: {problem}")
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": cfg.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta.to_dict(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _shape(t: torch.Tensor) -> str:
    return "[" + ",".join(map(str, t.shape)) + "]"


def _state_dict_mismatch(model: nn.Module, state: dict) -> str | None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        return f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}, unexpected {extra[:3]}{'...' if len(extra) > 3 else ''}"
    for k, v in expected.items():
        got = state[k]
        if not isinstance(got, torch.Tensor) or got.shape != v.shape:
            what = _shape(got) if isinstance(got, torch.Tensor) else type(got).__name__
            return f"{k} shape {what} vs expected {_shape(v)}"
    return None


def _read(path: Path) -> object:
    """``torch.load`` with safe unpickling; its many failure types become one CheckpointError."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, KeyError, ...
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()] or [type(err).__name__]
        reason = next((ln for ln in lines if "Unsupported global" in ln), lines[0]).split(". Please use")[0][:200]
        if not zipfile.is_zipfile(path):
            raise CheckpointError(f"{path}: not a torch checkpoint (corrupt, truncated or another kind of file)") from None
        if isinstance(err, pickle.UnpicklingError):
            raise CheckpointError(f"{path}: refused by safe loading (holds more than plain data): {reason}") from None
        raise CheckpointError(f"{path}: unreadable checkpoint (corrupt or truncated): {reason}") from None


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[TCJANet, NetConfig, CheckpointMeta]:
    """Read a checkpoint written by :func:`save_checkpoint`: the network (eval mode), its config and meta.

    Raises :class:`CheckpointError` naming the file for a missing, unreadable, foreign or
    inconsistent file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    payload = _read(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = sorted(map(str, payload))[:5] if isinstance(payload, dict) else type(payload).__name__
        hint = ""
        if isinstance(payload, dict) and "net" in payload:
            hint = "; an official ridgerchu/TCJA checkpoint? its ['net'] loads into build_network(CONFIGS['dvs128_paper'])"
        raise CheckpointError(f"{path}: not a {FORMAT} file (found {found}){hint}")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: format version {payload.get('version')!r}, this program reads {VERSION}")
    try:
        cfg = NetConfig.from_dict(payload["config"])
        meta = CheckpointMeta.from_dict(payload["meta"])
        state = dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: invalid checkpoint contents: {err}") from None
    problem = _check_sizes(cfg, meta)
    if problem:
        raise CheckpointError(f"{path}: implausible checkpoint: {problem}")
    problem = _check_consistent(cfg, meta)
    if problem:
        raise CheckpointError(f"{path}: metadata disagrees with config {cfg.name!r}: {problem}")
    model = build_network(cfg)
    problem = _state_dict_mismatch(model, state)
    if problem:
        raise CheckpointError(f"{path}: state_dict does not match config {cfg.name!r}: {problem}")
    model.load_state_dict(state)
    return model.to(map_location).eval(), cfg, meta


def model_card(meta: CheckpointMeta | dict) -> tuple[str, str]:
    """A checkpoint's model card as ``(path relative to the repository, text)``; ``("", "")`` when none.

    The card's path is stored in ``meta.notes`` (a JSON object with a ``model_card`` key).
    """
    notes = meta.get("notes") if isinstance(meta, dict) else meta.notes
    try:
        rel = json.loads(notes or "{}").get("model_card")
    except (json.JSONDecodeError, AttributeError):
        return "", ""
    card = REPO_ROOT / str(rel) if rel else None
    if card is None or not card.is_file():
        return "", ""
    return str(rel), card.read_text()

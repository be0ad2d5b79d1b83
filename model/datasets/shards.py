"""One labelled event sample per ``.npz`` file: the format of the DVS128 cache and simulated data.

A shard holds

- ``events``: a structured array with fields ``timestamp`` (microseconds, any origin,
  non-decreasing), ``x``, ``y`` (pixels), ``polarity`` (0 = OFF, 1 = ON); any integer
  widths (``eventcore.events.EVENT_DTYPE`` or a compact layout),
- ``label``: the 0-based class index, or -1 for "idle" (no gesture: trained towards all-zero
  rates),
- ``width``, ``height``: the sensor size the coordinates refer to,
- optionally ``onset_us``: when the gesture starts in a clip that begins before it (a
  training window then ends after it, see ``model.datasets.samples``).

Writes go to a temporary name first and are renamed into place, so an interrupted run never
leaves a half-written shard behind.

Example::

    save_sample(folder / "train" / "000123.npz", events, label=4, width=128, height=128)
    events, label, (width, height) = load_sample(folder / "train" / "000123.npz")
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from eventcore.events import as_events
from eventcore.errors import SourceError

FIELDS = ("timestamp", "x", "y", "polarity")


def save_sample(path: str | Path, events: np.ndarray, label: int, width: int, height: int,
                onset_us: int | None = None) -> None:
    """Write one sample atomically (temporary file, then rename)."""
    path = Path(path)
    missing = [f for f in FIELDS if f not in (events.dtype.names or ())]
    if missing:
        raise ValueError(f"{path}: events lack fields {missing} (need {FIELDS})")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            extra = {} if onset_us is None else {"onset_us": np.int64(onset_us)}
            np.savez(f, events=events, label=np.int64(label), width=np.int64(width), height=np.int64(height), **extra)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _open(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise SourceError(f"{path}: not a sample shard (.npz with events, label, width, height): {err}") from None


def load_onset(path: str | Path) -> int | None:
    """The shard's ``onset_us``, or None for an ordinary sample."""
    with _open(Path(path)) as z:
        return int(z["onset_us"]) if "onset_us" in z else None


def load_header(path: str | Path) -> tuple[int, int, int]:
    """``(label, width, height)`` of a shard, without reading its events."""
    path = Path(path)
    with _open(path) as z:
        missing = [k for k in ("label", "width", "height") if k not in z]
        if missing:
            raise SourceError(f"{path}: sample shard lacks {missing}")
        return int(z["label"]), int(z["width"]), int(z["height"])


def load_sample(path: str | Path) -> tuple[np.ndarray, int, tuple[int, int]]:
    """``(events in EVENT_DTYPE, label, (width, height))`` of one shard; SourceError if malformed."""
    path = Path(path)
    with _open(path) as z:
        missing = [k for k in ("events", "label", "width", "height") if k not in z]
        if missing:
            raise SourceError(f"{path}: sample shard lacks {missing}")
        ev = z["events"]
        if ev.dtype.names is None or any(f not in ev.dtype.names for f in FIELDS):
            raise SourceError(f"{path}: 'events' must be a structured array with fields {FIELDS}, got {ev.dtype}")
        return as_events(ev), int(z["label"]), (int(z["width"]), int(z["height"]))

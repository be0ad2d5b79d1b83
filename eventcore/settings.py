"""Typed, validated settings shared by every front end (CLI, GUI, training): one unit, one owner.

Times are integers in microseconds; ``from_ms`` constructors exist for the people who type
milliseconds. Every check raises :class:`SettingsError`, so a bad value ends a command with
one line and exit status 2 wherever it was typed.

Example::

    w = WindowSettings.from_ms(1500, 100)         # window 1.5 s, hop 100 ms
    w = w.changed(hop_us=50_000)                  # a new, validated object
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from eventcore.errors import SettingsError

# Generous bounds: a window longer than ten minutes or a sensor beyond 4K is a typo or a
# damaged file, not a setting (and would allocate gigabytes further down).
MAX_WINDOW_US = 600_000_000
MAX_INPUT_SIZE = 4096
MAX_T = 1024


def positive(name: str, value: float | None, unit: str = "") -> float | None:
    """``value`` when it is a finite number > 0 (None passes through), else SettingsError naming ``name``."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: not a number: {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise SettingsError(f"{name}: must be a positive number{' of ' + unit if unit else ''}, got {value!r}")
    return v


def parse_roi(name: str, text: str | None) -> tuple[int, int, int] | None:
    """``"X0,Y0,SIDE"`` typed by a user -> a square region of the sensor in pixels (None passes through);
    whether it fits the sensor is checked when a source is open."""
    if text is None:
        return None
    parts = text.replace(" ", "").split(",")
    try:
        x0, y0, side = (int(v) for v in parts)
    except ValueError:
        raise SettingsError(f"{name}: wants X0,Y0,SIDE in sensor pixels (e.g. 25,25,77), got {text!r}") from None
    if x0 < 0 or y0 < 0 or side <= 0:
        raise SettingsError(f"{name}: X0 and Y0 must be 0 or more and SIDE more than 0, got {text!r}")
    return x0, y0, side


def ms_to_us(name: str, ms: float | None) -> int | None:
    """Milliseconds typed by a user -> whole microseconds (validated; at least 1 us)."""
    v = positive(name, ms, "milliseconds")
    if v is None:
        return None
    us = round(v * 1000)
    if us < 1 or us > MAX_WINDOW_US:
        raise SettingsError(f"{name}: {ms!r} ms is outside 0.001 ms .. {MAX_WINDOW_US // 1000} ms")
    return int(us)


def bounded_int(name: str, value: object, low: int, high: int) -> int:
    """An integer in ``[low, high]``, else SettingsError (bools and fractions are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise SettingsError(f"{name}: must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise SettingsError(f"{name}: must be in {low}..{high}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class WindowSettings:
    """Sliding-window length and hop in microseconds; validated on construction."""

    window_us: int
    hop_us: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "window_us", bounded_int("window", self.window_us, 1, MAX_WINDOW_US))
        object.__setattr__(self, "hop_us", bounded_int("hop", self.hop_us, 1, MAX_WINDOW_US))

    @classmethod
    def from_ms(cls, window_ms: float, hop_ms: float) -> "WindowSettings":
        """From milliseconds (what users type)."""
        return cls(ms_to_us("window", window_ms), ms_to_us("hop", hop_ms))

    def changed(self, window_us: int | None = None, hop_us: int | None = None) -> "WindowSettings":
        """A copy with the given fields replaced (None keeps a field); validated."""
        return replace(self, window_us=self.window_us if window_us is None else window_us,
                       hop_us=self.hop_us if hop_us is None else hop_us)

    def changed_ms(self, window_ms: float | None = None, hop_ms: float | None = None) -> "WindowSettings":
        """:meth:`changed` with milliseconds."""
        return self.changed(ms_to_us("window", window_ms), ms_to_us("hop", hop_ms))

    @property
    def window_ms(self) -> float:
        return self.window_us / 1000

    @property
    def hop_ms(self) -> float:
        return self.hop_us / 1000


@dataclass(frozen=True)
class WindowRequest:
    """What the user asked for; a None field means "the model's own value"."""

    window_us: int | None = None
    hop_us: int | None = None

    def __post_init__(self) -> None:
        for name in ("window_us", "hop_us"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, bounded_int(name.removesuffix("_us"), v, 1, MAX_WINDOW_US))

    @classmethod
    def from_ms(cls, window_ms: float | None = None, hop_ms: float | None = None) -> "WindowRequest":
        """From the CLI's ``--window-ms`` / ``--hop-ms`` (None: not given)."""
        return cls(ms_to_us("--window-ms", window_ms), ms_to_us("--hop-ms", hop_ms))

    def resolve(self, default: WindowSettings) -> WindowSettings:
        """The settings in force: these requests over the model's ``default``."""
        return default.changed(self.window_us, self.hop_us)

"""Automatic framing: zoom the network's input onto a subject who stands further away.

A far subject is seen by the network as a small figure, and it rates its gesture lower
(``benchmarks.robustness``: at 0.6x the size the right class is still on top in 97 % of
whole windows, but often below the decision rule's threshold). The extent of the events
does not tell a far subject from a small gesture (a clap stays near the chest, arm circles
fill the view), so the framing is chosen by the network itself: each hop the whole window
is also classified at another zoom of the input square (about its centre, each zoom in
turn), and each zoom keeps a running mean of how much higher its top class rate is than the
zoom in force's on the same window. A zoom whose mean gain reaches ``min_gain`` takes over.

Pure state and step (norse-style): :func:`framing_step` returns the new :class:`FramingState`.

Example::

    st = FramingSettings()
    state = initial_state(st)
    box = zoom_box((0, 0, 128), st.zooms[state.current])     # the square the model reads
    state = framing_step(st, state, current_top=0.71, probe_top=0.86)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class FramingSettings:
    """Zooms tried (1.0 = the input square as it is; 1.67 = a subject at 0.6x back to full size),
    the running mean's span in scored hops and the gain a zoom needs over the one in force."""

    zooms: tuple[float, ...] = (1.0, 1.25, 1.5, 1.67)
    span: int = 8
    min_gain: float = 0.15  # picked on the robust_val seeds (README, Robustness): 0.05 lost 0.9 unchanged, 0.2 never zooms

    def __post_init__(self) -> None:
        z = tuple(float(v) for v in self.zooms)
        object.__setattr__(self, "zooms", z)
        if not z or z[0] != 1.0 or list(z) != sorted(set(z)):
            raise ValueError(f"framing zooms must rise from 1.0, not {z}")
        if self.span < 1 or not 0.0 <= self.min_gain < 1.0:
            raise ValueError(f"framing span must be >= 1 and min_gain in [0, 1), not {self.span}, {self.min_gain}")


FRAMING = FramingSettings()
MODES = ("off", "auto")  # what the command line and the benchmarks offer


def framing_mode(mode: str) -> FramingSettings | None:
    """``"auto"`` -> the app's framing settings, ``"off"`` -> None (the whole input square)."""
    if mode not in MODES:
        raise ValueError(f"framing must be one of {MODES}, not {mode!r}")
    return FRAMING if mode == "auto" else None


class FramingState(NamedTuple):
    """Each zoom's running mean gain in top rate over the zoom in force, measured on the same
    windows (NaN: not measured yet; 0 for the zoom in force), the zoom in force, the next probe."""

    gain: np.ndarray
    current: int
    probe: int


def initial_state(settings: FramingSettings = FRAMING) -> FramingState:
    n = len(settings.zooms)
    gain = np.full(n, np.nan)
    gain[0] = 0.0
    return FramingState(gain, 0, 1 % n)


def framing_step(settings: FramingSettings, state: FramingState, current_top: float | None,
                 probe_top: float | None) -> FramingState:
    """Fold one hop into the state: the top class rate of the same busy whole window read at the
    zoom in force and at the probe's zoom (None: idle or not read; nothing is learned)."""
    gain, current, n = state.gain.copy(), state.current, len(settings.zooms)
    if current_top is None or probe_top is None or state.probe == current:
        return state
    a = 2.0 / (settings.span + 1)
    k, d = state.probe, probe_top - current_top
    gain[k] = d if np.isnan(gain[k]) else a * d + (1 - a) * gain[k]
    best = int(np.nanargmax(gain))
    if gain[best] > 0 and gain[best] >= settings.min_gain:  # gains are differences: re-reference them
        gain -= gain[best]
        current = best
    probe = (k + 1) % n
    if probe == current:
        probe = (probe + 1) % n
    return FramingState(gain, current, probe)


def zoom_box(box: tuple[int, int, int], zoom: float) -> tuple[int, int, int]:
    """The square ``zoom`` times smaller than ``box = (x0, y0, side)``, about the same centre."""
    x0, y0, side = box
    inner = max(1, int(round(side / zoom)))
    off = (side - inner) // 2
    return x0 + off, y0 + off, inner

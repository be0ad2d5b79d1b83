"""Automatic framing: zoom the network's input onto a subject who stands further away.

A far subject is seen by the network as a small figure, and it rates its gesture lower
(``benchmarks.robustness``: at 0.6x the size the right class is still on top in 97 % of
whole windows, but often below the decision rule's threshold). The extent of the events
does not tell a far subject from a small gesture (a clap stays near the chest, arm circles
fill the view), so the framing is chosen by the network itself: each hop the whole window
is also classified at another zoom of the input square (about its centre, each zoom in
turn), and each zoom keeps a running mean of how much higher its top class rate is than the
zoom in force's on the same window. A zoom whose mean gain reaches ``min_gain`` takes over.
A zoomed square's counts are scaled back to the whole square's density
(``Geometry.count_gain``), so the zoom reads a far subject as the network learned a near one.
Only a window that both zooms read as the same class, rated at least ``min_rate`` by the zoom
in force, is compared: a person walking in rates every class near 0 at the whole view, and a
crop of their body can rate some class higher without there being anything to frame.

Pure state and step (norse-style): :func:`framing_step` returns the new :class:`FramingState`.

Example::

    st = FramingSettings()
    state = initial_state(st)
    box = zoom_box((0, 0, 128), st.zooms[state.current])     # the square the model reads
    state = framing_step(st, state, current=rates_in_force, probe=rates_at_probe_zoom)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class FramingSettings:
    """Zooms tried (1.0 = the input square as it is; 1.67 = a subject at 0.6x back to full size),
    the running mean's span in scored hops, the gain a zoom needs over the one in force, and the
    top rate the zoom in force must give before a window is compared at all."""

    zooms: tuple[float, ...] = (1.0, 1.25, 1.5, 1.67)
    span: int = 8
    min_gain: float = 0.25  # robust_val seeds (README, Robustness): 0.2 zoomed subjects at the dataset's framing, 0.3 never a far one
    pick_gain: float = 0.15  # one sample (classify --whole): its zoom carries over to no other gesture (robust_val, README)
    min_rate: float = 0.15  # picked on validation sessions (README): without it, people walking in set the zoom

    def __post_init__(self) -> None:
        z = tuple(float(v) for v in self.zooms)
        object.__setattr__(self, "zooms", z)
        if not z or z[0] != 1.0 or list(z) != sorted(set(z)):
            raise ValueError(f"framing zooms must rise from 1.0, not {z}")
        if (self.span < 1 or not 0.0 <= self.min_gain < 1.0 or not 0.0 <= self.pick_gain < 1.0
                or not 0.0 <= self.min_rate <= 1.0):
            raise ValueError(f"framing span must be >= 1, min_gain and pick_gain in [0, 1) and min_rate in [0, 1], "
                             f"not {self.span}, {self.min_gain}, {self.pick_gain}, {self.min_rate}")


FRAMING = FramingSettings()
MODES = ("off", "auto")  # what the command line and the benchmarks offer
DEFAULT_MODE = "auto"  # since 2026-12-07: as fast on validation once walkers no longer set the zoom (README, Robustness)


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


def zoom_gain(settings: FramingSettings, current: np.ndarray, probe: np.ndarray | None) -> float | None:
    """How much higher another zoom rates the class the zoom in force puts on top, on the same
    window; None where the two are not comparable (another class on top, the zoom in force below
    ``min_rate``, or the other zoom lost the subject)."""
    top = int(np.argmax(current))
    if probe is None or int(np.argmax(probe)) != top or current[top] < settings.min_rate:
        return None
    return float(probe[top] - current[top])


def framing_step(settings: FramingSettings, state: FramingState, current: np.ndarray | None,
                 probe: np.ndarray | None) -> FramingState:
    """Fold one hop into the state: the class rates of the same whole window read at the zoom in
    force (None: idle, nothing happens) and at the probe's zoom (None: it lost the subject).
    The probe's zoom learns only a comparable gain (:func:`zoom_gain`); the next zoom probes next hop."""
    n = len(settings.zooms)
    if current is None or state.probe == state.current:
        return state
    gain, k = state.gain, state.probe
    d = zoom_gain(settings, current, probe)
    if d is not None:
        gain = gain.copy()
        a = 2.0 / (settings.span + 1)
        gain[k] = d if np.isnan(gain[k]) else a * d + (1 - a) * gain[k]
    current_zoom = state.current
    best = int(np.nanargmax(gain))
    if _takes_over(gain[best], settings.min_gain):  # gains are differences: re-reference them
        gain = gain - gain[best]
        current_zoom = best
    nxt = (k + 1) % n
    if nxt == current_zoom:
        nxt = (nxt + 1) % n
    return FramingState(gain, current_zoom, nxt)


def pick_zoom(settings: FramingSettings, rates: list[np.ndarray | None]) -> int:
    """One sample read at every zoom (``rates[0]``: the whole input square; None: no events
    inside): the zoom with the highest comparable gain if it reaches ``pick_gain``, else 0."""
    gains = {k: g for k, r in enumerate(rates[1:], 1) if (g := zoom_gain(settings, rates[0], r)) is not None}
    best = max(gains, key=gains.__getitem__, default=0)
    return best if best and _takes_over(gains[best], settings.pick_gain) else 0


def _takes_over(gain: float, needed: float) -> bool:
    """A zoom rated this much higher than the one in force replaces it (a gain of 0 never does)."""
    return gain > 0 and gain >= needed


def zoom_box(box: tuple[int, int, int], zoom: float) -> tuple[int, int, int]:
    """The square ``zoom`` times smaller than ``box = (x0, y0, side)``, about the same centre."""
    x0, y0, side = box
    inner = max(1, int(round(side / zoom)))
    off = (side - inner) // 2
    return x0 + off, y0 + off, inner

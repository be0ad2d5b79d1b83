"""A DVS pixel model (as in ESIM / v2e) run on a log-intensity video, vectorised over pixels.

Each pixel keeps a reference log intensity ``ref``; whenever the log intensity ``L`` moves
by its contrast threshold ``C_on`` (up) or ``C_off`` (down) from ``ref``, it emits an ON or
OFF event and moves ``ref`` by that threshold:

    n_on = floor((L - ref) / C_on),   ref <- ref + n_on * C_on      (likewise OFF)

The pixel sees its log intensity through a first-order photoreceptor low-pass
(``lowpass_us``), which gives a moving edge a soft trailing tail. Crossing times are
interpolated linearly between render steps, a refractory period thins bursts, and
timestamps get jitter. Background activity (Poisson) and hot pixels are added. Thresholds,
refractory period, low-pass and noise rate come from ``SimParams`` (calibrated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collections.abc import Iterable

from eventcore.events import empty_events, make_events
from model.simulator.params import CALIBRATED, SimParams


@dataclass(frozen=True)
class PixelParams:
    """Per-sample sensor parameters; thresholds vary per pixel (mismatch)."""

    c_on: np.ndarray  # [H, W]
    c_off: np.ndarray  # [H, W]
    refractory_us: float
    jitter_us: float
    noise_hz: np.ndarray  # [H, W] background activity rate per pixel
    noise_on_fraction: float

    lowpass_us: float = 0.0  # photoreceptor time constant: the pixel sees a low-passed log intensity

    @classmethod
    def random(cls, rng: np.random.Generator, shape: tuple[int, int] = (128, 128),
               p: SimParams = CALIBRATED) -> "PixelParams":
        c = p.threshold * rng.uniform(0.8, 1.25)
        sigma = c * rng.uniform(0.05, 0.15)  # pixel-to-pixel threshold mismatch
        rate = p.noise_hz * rng.uniform(0.6, 1.6) * rng.lognormal(0.0, 0.5, size=shape)
        hot = rng.integers(0, shape[0] * shape[1], size=rng.integers(2, 7))
        rate.flat[hot] = rng.uniform(20.0, 150.0, size=len(hot))
        return cls(
            c_on=np.clip(rng.normal(c, sigma, shape), 0.03, None).astype(np.float32),
            c_off=np.clip(rng.normal(c * rng.uniform(0.9, 1.2), sigma, shape), 0.03, None).astype(np.float32),
            refractory_us=p.refractory_ms * 1e3 * rng.uniform(0.7, 1.4),
            jitter_us=rng.uniform(20.0, 200.0),
            noise_hz=rate,
            noise_on_fraction=rng.uniform(0.8, 0.95),  # real DVS128 Gesture noise: about 9 in 10 ON
            lowpass_us=p.lowpass_ms * 1e3 * rng.uniform(0.7, 1.4),
        )


def log_video_to_events(chunks: Iterable[tuple[np.ndarray, np.ndarray]], px: PixelParams,
                        rng: np.random.Generator) -> np.ndarray:
    """Events (EVENT_DTYPE, sorted by time) of a log-intensity video given as successive
    chunks ``(t_us [K], L [K, H, W])``, so long recordings never sit in memory whole."""
    H, W = px.c_on.shape
    c_on, c_off = px.c_on.ravel(), px.c_off.ravel()
    ref = None
    last = np.full(H * W, -1e12)
    out = []
    t_first = t_prev = 0.0
    for t_chunk, L in chunks:
        if ref is None:
            ref = L[0].ravel().astype(np.float32)
            l_prev, t_prev, t_first = ref.copy(), float(t_chunk[0]), float(t_chunk[0])
        for k in range(len(t_chunk)):
            l1, t1 = L[k].ravel(), float(t_chunk[k])
            if px.lowpass_us > 0 and t1 > t_prev:  # first-order photoreceptor low-pass
                l1 = l_prev + (l1 - l_prev) * np.float32(1 - np.exp(-(t1 - t_prev) / px.lowpass_us))
            if t1 > t_prev:
                ev = _step(l_prev, l1, t_prev, t1, ref, last, c_on, c_off, px.refractory_us)
                if ev is not None:
                    out.append(ev)
            l_prev, t_prev = l1, t1
    if ref is None:
        return empty_events(0)
    noise = _background_activity(px, t_prev - t_first, t_first, rng)
    if out:
        ts, pix, p = (np.concatenate(col) for col in zip(*out))
    else:
        ts, pix, p = np.empty(0), np.empty(0, np.int64), np.empty(0, bool)
    ts = ts + rng.normal(0.0, px.jitter_us, size=len(ts))
    ts = np.concatenate([ts, noise[0]])
    pix = np.concatenate([pix, noise[1]])
    p = np.concatenate([p, noise[2]])
    ts = np.clip(np.round(ts), t_first, t_prev).astype(np.int64)
    order = np.argsort(ts, kind="stable")
    pix = pix[order]
    return make_events(ts[order], pix % W, pix // W, p[order].astype(np.int8))


def _step(l0, l1, t0, t1, ref, last, c_on, c_off, refractory_us):
    """Events (times, pixels, polarities) between two frames; updates ``ref`` and ``last`` in place."""
    d = l1 - ref
    n_on = np.floor(np.maximum(d, 0) / c_on).astype(np.int64)
    n_off = np.floor(np.maximum(-d, 0) / c_off).astype(np.int64)
    n = n_on + n_off
    idx = np.flatnonzero(n)
    if len(idx) == 0:
        return None
    pol = n_on[idx] > 0
    c = np.where(pol, c_on[idx], -c_off[idx])
    cnt = n[idx]
    ref[idx] += cnt * c
    pix = np.repeat(idx, cnt)
    j = np.arange(len(pix)) - np.repeat(np.cumsum(cnt) - cnt, cnt) + 1
    c_ev = np.repeat(c, cnt)
    level = ref[pix] - (np.repeat(cnt, cnt) - j) * c_ev
    slope = l1[pix] - l0[pix]
    safe = np.where(slope == 0, 1.0, slope)
    ts = t0 + np.clip((level - l0[pix]) / safe, 0, 1) * (t1 - t0)
    # Refractory: a pixel cannot fire again within the refractory period; crossings then are lost.
    spacing = (t1 - t0) * np.abs(c_ev / np.where(slope == 0, 1e-9, slope))
    stride = np.maximum(np.ceil(refractory_us / np.maximum(spacing, 1e-3)), 1).astype(np.int64)
    keep = ((j - 1) % stride == 0) & (ts - last[pix] >= refractory_us)
    pix, ts, p = pix[keep], ts[keep], np.repeat(pol, cnt)[keep]
    if len(pix) == 0:
        return None
    last[pix] = ts  # a pixel's later crossings come later in the array, so its last one wins
    return ts, pix, p


def _background_activity(px: PixelParams, duration_us: float, t0: float, rng: np.random.Generator):
    """Poisson noise events (times, pixel indices, polarities) at each pixel's own rate."""
    counts = rng.poisson(px.noise_hz.ravel() * duration_us * 1e-6)
    pix = np.repeat(np.arange(counts.size), counts)
    ts = t0 + rng.uniform(0.0, duration_us, size=len(pix))
    pol = rng.random(len(pix)) < px.noise_on_fraction
    return ts, pix, pol

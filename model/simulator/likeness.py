"""Likeness to real recordings, measured on pixels: simulated gestures against the real
DVS128 Gesture preview (``dvsgesture_real_preview.png`` in the shared data: classes 0-9, five
successive 0.29 s slices each, ON drawn red over OFF blue, 1.5 display pixels a sensor pixel).

This judge needs no network: it compares where a class's events fall (occupancy maps pooled
to 8x8 pixel blocks), how much of the view they cover, and how dense the background noise is.
Unlike the networks it can not be fooled by a pattern one network happens to like.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PREVIEW_PATH = Path(__file__).resolve().parents[3] / "shared" / "data" / "dvsgesture_real_preview.png"
N_SLICES = 5
SLICE_US = 290_000
SIZE = 128
_PITCH, _X0, _SCALE = 194, 75, 1.5  # layout of the preview image (measured)
_POOL = 8
_CORNER = 24  # background probe: the top 24 rows of the outer quarter columns, where no body is


def read_preview(path: str | Path) -> np.ndarray:
    """Occupancy [10, 5, 128, 128] bool (any event in the slice) of the real preview's panels."""
    from PIL import Image

    im = np.asarray(Image.open(path).convert("RGB")).astype(np.int16)
    ev = (im[..., 0] > 180) & (im[..., 1] < 130) | (im[..., 2] > 180) & (im[..., 0] < 150)
    if im.shape[0] < 10 * _PITCH - 2 or im.shape[1] < _X0 + 5 * _PITCH - 2:
        raise ValueError(f"{path}: not the 10 x 5 panel preview layout ({im.shape[1]}x{im.shape[0]} px)")
    centre = (np.arange(SIZE) * _SCALE + _SCALE / 2).astype(int)
    out = np.zeros((10, N_SLICES, SIZE, SIZE), bool)
    for row in range(10):
        for k in range(N_SLICES):
            y0, x0 = row * _PITCH, _X0 + k * _PITCH
            out[row, k] = ev[y0 + centre[:, None], x0 + centre[None, :]]
    return out


def occupancy(events: np.ndarray, start_us: int | None = None) -> np.ndarray:
    """Occupancy [5, 128, 128] bool of five successive 0.29 s slices of a recording."""
    t = events["timestamp"].astype(np.int64)
    t0 = int(t[0]) if start_us is None else start_us
    k = (t - t0) // SLICE_US
    m = (k >= 0) & (k < N_SLICES)
    out = np.zeros((N_SLICES, SIZE, SIZE), bool)
    out[k[m], events["y"][m], events["x"][m]] = True
    return out


def _pooled(occ: np.ndarray) -> np.ndarray:
    """Mean occupancy over slices, in 8x8 pixel blocks [16, 16]."""
    m = occ.reshape(-1, SIZE, SIZE).mean(0)
    return m.reshape(SIZE // _POOL, _POOL, SIZE // _POOL, _POOL).mean((1, 3))


def _background(occ: np.ndarray) -> float:
    o = occ.reshape(-1, SIZE, SIZE)[:, :_CORNER]
    return float(np.concatenate([o[:, :, :32], o[:, :, -32:]], -1).mean())


def class_likeness(real: np.ndarray, sims: list[np.ndarray]) -> dict:
    """Likeness (0-1) of one class: ``real`` [5, 128, 128] against simulated occupancies.

    place: overlap of where events fall (histogram intersection of the pooled maps);
    cover: ratio of covered area (smaller over larger); noise: ratio of background density.
    """
    r = _pooled(real)
    s = np.mean([_pooled(o) for o in sims], 0)
    place = float(np.minimum(r / r.sum(), s / max(s.sum(), 1e-12)).sum())
    cover_r, cover_s = real.mean(), np.mean([o.mean() for o in sims])
    bg_r, bg_s = _background(real), np.mean([_background(o) for o in sims])
    ratio = lambda a, b: float(min(a, b) / max(a, b, 1e-12))
    return {"place": place, "cover": ratio(cover_r, cover_s), "noise": ratio(bg_r, bg_s),
            "score": place * (ratio(cover_r, cover_s) * ratio(bg_r, bg_s)) ** 0.5,
            "cover_real": float(cover_r), "cover_sim": float(cover_s), "noise_real": bg_r, "noise_sim": float(bg_s)}


def likeness(real: np.ndarray, samples: list[np.ndarray], labels: np.ndarray) -> dict:
    """Per-class and mean likeness of simulated recordings of classes 0-9 to the real preview."""
    per = {}
    for c in range(real.shape[0]):
        sims = [occupancy(e) for e, l in zip(samples, labels) if l == c]
        if sims:
            per[c] = class_likeness(real[c], sims)
    return {"overall": float(np.mean([v["score"] for v in per.values()])), "per_class": per}

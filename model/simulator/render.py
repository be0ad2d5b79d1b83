"""Rasterise a posed body over a cluttered background into a log-intensity video.

Each body part is an anti-aliased capsule (a segment with a radius) carrying a texture in
its own coordinates (along / across the segment), so clothing patterns move with the limb
and produce events inside it, not only at its outline. Camera shake moves everything,
lighting flicker scales the whole image. Output ``log(I + eps)`` [F, H, W] float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from model.simulator.body import Body, Pose

SIZE = 128
_MARGIN = 12  # background texture border, so shake never samples outside it


@dataclass(frozen=True)
class Look:
    """Per-sample appearance: intensities, textures, clutter, flicker and shake."""

    background: np.ndarray  # [SIZE + 2*_MARGIN]^2 static texture in [0, 1]
    skin: float
    shirt: float
    sleeve: float
    hair: float
    tex_freq: np.ndarray  # [n_parts, 2] cycles/px along / across
    tex_phase: np.ndarray  # [n_parts]
    tex_contrast: float
    flicker_amp: float
    flicker_hz: float
    shake_px: float
    eps: float

    @classmethod
    def random(cls, rng: np.random.Generator, n_parts: int = 10) -> "Look":
        n = SIZE + 2 * _MARGIN
        bg = np.full((n, n), rng.uniform(0.25, 0.7), dtype=np.float32)
        yy, xx = np.mgrid[0:n, 0:n]
        for _ in range(rng.integers(4, 14)):  # clutter: shelves, doors, posters, a table edge
            x0, y0 = rng.integers(0, n, 2)
            w, h = rng.integers(4, 60, 2)
            bg[y0:y0 + h, x0:x0 + w] = rng.uniform(0.1, 0.95)
        edge = rng.integers(int(0.75 * n), n)
        bg[edge:edge + rng.integers(1, 4), :] *= rng.uniform(0.3, 0.7)
        bg *= 1 + 0.15 * np.sin(2 * np.pi * (xx * rng.uniform(0, 0.05) + yy * rng.uniform(0, 0.05)))
        shirt = rng.uniform(0.08, 0.9)
        return cls(
            background=np.clip(bg, 0.03, 1.0).astype(np.float32),
            skin=rng.uniform(0.35, 0.9),
            shirt=shirt,
            sleeve=shirt if rng.random() < 0.6 else rng.uniform(0.35, 0.9),
            hair=rng.uniform(0.05, 0.4),
            tex_freq=rng.uniform(0.03, 0.25, size=(n_parts, 2)) * rng.choice([-1, 1], size=(n_parts, 2)),
            tex_phase=rng.uniform(0, 2 * np.pi, size=n_parts),
            tex_contrast=rng.uniform(0.05, 0.25),
            flicker_amp=rng.uniform(0.0, 0.03),
            flicker_hz=float(rng.choice([100.0, 120.0])),
            shake_px=rng.uniform(0.0, 0.08),
            eps=rng.uniform(0.02, 0.08),
        )


def _capsules(pose: Pose, body: Body, look: Look) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
    """(a [F,2], b [F,2], radius, intensity) per part, drawn back to front."""
    torso_top = pose.neck + np.array([0.0, body.torso_r * 0.7])
    parts = [
        (torso_top, pose.hip, body.torso_r + 3, look.shirt),
        (pose.neck + np.array([0.0, 2.0]), pose.head, body.head_r * 0.45, look.skin),
        (pose.head, pose.head, body.head_r, look.skin),
        (pose.head + np.array([0.0, -0.45 * body.head_r]), pose.head + np.array([0.0, -0.45 * body.head_r]),
         body.head_r * 0.75, look.hair),
    ]
    for sh, el, wr, tip in (pose.right, pose.left):
        parts += [
            (sh, el, body.arm_r * 1.15, look.sleeve),
            (el, wr, body.arm_r, look.sleeve),
            (wr, tip, body.arm_r * 0.8, look.skin),
        ]
    return parts


def _capsule_alpha(a: np.ndarray, b: np.ndarray, r: float, xs: np.ndarray, ys: np.ndarray):
    """Anti-aliased coverage [K, h, w] and segment coordinates (u, v) of a capsule per frame."""
    ab = b - a
    L = np.maximum(np.linalg.norm(ab, axis=-1), 1e-6)
    d = ab / L[:, None]
    px = xs[None, None, :] - a[:, 0, None, None]
    py = ys[None, :, None] - a[:, 1, None, None]
    u = px * d[:, 0, None, None] + py * d[:, 1, None, None]
    v = px * d[:, 1, None, None] - py * d[:, 0, None, None]
    uc = np.clip(u, 0, L[:, None, None])
    dist = np.sqrt((u - uc) ** 2 + v**2)
    return np.clip(r + 0.5 - dist, 0, 1), u, v


def render(pose: Pose, body: Body, look: Look, t: np.ndarray, rng: np.random.Generator,
           chunk: int = 64) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Successive chunks ``(t_us [K], log intensity [K, SIZE, SIZE] float32)`` of the scene at times ``t`` (s)."""
    n = len(t)
    f = rng.uniform(1.0, 15.0, size=(6, 2))
    ph = rng.uniform(0, 2 * np.pi, size=(6, 2))
    shake = look.shake_px * np.sin(2 * np.pi * f[None] * t[:, None, None] + ph[None]).sum(1) / np.sqrt(6)
    shake = np.clip(shake, -_MARGIN + 1, _MARGIN - 1).astype(np.float32)
    parts = [(a + shake, b + shake, r, lvl) for a, b, r, lvl in _capsules(pose, body, look)]
    grid = np.arange(SIZE, dtype=np.float32)
    for s in range(0, n, chunk):
        sl = slice(s, min(n, s + chunk))
        img = _background(look.background, shake[sl])
        for k, (a, b, r, lvl) in enumerate(parts):
            a_, b_ = a[sl].astype(np.float32), b[sl].astype(np.float32)
            lo = np.floor(np.minimum(a_.min(0), b_.min(0)) - r - 1).astype(int).clip(0, SIZE)
            hi = np.ceil(np.maximum(a_.max(0), b_.max(0)) + r + 2).astype(int).clip(0, SIZE)
            if lo[0] >= hi[0] or lo[1] >= hi[1]:
                continue
            alpha, u, v = _capsule_alpha(a_, b_, r, grid[lo[0]:hi[0]], grid[lo[1]:hi[1]])
            fu, fv = look.tex_freq[k % len(look.tex_freq)]
            contrast = look.tex_contrast * (0.3 if k == 0 else 1.0)  # the still torso: faint texture
            tex = lvl * (1 + contrast * np.sin(2 * np.pi * (fu * u + fv * v) + look.tex_phase[k % len(look.tex_phase)]))
            win = img[:, lo[1]:hi[1], lo[0]:hi[0]]
            win += alpha * (tex - win)
        flick = 1 + look.flicker_amp * np.sin(2 * np.pi * look.flicker_hz * t[sl])
        img *= flick[:, None, None].astype(np.float32)
        yield t[sl] * 1e6, np.log(img + look.eps)


def _background(bg: np.ndarray, shake: np.ndarray) -> np.ndarray:
    """The static background shifted by a sub-pixel ``shake`` per frame (bilinear) [K, SIZE, SIZE]."""
    ox = _MARGIN - shake[:, 0]
    oy = _MARGIN - shake[:, 1]
    ix, iy = np.floor(ox).astype(int), np.floor(oy).astype(int)
    fx, fy = (ox - ix)[:, None, None], (oy - iy)[:, None, None]
    out = np.empty((len(shake), SIZE, SIZE), dtype=np.float32)
    for k in range(len(shake)):
        w = bg[iy[k]:iy[k] + SIZE + 1, ix[k]:ix[k] + SIZE + 1]
        out[k] = (w[:-1, :-1] * (1 - fy[k]) * (1 - fx[k]) + w[:-1, 1:] * (1 - fy[k]) * fx[k]
                  + w[1:, :-1] * fy[k] * (1 - fx[k]) + w[1:, 1:] * fy[k] * fx[k])
    return out

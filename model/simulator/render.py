"""Rasterise a posed body (and, for negative scenes, moving objects) over a cluttered
background into a log-intensity video.

Each body part is a capsule (a segment with a radius) with a soft edge (``edge_px`` wide,
so a moving limb leaves a soft trailing edge, not a hard line) carrying a smooth random
texture in its own coordinates (along / across the segment): low-contrast clothing folds and
skin shading that move with the limb and produce events inside it, with no periodic pattern.
Hands are a palm and four fingers plus a thumb, the densest event source of a moving arm.
Round parts darken towards their silhouette (``SHADING``), hands differ from the shirt by at
least 0.35 log units and shirt sleeves by 0.2-0.5, so an arm moving in front of the torso
fires as densely as in real recordings.
Camera shake (or a slow pan) moves everything, lighting flicker scales the whole image.
Output ``log(I + eps)`` [F, H, W] float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from model.simulator.body import Body, Pose
from model.simulator.params import CALIBRATED, SimParams
from model.simulator.setup import Setup

SIZE = 128
_MARGIN = 24  # background texture border, so shake and pans never sample outside it
SHADING = 0.5  # a round limb or body darkens towards its silhouette by up to this (log units)
STILL_TEXTURE = 0.3  # texture gain of the torso and head relative to the moving limbs
_TEX = 256  # side of the random texture tile (cells of under a pixel, see render)


def _smooth_texture(rng: np.random.Generator, n: int = _TEX, blur_px: float = 2.5) -> np.ndarray:
    """A periodic smooth random field [n, n] of zero mean, unit std (white noise low-passed in Fourier)."""
    f = np.fft.fftfreq(n)
    g = np.exp(-0.5 * (f[:, None] ** 2 + f[None] ** 2) * (2 * np.pi * blur_px) ** 2)
    tex = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, n))) * g))
    return ((tex - tex.mean()) / (tex.std() + 1e-9)).astype(np.float32)


@dataclass(frozen=True)
class Extra:
    """A moving object of a negative scene: a capsule from ``a`` to ``b`` [F, 2], radius, intensity."""

    a: np.ndarray
    b: np.ndarray
    r: float
    level: float


@dataclass(frozen=True)
class Look:
    """Per-sample appearance: intensities, textures, clutter, flicker, shake and pan."""

    background: np.ndarray  # [SIZE + 2*_MARGIN]^2 static texture in [0, 1]
    skin: float
    shirt: float
    sleeve: float
    forearm: float  # the sleeve's colour, or the skin's for a subject in short sleeves
    hair: float
    texture: np.ndarray  # [_TEX, _TEX] smooth random field (unit std)
    tex_scale: np.ndarray  # [n_parts] px per texture cell
    tex_contrast: float
    edge_px: float
    flicker_amp: float
    flicker_hz: float
    shake_px: float
    pan_px_s: np.ndarray = field(default_factory=lambda: np.zeros(2))  # camera pan (px/s), negatives only
    eps: float = 0.05

    @classmethod
    def random(cls, rng: np.random.Generator, p: SimParams = CALIBRATED, n_parts: int = 40) -> "Look":
        n = SIZE + 2 * _MARGIN
        base = rng.uniform(0.2, 0.6)
        bg = np.full((n, n), base, dtype=np.float32)
        for _ in range(rng.integers(3, 12)):  # clutter: shelves, doors, posters, a table edge
            x0, y0 = rng.integers(0, n, 2)
            w, h = rng.integers(4, 60, 2)
            bg[y0:y0 + h, x0:x0 + w] = base * np.exp(rng.normal(0, 0.35))
        bg *= np.exp(0.08 * _smooth_texture(rng, n, 6.0))
        # the subject against the background: a log-intensity difference of about body_contrast.
        # Dark skin and light shirts by default: real arm circles lead with OFF
        # (measure.leading_polarity), and both judges built from DVS128 Gesture recognise arm
        # circles far more often with skin darker than the room (Speck 91 % against 39 %)
        sgn = -1.0 if rng.random() < p.shirt_dark_share else 1.0
        shirt = base * np.exp(sgn * p.body_contrast * rng.uniform(0.6, 1.4))
        skin = base * np.exp((-1.0 if rng.random() < p.skin_dark_share else 1.0) * p.body_contrast * rng.uniform(0.6, 1.4))
        # hands and sleeves in front of the shirt stay visible (real arms over the torso are dense blobs)
        skin = _apart(skin, shirt, rng.uniform(0.35, 0.9), rng)
        sleeve = shirt * np.exp(rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.5)) if rng.random() < 0.6 \
            else skin * rng.uniform(0.6, 0.9)
        look = dict(
            background=np.clip(bg, 0.02, 1.0).astype(np.float32),
            skin=float(np.clip(skin, 0.03, 1.0)),
            shirt=float(np.clip(shirt, 0.03, 1.0)),
            sleeve=float(np.clip(sleeve, 0.03, 1.0)),
            hair=float(np.clip(base * np.exp(-p.body_contrast * rng.uniform(0.6, 1.6)), 0.02, 1.0)),
            texture=_smooth_texture(rng, _TEX, rng.uniform(5.0, 9.0)),
            tex_scale=rng.uniform(0.6, 1.4, size=n_parts).astype(np.float32),
            tex_contrast=p.texture_contrast * rng.uniform(0.6, 1.4),
            edge_px=p.edge_px * rng.uniform(0.8, 1.25),
            flicker_amp=rng.uniform(0.0, 0.02),
            flicker_hz=float(rng.choice([100.0, 120.0])),
            shake_px=rng.uniform(0.0, 0.08),
            eps=rng.uniform(0.02, 0.08),
        )
        # drawn last, so the sleeve choice leaves every other draw of the sample as it was
        bare = rng.random() < p.bare_forearm_share
        return cls(**look, forearm=look["skin"] if bare else look["sleeve"])


def _apart(x: float, ref: float, gap: float, rng: np.random.Generator) -> float:
    """``x`` moved, if needed, to at least ``gap`` log units from ``ref`` (away from it, or to a random side)."""
    d = np.log(x / ref)
    if abs(d) >= gap:
        return x
    side = np.sign(d) if d != 0 else rng.choice([-1.0, 1.0])
    if np.clip(ref * np.exp(side * gap), 0.03, 1.0) != ref * np.exp(side * gap):
        side = -side  # no room on that side below white / above black
    return float(ref * np.exp(side * gap))


def _hand_parts(wr: np.ndarray, tip: np.ndarray, body: Body, level: float) -> list:
    """Palm, four fingers and a thumb between the wrist and the hand tip."""
    d = tip - wr
    n = np.stack([-d[:, 1], d[:, 0]], -1)  # across the hand, |n| = hand length
    palm_end = wr + 0.55 * d
    h = body.hand
    parts = [(wr, palm_end, 0.36 * h, level, 1.0)]
    for o in (-0.75, -0.25, 0.25, 0.75):
        base = palm_end + 0.28 * o * n
        parts.append((base, tip + 0.4 * o * n - 0.08 * abs(o) * d, 0.1 * h, level, 1.0))
    parts.append((wr + 0.15 * d + 0.3 * n, wr + 0.45 * d + 0.62 * n, 0.11 * h, level, 1.0))
    return parts


def _parts(pose: Pose, body: Body, look: Look, extras: list[Extra]) -> list[tuple]:
    """(a [F,2], b [F,2], radius, intensity, texture gain) per part, drawn back to front."""
    parts = [(x.a, x.b, x.r, x.level, 1.0) for x in extras]  # objects behind the subject
    torso_top = pose.neck + np.array([0.0, body.torso_r * 0.8])
    sh_r, sh_l = pose.right[0], pose.left[0]
    still = STILL_TEXTURE  # the still body's texture is faint: it only sways
    parts += [
        (torso_top, pose.hip, body.torso_r + 2, look.shirt, still),
        (sh_r + np.array([4.0, 3.0]), sh_l + np.array([-4.0, 3.0]), body.arm_r * 1.3, look.shirt, still),
        (pose.neck + np.array([0.0, 2.0]), pose.head, body.head_r * 0.45, look.skin, still),
        (pose.head, pose.head + np.array([0.0, 0.15 * body.head_r]), body.head_r, look.skin, still),
        (pose.head + np.array([-0.3 * body.head_r, -0.45 * body.head_r]),
         pose.head + np.array([0.3 * body.head_r, -0.45 * body.head_r]), body.head_r * 0.7, look.hair, still),
    ]
    for sh, el, wr, tip in (pose.right, pose.left):
        parts += [
            (sh, el, body.arm_r * 1.15, look.sleeve, 1.0),
            (el, wr, body.arm_r, look.forearm, 1.0),
        ]
        parts += _hand_parts(wr, tip, body, look.skin)
    return parts


def _capsule_alpha(a: np.ndarray, b: np.ndarray, r: float, edge: float, xs: np.ndarray, ys: np.ndarray):
    """Soft coverage [K, h, w] and segment coordinates (u, v) of a capsule per frame."""
    ab = b - a
    L = np.maximum(np.linalg.norm(ab, axis=-1), 1e-6)
    d = ab / L[:, None]
    px = xs[None, None, :] - a[:, 0, None, None]
    py = ys[None, :, None] - a[:, 1, None, None]
    u = px * d[:, 0, None, None] + py * d[:, 1, None, None]
    v = px * d[:, 1, None, None] - py * d[:, 0, None, None]
    uc = np.clip(u, 0, L[:, None, None])
    dist = np.sqrt((u - uc) ** 2 + v**2)
    return np.clip((r - dist) / edge + 0.5, 0, 1), u, v, dist


def _sample_texture(tex: np.ndarray, u: np.ndarray, v: np.ndarray, scale: float) -> np.ndarray:
    """Nearest lookup of the periodic texture (side a power of two) at (u, v) / scale.

    The texture is smooth over several cells, so neighbouring cells differ by far less than
    a DVS threshold and nearest lookup leaves no visible steps.
    """
    m = tex.shape[0] - 1
    iu = (u * np.float32(1 / scale)).astype(np.int32) & m
    iv = (v * np.float32(1 / scale)).astype(np.int32) & m
    return tex[iv, iu]


def render(pose: Pose | None, body: Body | None, look: Look, t: np.ndarray, rng: np.random.Generator,
           chunk: int = 64, extras: list[Extra] | None = None,
           setup: Setup | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Successive chunks ``(t_us [K], log intensity [K, SIZE, SIZE] float32)`` of the scene at times ``t`` (s).

    ``pose``/``body`` None renders no subject (a scene of ``extras`` only); ``setup`` places the
    subject and objects in the view (the background stays: it fires only when the camera shakes).
    """
    n = len(t)
    extras = extras or []
    f = rng.uniform(1.0, 15.0, size=(6, 2))
    ph = rng.uniform(0, 2 * np.pi, size=(6, 2))
    shake = look.shake_px * np.sin(2 * np.pi * f[None] * t[:, None, None] + ph[None]).sum(1) / np.sqrt(6)
    shake = shake + (t - t.mean())[:, None] * np.asarray(look.pan_px_s)[None]
    shake = np.clip(shake, -_MARGIN + 1, _MARGIN - 1).astype(np.float32)
    raw = _parts(pose, body, look, extras) if pose is not None else [(x.a, x.b, x.r, x.level, 1.0) for x in extras]
    if setup is not None and not setup.identity:
        raw = [(setup.place(np.asarray(a, dtype=np.float64), SIZE), setup.place(np.asarray(b, dtype=np.float64), SIZE),
                r * setup.scale, lvl, g) for a, b, r, lvl, g in raw]
    parts = [(np.broadcast_to(a, (n, 2)) + shake, np.broadcast_to(b, (n, 2)) + shake, r, lvl, g)
             for a, b, r, lvl, g in raw]
    grid = np.arange(SIZE, dtype=np.float32)
    for s in range(0, n, chunk):
        sl = slice(s, min(n, s + chunk))
        img = _background(look.background, shake[sl])
        for k, (a, b, r, lvl, gain) in enumerate(parts):
            a_, b_ = a[sl].astype(np.float32), b[sl].astype(np.float32)
            pad = r + look.edge_px + 2
            lo = np.floor(np.minimum(a_.min(0), b_.min(0)) - pad).astype(int).clip(0, SIZE)
            hi = np.ceil(np.maximum(a_.max(0), b_.max(0)) + pad).astype(int).clip(0, SIZE)
            if lo[0] >= hi[0] or lo[1] >= hi[1]:
                continue
            alpha, u, v, dist = _capsule_alpha(a_, b_, r, look.edge_px, grid[lo[0]:hi[0]], grid[lo[1]:hi[1]])
            scale = 0.5 * look.tex_scale[k % len(look.tex_scale)]  # px per cell: features of 2-6 px
            tex = lvl * np.exp(gain * look.tex_contrast * _sample_texture(look.texture, u + 1000.0 + 17.0 * k, v + 1000.0 + 5.0 * k, scale)
                               - SHADING * np.minimum(dist / r, 1.0) ** 2)
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

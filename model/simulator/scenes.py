"""Negative scenes (label -1, "no gesture"): what a camera sees when nobody gestures.

Kinds (``NEGATIVE_KINDS``, drawn with ``NEGATIVE_WEIGHTS``): a subject standing idle; a
person walking across the view; objects moving through the scene (boxes, balls); a street of
vehicles seen from afar or from above; a spinning object (a fan, a disk with marks); the whole scene
sliding past (camera motion) with a handheld shake; strong lighting flicker; an empty scene.
Each returns what ``render`` needs: an optional pose and body, the objects, and changes to
the sample's look.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from model.simulator.body import IDLE, Body, Pose, _arm_from_angles, gesture_pose
from model.simulator.params import SimParams
from model.simulator.render import SIZE, Extra, Look

NEGATIVE_KINDS = ("idle", "walker", "objects", "traffic", "spinner", "pan", "flicker", "empty")
NEGATIVE_WEIGHTS = (0.25, 0.12, 0.12, 0.15, 0.1, 0.12, 0.09, 0.05)


def _walker(t: np.ndarray, rng: np.random.Generator, p: SimParams) -> tuple[Pose, Body]:
    """A person crossing the view at walking speed (40-120 px/s), arms swinging, body bobbing."""
    body = Body.random(rng, replace(p, body_scale=p.body_scale * rng.uniform(0.5, 1.1)))
    pose = gesture_pose(IDLE, t, body, rng, p)
    v = rng.uniform(40, 120) * rng.choice([-1.0, 1.0])
    x0 = rng.uniform(-30, 30) + (SIZE / 2 - v * t.mean())
    f = rng.uniform(0.8, 1.1)  # steps per second / 2
    dx = np.stack([x0 + v * t - body.cx, 1.2 * np.abs(np.sin(2 * np.pi * f * t))], -1)
    swing = 0.35 * np.sin(2 * np.pi * f * t)
    arms = []
    for side, arm, s in ((-1.0, pose.right, 1.0), (1.0, pose.left, -1.0)):
        a1 = side * 0.1 + s * swing
        arms.append(tuple(j + dx for j in _arm_from_angles(arm[0], a1, a1 + side * 0.1 + 0.3 * np.abs(swing), a1, body)))
    pose = Pose(neck=pose.neck + dx, head=pose.head + dx, hip=pose.hip + dx, right=arms[0], left=arms[1])
    return pose, body


def _moving_objects(t: np.ndarray, rng: np.random.Generator, n: int, speed: tuple[float, float],
                    common_velocity: bool, base: float, size: float = 1.0) -> list[Extra]:
    """``n`` boxes (capsules) crossing the view in straight lines."""
    out = []
    v_all = rng.uniform(*speed) * np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)])
    for _ in range(n):
        v = v_all if common_velocity else rng.uniform(*speed) * np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)])
        p_mid = rng.uniform(0, SIZE, 2)
        pos = p_mid[None] + (t - t.mean())[:, None] * v[None]
        length, ang = size * rng.uniform(5, 45), rng.uniform(0, np.pi)
        d = length * np.array([np.cos(ang), np.sin(ang)])
        out.append(Extra(a=pos - d / 2, b=pos + d / 2, r=float(size * rng.uniform(2, 14)),
                         level=float(np.clip(base * np.exp(rng.normal(0, 0.8)), 0.02, 1.0))))
    return out


def _traffic(t: np.ndarray, rng: np.random.Generator, base: float) -> list[Extra]:
    """A street seen from afar or from above at an angle: 2-12 vehicles (3-30 px) in 1-3 lanes at 10-120 px/s.

    The road's slope is one draw per scene (up to 0.5 rad either way), so vehicles move along it
    together, as on a real street filmed from a window."""
    out = []
    lanes = rng.uniform(20, SIZE - 10, size=rng.integers(1, 4))
    road = rng.uniform(-0.5, 0.5)
    for _ in range(rng.integers(2, 13)):
        y = rng.choice(lanes) + rng.normal(0, 3)
        v = rng.uniform(10, 120) * rng.choice([-1.0, 1.0])
        tilt = road + rng.normal(0, 0.05)
        x = rng.uniform(-20, SIZE + 20) + (t - t.mean()) * v * np.cos(tilt)
        pos = np.stack([x, y + (x - SIZE / 2) * np.tan(tilt)], -1)
        half = rng.uniform(3, 30) / 2
        d = half * np.array([np.cos(tilt), np.sin(tilt)])
        out.append(Extra(a=pos - d, b=pos + d, r=float(rng.uniform(1.5, 5)),
                         level=float(np.clip(base * np.exp(rng.choice([-1, 1]) * rng.uniform(0.3, 1.2)), 0.02, 1.0))))
    return out


def _spinner(t: np.ndarray, rng: np.random.Generator, base: float) -> list[Extra]:
    """A spinning object (a fan, a disk with marks or sectors): 1-8 bars turning about a centre at 0.5-5 Hz."""
    c = rng.uniform(20, SIZE - 20, 2)
    f = rng.uniform(0.5, 5.0) * rng.choice([-1.0, 1.0])
    R = rng.uniform(10, 90)
    out = [Extra(a=np.broadcast_to(c, (len(t), 2)), b=np.broadcast_to(c, (len(t), 2)), r=R,
                 level=float(np.clip(base * np.exp(rng.normal(0, 0.5)), 0.02, 1.0)))]
    n = int(rng.integers(1, 9))
    for k in range(n):
        a = 2 * np.pi * (f * t + k / n)
        u = np.stack([np.cos(a), np.sin(a)], -1)
        r0, r1 = rng.uniform(0, 0.4) * R, rng.uniform(0.6, 0.95) * R
        out.append(Extra(a=c + r0 * u, b=c + r1 * u, r=float(rng.uniform(1.5, 3 + 0.15 * R)),
                         level=float(np.clip(base * np.exp(rng.choice([-1, 1]) * rng.uniform(0.5, 1.2)), 0.02, 1.0))))
    return out


def negative_scene(kind: str, t: np.ndarray, rng: np.random.Generator, p: SimParams,
                   look: Look) -> tuple[Pose | None, Body | None, list[Extra], Look]:
    """(pose or None, body or None, objects, look) of a negative scene of ``kind``."""
    base = float(np.median(look.background))
    subject = rng.random() < 0.5
    pose = body = None
    if kind == "idle" or (kind in ("objects", "pan", "flicker", "spinner") and subject):
        body = Body.random(rng, p)
        pose = gesture_pose(IDLE, t, body, rng, p)
    extras: list[Extra] = []
    if kind == "walker":
        pose, body = _walker(t, rng, p)
    elif kind == "objects":
        extras = _moving_objects(t, rng, int(rng.integers(1, 5)), (20, 150), False, base)
    elif kind == "traffic":
        extras = _traffic(t, rng, base)
        look = replace(look, shake_px=rng.uniform(0.0, 0.4))
    elif kind == "spinner":
        extras = _spinner(t, rng, base)
    elif kind == "pan":
        extras = _moving_objects(t, rng, int(rng.integers(4, 16)), (10, 120), True, base, rng.uniform(1.0, 2.5))
        look = replace(look, shake_px=rng.uniform(0.2, 1.5),
                       pan_px_s=rng.uniform(-10, 10, 2))
    elif kind == "flicker":
        look = replace(look, flicker_amp=rng.uniform(0.03, 0.15))
    elif kind not in ("idle", "empty"):
        raise ValueError(f"unknown negative scene {kind!r}; one of {NEGATIVE_KINDS}")
    return pose, body, extras, look

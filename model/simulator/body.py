"""Articulated upper body facing the camera and the arm motion of each gesture class.

Image coordinates throughout: x to the right, y down (y = 0 at the top), pixels of the
128x128 sensor. The subject faces the camera, so the subject's RIGHT arm is on the image's
LEFT. Limb directions are angles ``a`` with unit vector ``(sin a, cos a)``: ``a = 0`` points
down, ``+pi/2`` to the image's right, ``pi`` up; a growing angle turns counter-clockwise on
the displayed image.

Rotation sense (``ROTATION_SENSE``): the DVS128 Gesture classes name the rotation as the
SUBJECT sees it, so "clockwise" turns COUNTER-clockwise on the displayed image (x right,
y down), for both arms. Measured on real recordings as the turn of the moving arm's event
centroid about its mean (20 ms bins, 1.45 s; ``measure.rotation_degrees``): class 3
-525 deg, 4 +567, 5 -559, 6 +526 (negative = counter-clockwise on the image).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IDLE = -1
# +1: the class's angle grows (counter-clockwise on the image), -1: it falls (clockwise).
ROTATION_SENSE = {3: +1.0, 4: -1.0, 5: +1.0, 6: -1.0}
# Typical repetition rate of each gesture (Hz); each sample scales it by 0.8-1.25.
FREQ_HZ = {0: 2.2, 1: 2.0, 2: 2.0, 3: 1.0, 4: 1.0, 5: 1.0, 6: 1.0, 7: 2.0, 8: 2.5, 9: 3.5}


@dataclass(frozen=True)
class Body:
    """One subject's proportions and placement (pixels); drawn at random per sample."""

    cx: float
    shoulder_y: float
    shoulder_half: float
    head_r: float
    neck: float
    upper: float
    fore: float
    hand: float
    arm_r: float
    torso_r: float

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Body":
        s = rng.uniform(0.85, 1.15)
        return cls(
            cx=64 + rng.uniform(-8, 8),
            shoulder_y=50 + rng.uniform(-6, 6),
            shoulder_half=19 * s * rng.uniform(0.9, 1.1),
            head_r=10 * s * rng.uniform(0.9, 1.1),
            neck=7 * s,
            upper=25 * s * rng.uniform(0.9, 1.1),
            fore=23 * s * rng.uniform(0.9, 1.1),
            hand=9 * s * rng.uniform(0.9, 1.1),
            arm_r=6.0 * s * rng.uniform(0.85, 1.15),
            torso_r=17 * s * rng.uniform(0.9, 1.1),
        )


def unit(a: np.ndarray) -> np.ndarray:
    """Direction vectors [..., 2] of angles ``a`` (0 = down, growing counter-clockwise on the image)."""
    return np.stack([np.sin(a), np.cos(a)], axis=-1)


def ik(shoulder: np.ndarray, target: np.ndarray, l1: float, l2: float, bend: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-link inverse kinematics in the image plane: (elbow [F,2], wrist [F,2]).

    ``bend`` = +1 or -1 picks the side the elbow points to; unreachable targets are
    pulled onto the arm's reach.
    """
    d = target - shoulder
    r = np.linalg.norm(d, axis=-1, keepdims=True)
    r_ok = np.clip(r, abs(l1 - l2) + 1e-3, l1 + l2 - 1e-3)
    dirn = d / np.maximum(r, 1e-6)
    cos_a = (l1**2 + r_ok**2 - l2**2) / (2 * l1 * r_ok)
    a = np.arccos(np.clip(cos_a, -1, 1))
    rot = np.concatenate([dirn[..., :1] * np.cos(a) - bend * dirn[..., 1:] * np.sin(a),
                          bend * dirn[..., :1] * np.sin(a) + dirn[..., 1:] * np.cos(a)], axis=-1)
    elbow = shoulder + l1 * rot
    wrist = shoulder + r_ok * dirn
    return elbow, wrist


@dataclass(frozen=True)
class Pose:
    """Joint positions over F frames, each [F, 2]: arms are (shoulder, elbow, wrist, hand tip)."""

    neck: np.ndarray
    head: np.ndarray
    hip: np.ndarray
    right: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    left: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, n: int, f_lo: float, f_hi: float) -> np.ndarray:
    """A sum of ``n`` random sinusoids per output column: smooth random motion [F, 2] of unit scale."""
    f = rng.uniform(f_lo, f_hi, size=(n, 2))
    ph = rng.uniform(0, 2 * np.pi, size=(n, 2))
    return np.sin(2 * np.pi * f[None] * t[:, None, None] + ph[None]).sum(axis=1) / np.sqrt(n)


def _arm_from_angles(sh: np.ndarray, a1: np.ndarray, a2: np.ndarray, ah: np.ndarray, body: Body,
                     k1: np.ndarray | float = 1.0, k2: np.ndarray | float = 1.0):
    """Arm joints from absolute segment angles; ``k`` shortens segments pointing at the camera."""
    k1 = np.asarray(k1)[..., None] if np.ndim(k1) else k1
    k2 = np.asarray(k2)[..., None] if np.ndim(k2) else k2
    el = sh + body.upper * k1 * unit(a1)
    wr = el + body.fore * k2 * unit(a2)
    tip = wr + body.hand * unit(ah)
    return sh, el, wr, tip


def _arm_from_target(sh: np.ndarray, target: np.ndarray, body: Body, bend: float, reach: float = 1.0):
    """Arm joints reaching for ``target`` (wrist) with the hand continuing the forearm."""
    el, wr = ik(sh, target, body.upper * reach, body.fore * reach, bend)
    d = wr - el
    d = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-6)
    return sh, el, wr, wr + body.hand * d


def _rest_arm(sh: np.ndarray, side: float, body: Body, t: np.ndarray, rng: np.random.Generator):
    """A hanging arm swinging slightly; ``side`` = -1 for the image-left (subject's right) arm."""
    jitter = 0.05 * _smooth_noise(rng, t, 2, 0.1, 0.5)
    a1 = side * (0.12 + rng.uniform(0, 0.1)) + jitter[:, 0]
    a2 = a1 + side * rng.uniform(-0.05, 0.15) + jitter[:, 1]
    return _arm_from_angles(sh, a1, a2, a2, body)


def gesture_pose(cls: int, t: np.ndarray, body: Body, rng: np.random.Generator) -> Pose:
    """Joint trajectories of a subject performing class ``cls`` (IDLE for none) at times ``t`` (s)."""
    sway = np.array([0.6, 0.3]) * rng.uniform(0.3, 1.0) * _smooth_noise(rng, t, 3, 0.1, 0.6)
    neck = np.array([body.cx, body.shoulder_y - 3])[None] + sway
    head = neck + np.array([0.0, -(body.neck + body.head_r)]) + 0.6 * _smooth_noise(rng, t, 2, 0.1, 0.8)
    hip = neck + np.array([0.0, 90.0])
    sh_r = neck + np.array([-body.shoulder_half, 3.0])
    sh_l = neck + np.array([body.shoulder_half, 3.0])
    speed = rng.uniform(0.8, 1.25)
    amp = rng.uniform(0.8, 1.2)
    ph = rng.uniform(0, 2 * np.pi)
    right = _rest_arm(sh_r, -1.0, body, t, rng)
    left = _rest_arm(sh_l, 1.0, body, t, rng)
    wob = _smooth_noise(rng, t, 3, 0.2, 1.5)

    if cls == 0:  # hand clapping: hands meet in front of the chest
        f = FREQ_HZ[cls] * speed
        y = body.shoulder_y + 38 + rng.uniform(-6, 6) + 2 * wob[:, 1]
        half = (2 + 13 * amp * (0.5 - 0.5 * np.cos(2 * np.pi * f * t + ph))) + 1.5
        cxm = body.cx + 2 * wob[:, 0]
        right = _arm_from_target(sh_r, np.stack([cxm - half, y], -1), body, +1.0, 0.8)
        left = _arm_from_target(sh_l, np.stack([cxm + half, y], -1), body, -1.0, 0.8)
    elif cls in (1, 2):  # hand wave: forearm up, waving about the elbow
        side = -1.0 if cls == 1 else 1.0
        sh = sh_r if cls == 1 else sh_l
        f = FREQ_HZ[cls] * speed
        a1 = side * rng.uniform(0.9, 1.35) + 0.05 * wob[:, 0]
        a2 = np.pi + side * 0.15 + 0.5 * amp * np.sin(2 * np.pi * f * t + ph)
        arm = _arm_from_angles(sh, a1, a2, a2, body)
        right, left = (arm, left) if cls == 1 else (right, arm)
    elif cls in (3, 4, 5, 6):  # arm circles: a nearly straight arm swept around the shoulder
        sh = sh_r if cls in (3, 4) else sh_l
        f = FREQ_HZ[cls] * speed
        a1 = ROTATION_SENSE[cls] * 2 * np.pi * f * t + ph
        a2 = a1 + 0.15 * np.sin(a1) + 0.05 * wob[:, 0]
        arm = _arm_from_angles(sh, a1, a2, a2, body)
        right, left = (arm, left) if cls in (3, 4) else (right, arm)
    elif cls == 7:  # arm roll: forearms circling each other in front of the belly
        f = FREQ_HZ[cls] * speed * rng.choice([-1.0, 1.0])
        c = np.array([body.cx, body.shoulder_y + 42 + rng.uniform(-5, 5)])
        rx, ry = 14 * amp, 9 * amp
        w = 2 * np.pi * f * t + ph
        tr = c + np.stack([-6 + rx * np.cos(w), ry * np.sin(w)], -1)
        tl = c + np.stack([6 + rx * np.cos(w + np.pi), ry * np.sin(w + np.pi)], -1)
        right = _arm_from_target(sh_r, tr, body, +1.0, 0.85)
        left = _arm_from_target(sh_l, tl, body, -1.0, 0.85)
    elif cls == 8:  # air drums: both hands striking up and down in front of the hips
        f = FREQ_HZ[cls] * speed
        base = body.shoulder_y + 40
        hit = lambda p: 30 * amp * (np.abs(np.sin(np.pi * f * t + p)) - 0.5)
        tr = np.stack([body.cx - 22 + 6 * wob[:, 0], base + hit(ph)], -1)
        tl = np.stack([body.cx + 22 + 6 * wob[:, 1], base + hit(ph + np.pi / 2)], -1)
        right = _arm_from_target(sh_r, tr, body, -1.0, 0.9)
        left = _arm_from_target(sh_l, tl, body, +1.0, 0.9)
    elif cls == 9:  # air guitar: left hand out on the neck, right hand strumming at the hip
        f = FREQ_HZ[cls] * speed
        strum = np.stack([body.cx - 12 + 2 * wob[:, 0],
                          body.shoulder_y + 55 + 9 * amp * np.sin(2 * np.pi * f * t + ph)], -1)
        right = _arm_from_target(sh_r, strum, body, -1.0)
        neck_pt = np.stack([sh_l[:, 0] + 40 + 3 * wob[:, 0], body.shoulder_y + 30 + 3 * wob[:, 1]], -1)
        left = _arm_from_target(sh_l, neck_pt, body, +1.0)
    elif cls == 10:  # other gestures: random smooth reaching of one or both arms
        kind = rng.integers(3)
        def wander(sh, side):
            c = sh + np.array([side * rng.uniform(5, 30), rng.uniform(-20, 40)])
            return c + np.array([18, 16]) * amp * _smooth_noise(rng, t, 3, 0.4, 1.6)
        if kind in (0, 2):
            right = _arm_from_target(sh_r, wander(sh_r, -1), body, rng.choice([-1.0, 1.0]))
        if kind in (1, 2):
            left = _arm_from_target(sh_l, wander(sh_l, 1), body, rng.choice([-1.0, 1.0]))
    elif cls != IDLE:
        raise ValueError(f"class index must be -1 (idle) or 0..10, got {cls}")
    return Pose(neck=neck, head=head, hip=hip, right=right, left=left)

"""Live sessions: one simulated subject performing gestures with idle gaps of three kinds.

A session starts in an empty room; the subject walks in, stops, and performs its gestures
in turn. Between two gestures the subject either stands still or steps out of view and
walks back (an empty room while out of view, when the gap is long enough); after the last
one it stands still or walks away. Scene states are reported per interval, so a benchmark
can tell apart idle windows of a still subject, a walking one and an empty room::

    events, timeline, scenes = generate_session([3, 7], seed=24_000_000)

``scenes`` holds ``(start_us, end_us, state)`` with state "still", "walking" or "empty",
covering the idle gaps (gesture intervals are ``timeline``'s).
"""

from __future__ import annotations

import numpy as np

from eventcore.labels import CLASS_NAMES, LabelTimeline
from model.simulator.body import IDLE, Body, Pose, gesture_pose
from model.simulator.dvs import PixelParams, log_video_to_events
from model.simulator.params import CALIBRATED
from model.simulator.render import SIZE, Look, render

STEP_S = 0.002  # render step, as generate.py
FADE_S = 0.4  # pose blend from the idle pose into a gesture and back, inside its labelled interval
SETTLE_S = (0.3, 0.6)  # standing still after walking in, before the next gesture
WALK_PX_S = (70.0, 130.0)  # walking speed across the view
STATES = ("still", "walking", "empty")


def plan_sessions(n_gestures: int, per_session: int, seed0: int) -> list[tuple[int, list[int]]]:
    """(seed, classes) of each session, seeds ``seed0`` and up: every class equally often, in a shuffled order."""
    rng = np.random.default_rng(seed0)
    k = len(CLASS_NAMES)
    order = np.concatenate([rng.permutation(k) for _ in range(-(-n_gestures // k))])[:n_gestures]
    return [(seed0 + i, order[j:j + per_session].tolist()) for i, j in enumerate(range(0, n_gestures, per_session))]


def _joints(p: Pose) -> np.ndarray:
    return np.stack([p.neck, p.head, p.hip, *p.right, *p.left], axis=1)


def _pose(j: np.ndarray) -> Pose:
    return Pose(neck=j[:, 0], head=j[:, 1], hip=j[:, 2], right=tuple(j[:, 3 + i] for i in range(4)),
                left=tuple(j[:, 7 + i] for i in range(4)))


def _ramp(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 before ``t0``, 1 after ``t1``, a smooth (cosine) step between."""
    x = np.clip((t - t0) / max(t1 - t0, 1e-9), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _out_of_view_px(body: Body) -> float:
    """Horizontal shift that puts the whole subject (arms included) outside the view."""
    return SIZE / 2 + 1.3 * (body.shoulder_half + body.upper + body.fore + body.hand) + 10


def _draw_gaps(n: int, rng: np.random.Generator, gap_s: tuple[float, float], walk_share: float,
               trail: str) -> tuple[list[float], list[str]]:
    """Durations and kinds of the ``n + 1`` gaps: "enter", then "still"/"walk", then "still"/"leave"."""
    lo, hi = gap_s
    kinds = ["enter"] + ["walk" if rng.random() < walk_share else "still" for _ in range(n - 1)] + [trail]
    durs = [rng.uniform(max(lo, 2.0), max(hi, 2.0)) if k != "still" else rng.uniform(lo, hi) for k in kinds]
    return durs, kinds


def generate_session(classes, seed: int, gesture_s: tuple[float, float] = (1.0, 6.0),
                     gap_s: tuple[float, float] = (0.5, 4.0), walk_share: float = 0.4,
                     step_s: float = STEP_S) -> tuple[np.ndarray, LabelTimeline, list[tuple[int, int, str]]]:
    """One subject's session: (events, gesture timeline, idle scene intervals (start_us, end_us, state)).

    ``walk_share`` of the gaps between gestures are walks out of view and back; the others are
    the subject standing still (``gap_s``). The last gap is a walk away or standing still, at
    even odds. Gaps with a walk (the first one included) last at least 2 s.
    """
    rng = np.random.default_rng(seed)
    p = CALIBRATED
    body = Body.random(rng, p)
    cls_list = [int(c) for c in classes]
    durs, kinds = _draw_gaps(len(cls_list), rng, gap_s, walk_share, "leave" if rng.random() < 0.5 else "still")
    segs: list[tuple[int, float, str]] = [(IDLE, durs[0], kinds[0])]
    for c, d, k in zip(cls_list, durs[1:], kinds[1:]):
        segs += [(c, rng.uniform(*gesture_s), "gesture"), (IDLE, d, k)]
    bounds = np.concatenate([[0.0], np.cumsum([d for _, d, _ in segs])])
    t = np.arange(0.0, bounds[-1], step_s)

    # the idle pose everywhere; each gesture blended in over its first FADE_S and out over its
    # last, so that its label covers all of its motion (its start is when the arms start moving)
    joints = _joints(gesture_pose(IDLE, t, body, rng, p))
    for (c, _, _), s0, s1 in zip(segs, bounds[:-1], bounds[1:]):
        if c == IDLE:
            continue
        sel = (t >= s0) & (t < s1)
        w = _ramp(t[sel], s0, s0 + FADE_S) * (1 - _ramp(t[sel], s1 - FADE_S, s1))
        g = _joints(gesture_pose(c, t[sel] - s0, body, rng, p))
        joints[sel] += (g - joints[sel]) * w[:, None, None]

    # walking: a horizontal shift of the whole subject, with a step's bob
    far = _out_of_view_px(body) * rng.choice([-1.0, 1.0])
    dx = np.zeros_like(t)
    scenes: list[tuple[float, float, str]] = []
    for (c, _, kind), s0, s1 in zip(segs, bounds[:-1], bounds[1:]):
        if c != IDLE:
            continue
        v = rng.uniform(*WALK_PX_S)
        if kind == "still":
            scenes.append((s0, s1, "still"))
            continue
        t_in = s1 - rng.uniform(*SETTLE_S)  # back in place
        t_out = s0 + rng.uniform(0.1, 0.4)  # starts leaving soon after the gesture
        if kind == "enter":
            t_walk = min(abs(far) / v, t_in - s0)
            dx += far * (1 - _ramp(t, t_in - t_walk, t_in)) * (t < s1)
            scenes += [(s0, t_in - t_walk, "empty"), (t_in - t_walk, t_in, "walking"), (t_in, s1, "still")]
        elif kind == "leave":
            t_walk = min(abs(far) / v, s1 - t_out)
            dx += far * _ramp(t, t_out, t_out + t_walk) * (t >= s0)
            scenes += [(s0, t_out, "still"), (t_out, t_out + t_walk, "walking"), (t_out + t_walk, s1, "empty")]
        else:  # walk out of view (as far as the gap allows) and back
            reach = min(abs(far), v * (t_in - t_out) / 2)
            t_walk = reach / v
            sign = np.sign(far)
            away = _ramp(t, t_out, t_out + t_walk) - _ramp(t, t_in - t_walk, t_in)
            dx += sign * reach * away * (t >= s0) * (t < s1)
            mid = "empty" if reach >= abs(far) else "walking"
            scenes += [(s0, t_out, "still"), (t_out, t_out + t_walk, "walking"), (t_out + t_walk, t_in - t_walk, mid),
                       (t_in - t_walk, t_in, "walking"), (t_in, s1, "still")]
    moving = np.abs(np.gradient(dx, step_s)) > 1.0
    bob = 1.2 * np.abs(np.sin(2 * np.pi * 0.95 * t)) * moving
    joints = joints + np.stack([dx, bob], -1)[:, None, :]

    look = Look.random(rng, p)
    px = PixelParams.random(rng, (SIZE, SIZE), p)
    events = log_video_to_events(render(_pose(joints), body, look, t, rng), px, rng)
    gest = [(c, s0, s1) for (c, _, _), s0, s1 in zip(segs, bounds[:-1], bounds[1:]) if c != IDLE]
    timeline = LabelTimeline(
        start_us=np.array([round(s0 * 1e6) for _, s0, _ in gest], dtype=np.int64),
        end_us=np.array([round(s1 * 1e6) for _, _, s1 in gest], dtype=np.int64),
        label=np.array([c for c, _, _ in gest], dtype=np.int64),
    )
    scene_us = [(round(a * 1e6), round(b * 1e6), s) for a, b, s in scenes if b > a]
    return events, timeline, scene_us

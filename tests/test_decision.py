"""Decision smoothing: idle and unsure windows give "no gesture"; smoothing damps flicker."""

from __future__ import annotations

import numpy as np

from eventcore.decision import NO_GESTURE, DecisionSmoother
from eventcore.labels import CLASS_NAMES


def one_hot(i: int, level: float = 0.9) -> np.ndarray:
    r = np.full(11, 0.02)
    r[i] = level
    return r


def test_confident_window_is_decided():
    d = DecisionSmoother(CLASS_NAMES).update(one_hot(4), n_events=50_000)
    assert d.index == 4 and d.label == "right_arm_counter_clockwise" and d.confidence > 0.8


def test_idle_scene_is_no_gesture_even_if_the_model_fires():
    d = DecisionSmoother(CLASS_NAMES, min_events=1000).update(one_hot(4), n_events=10)
    assert d.index == -1 and d.label == NO_GESTURE and "idle" in d.reason


def test_unsure_and_ambiguous_windows_are_no_gesture():
    s = DecisionSmoother(CLASS_NAMES, min_confidence=0.3)
    assert s.update(np.full(11, 0.1), 50_000).index == -1
    s.reset()
    r = one_hot(1, 0.6)
    r[2] = 0.58
    assert "ambiguous" in s.update(r, 50_000).reason


def test_one_outlier_window_does_not_flip_a_steady_decision():
    s = DecisionSmoother(CLASS_NAMES, history=5)
    for _ in range(5):
        s.update(one_hot(7), 50_000)
    assert s.update(one_hot(2, 0.95), 50_000).index == 7
    for _ in range(6):
        d = s.update(one_hot(2, 0.95), 50_000)
    assert d.index == 2

"""Decision smoothing: idle and unsure windows give "no gesture"; smoothing damps flicker."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_settings_are_declared_once_and_validated():
    from eventcore.decision import DECISION, DecisionSettings

    s = DecisionSmoother(CLASS_NAMES)
    assert s.settings == DECISION and s.min_confidence == DECISION.min_confidence
    assert s.lengths_us(1_000_000)[-1] == 1_000_000
    for bad in ({"fractions": (0.5,)}, {"fractions": (1.0, 0.5)}, {"combine": "vote"}, {"history": 0}):
        try:
            DecisionSettings(**bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")


def test_idle_windows_need_their_share_of_events():
    from eventcore.decision import DecisionSettings

    s = DecisionSmoother(CLASS_NAMES, settings=DecisionSettings(fractions=(0.25, 1.0), min_events=2000))
    rates = np.stack([one_hot(3), one_hot(10, 0.4)])
    # the short window holds 600 events (over its 500), the whole one 1,800 (under 2,000): the short one decides
    d = s.update(rates, [600, 1800])
    assert d.index == 3
    s.reset()
    assert s.update(rates, [400, 1800]).index == -1 and "idle" in s.update(rates, [400, 1800]).reason


def test_commit_names_a_clear_hop_at_once_and_onset_marks_the_first_naming():
    from eventcore.decision import DecisionSettings

    slow = DecisionSmoother(CLASS_NAMES, settings=DecisionSettings(history=5))
    fast = DecisionSmoother(CLASS_NAMES, settings=DecisionSettings(history=5, commit=0.8))
    for sm in (slow, fast):
        sm.update(np.full(11, 0.05), 50_000)  # nothing yet
    d_slow, d_fast = slow.update(one_hot(6), 50_000), fast.update(one_hot(6), 50_000)
    assert d_slow.index == -1 and d_fast.index == 6 and d_fast.onset
    again = fast.update(one_hot(6), 50_000)
    assert again.index == 6 and not again.onset, "still the same gesture: no new onset"
    # a hop that is not clear (top 0.6) does not commit
    fresh = DecisionSmoother(CLASS_NAMES, settings=DecisionSettings(history=5, commit=0.8))
    fresh.update(np.full(11, 0.05), 50_000)
    assert fresh.update(one_hot(6, 0.6), 50_000).index == -1


def test_other_gestures_must_lead_longer_but_a_whole_recording_is_decided_at_once():
    from eventcore.decision import DecisionSettings

    other = CLASS_NAMES.index("other_gestures")
    s = DecisionSmoother(CLASS_NAMES, settings=DecisionSettings(other_hops=3))
    got = [s.update(one_hot(other), 50_000) for _ in range(3)]
    assert [d.index for d in got] == [-1, -1, other] and got[2].onset and "other_gestures?" in got[0].reason
    # a named gesture is not held back, and a one-shot decision skips the wait and leaves the state alone
    fresh = DecisionSmoother(CLASS_NAMES, settings=DecisionSettings(other_hops=3))
    assert fresh.update(one_hot(2), 50_000).index == 2
    before = fresh.state.copy()
    assert fresh.decide_once(one_hot(other), 50_000).index == other
    np.testing.assert_array_equal(fresh.state, before)


def test_other_gestures_needs_its_own_higher_confidence():
    """A car or a spinning disk gives ``other_gestures`` rates of 0.4-0.6; a gesture at that rate is named."""
    from eventcore.decision import DecisionSettings

    other = CLASS_NAMES.index("other_gestures")
    settings = DecisionSettings(min_confidence=0.4, other_confidence=0.6, other_hops=1, history=1)
    s = DecisionSmoother(CLASS_NAMES, settings=settings)
    assert s.update(one_hot(other, 0.5), 50_000).index == -1
    assert s.update(one_hot(other, 0.7), 50_000).index == other
    assert DecisionSmoother(CLASS_NAMES, settings=settings).update(one_hot(3, 0.5), 50_000).index == 3
    with pytest.raises(ValueError, match="other_confidence"):
        DecisionSettings(other_confidence=1.5)


def test_a_named_gesture_is_held_on_the_long_windows_and_released_when_it_fades():
    """Once named (short window clear), a gesture is kept while the 0.5 + 1 s windows still rate it on top at
    ``hold_confidence``, although a noisy short window and a low rate would not name it afresh."""
    from eventcore.decision import DecisionSettings

    settings = DecisionSettings(fractions=(0.25, 0.5, 1.0), history=1, min_confidence=0.4, min_margin=0.2,
                                hold_from=0.5, hold_confidence=0.25, min_events=10)
    s = DecisionSmoother(CLASS_NAMES, settings=settings)
    n = [100, 200, 400]
    assert s.update(np.stack([one_hot(4, 0.9), one_hot(4, 0.6), one_hot(4, 0.5)]), n).index == 4
    # the short window now says something else; the long ones rate 4 at 0.3: held (afresh: unsure)
    noisy = np.stack([one_hot(7, 0.9), one_hot(4, 0.3), one_hot(4, 0.3)])
    held = s.update(noisy, n)
    assert held.index == 4 and held.reason == "held" and not held.onset
    assert s.lengths_us(1_000_000) == (500_000, 1_000_000)  # the short window is not even classified
    assert s.update(np.stack([one_hot(4, 0.3)] * 2), n[1:]).reason == "held"  # the long windows alone do
    fresh = DecisionSmoother(CLASS_NAMES, settings=settings)
    assert fresh.update(noisy, n).index == -1
    # faded under the hold level: released; without the hold stage it is released at once
    assert s.update(np.stack([one_hot(4, 0.2)] * 3), n).index == -1
    assert s.lengths_us(1_000_000) == (250_000, 500_000, 1_000_000)
    plain = DecisionSmoother(CLASS_NAMES, settings=settings.changed(hold_from=None))
    plain.update(np.stack([one_hot(4, 0.9), one_hot(4, 0.6), one_hot(4, 0.5)]), n)
    assert plain.update(noisy, n).index == -1
    with pytest.raises(ValueError, match="hold_from"):
        DecisionSettings(hold_from=0.0)


def test_windows_that_agree_name_their_class_where_the_margin_alone_would_not():
    from eventcore.decision import DecisionSettings

    st = DecisionSettings(fractions=(0.25, 0.5, 1.0), min_margin=0.2, agree_confidence=0.4, hold_from=None)
    rates = np.stack([one_hot(3, 0.5), one_hot(3, 0.45), one_hot(3, 0.5)])
    rates[:, 5] = [0.35, 0.3, 0.3]  # a close second everywhere: the margin (0.17) is too small
    busy = [20_000, 20_000, 20_000]
    plain = DecisionSmoother(CLASS_NAMES, settings=st.changed(agree_confidence=None)).update(rates, busy)
    assert plain.index == -1 and "ambiguous" in plain.reason
    d = DecisionSmoother(CLASS_NAMES, settings=st).update(rates, busy)
    assert d.index == 3 and d.reason == "windows agree"
    split = rates.copy()
    split[0, 5] = 0.6  # the short window says another class: no agreement, the rule waits
    assert DecisionSmoother(CLASS_NAMES, settings=st).update(split, busy).index == -1
    assert DecisionSmoother(CLASS_NAMES, settings=st).update(rates, [20, 20_000, 20_000]).index == -1, \
        "an idle window cannot agree"
    low = rates * 0.7  # agreeing, but below agree_confidence
    assert DecisionSmoother(CLASS_NAMES, settings=st).update(low, busy).index == -1
    other = np.stack([one_hot(10, 0.5)] * 3)
    other[:, 5] = 0.35
    assert DecisionSmoother(CLASS_NAMES, settings=st).update(other, busy).index == -1, "other_gestures needs more"
    with pytest.raises(ValueError, match="agree_confidence"):
        DecisionSettings(agree_confidence=1.5)


def test_the_whole_window_names_a_far_subjects_gesture_alone_but_not_at_a_gestures_first_moves():
    from eventcore.decision import DecisionSettings

    st = DecisionSettings(fractions=(0.25, 0.5, 1.0), min_margin=0.2, long_confidence=0.6, steady_slack=0.15,
                          hold_from=None)
    # a far subject (benchmarks.robustness, 0.6x): the short windows read other_gestures weakly, the whole window is clear
    rates = np.stack([one_hot(10, 0.4), one_hot(10, 0.3), one_hot(5, 0.65)])
    steady = [5_000, 10_000, 20_000]  # events spread over the whole window
    plain = DecisionSmoother(CLASS_NAMES, settings=st.changed(long_confidence=None)).update(rates, steady)
    assert plain.index == -1 and "unsure" in plain.reason
    d = DecisionSmoother(CLASS_NAMES, settings=st).update(rates, steady)
    assert d.index == 5 and d.reason == "whole window clear" and d.confidence == pytest.approx(0.65)
    crowded = [9_000, 15_000, 20_000]  # a gesture just begun: its events crowd into the short windows
    assert DecisionSmoother(CLASS_NAMES, settings=st).update(rates, crowded).index == -1
    assert DecisionSmoother(CLASS_NAMES, settings=st).update(rates * [[1], [1], [0.8]], steady).index == -1, \
        "below long_confidence"
    torn = rates.copy()
    torn[2, 4] = 0.5  # the whole window's own margin is too small
    assert DecisionSmoother(CLASS_NAMES, settings=st).update(torn, steady).index == -1
    other = np.stack([one_hot(3, 0.2), one_hot(3, 0.2), one_hot(10, 0.55)])
    assert DecisionSmoother(CLASS_NAMES, settings=st.changed(long_confidence=0.5)).update(other, steady).index == -1, \
        "other_gestures alone still needs other_confidence"
    single = DecisionSmoother(CLASS_NAMES, settings=DecisionSettings(fractions=(1.0,), history=5, long_confidence=0.6))
    single.update(np.full(11, 0.05), 50_000)
    assert single.update(one_hot(6), 50_000).index == -1, "one window: nothing to speak alone against, smoothing rules"
    for bad in ({"long_confidence": 1.5}, {"steady_slack": -0.1}):
        with pytest.raises(ValueError):
            DecisionSettings(**bad)

"""The decision-latency benchmark: its figures on a constructed case whose answer is known, and the
simulated sessions it plays (gaps covered by scene states; an empty room is nearly silent)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.decision_latency import Session, candidate_rule, score_session, summarise
from eventcore.labels import LabelTimeline

S = 1_000_000


def constructed() -> tuple[Session, np.ndarray, np.ndarray]:
    """Gestures of class 2 (2-4 s) and 5 (5-8 s); decisions every 100 ms, hand-written."""
    tl = LabelTimeline(np.array([2 * S, 5 * S]), np.array([4 * S, 8 * S]), np.array([2, 5]))
    scenes = [(0, 1_050_000, "empty"), (1_050_000, 2 * S, "walking"), (4 * S, 5 * S, "still"), (8 * S, 10 * S, "still")]
    t = np.arange(100_000, 10 * S + 1, 100_000)
    d = np.full(len(t), -1)
    at = lambda a, b: (t >= a) & (t <= b)  # noqa: E731
    d[at(2_300_000, 2_400_000)] = 7  # named wrong first
    d[at(2_500_000, 4_500_000)] = 2  # 500 ms after its start; released at 4.6 s
    d[at(5_400_000, 8_600_000)] = 5  # 400 ms; released at 8.7 s
    d[at(7 * S, 7 * S)] = 3  # one wrong window inside the second gesture
    d[at(9_500_000, 9_500_000)] = 0  # one idle window naming a gesture
    return Session(0, np.empty(0), tl, scenes), t, d


def test_figures_of_a_constructed_case():
    s, t, d = constructed()
    gestures, idle, pairs = score_session(s, t, d)
    assert [(g.cls, g.first_correct - g.start, g.first_named, g.release) for g in gestures] == [
        (2, 500_000, 7, 600_000), (5, 400_000, 5, 700_000)]
    # gap 0-2 s: windows ending 1.0-1.5 s mostly empty room, 1.6-2.0 s mostly walking; 4-5 s: one
    # window; after 8 s: windows ending 9.0-10.0 s, one naming a gesture
    assert {k: (len(v), sum(v)) for k, v in idle.items()} == {"still": (12, 1), "walking": (5, 0), "empty": (6, 0)}
    assert len(pairs) == 11 + 21 and sum(a == b for a, b in pairs) == 31
    m = summarise(gestures, idle, pairs)
    o = m["overall"]
    assert (o["median_ms"], o["p90_ms"], o["first_wrong"], o["missed"]) == (450, 500, 0.5, 0.0)
    assert o["inside_right"] == 31 / 32 and o["release_ms"] == 650
    assert m["idle_named"] == 1 / 23 and m["idle_named_by_state"]["still"] == (1 / 12, 12)
    assert m["per_class"]["left_arm_clockwise"]["first_wrong"] == 0.0
    assert m["per_class"]["left_hand_wave"]["median_ms"] == 500
    assert o["median_ci_ms"] == (400, 500) and o["first_wrong_ci"] == pytest.approx((0.095, 0.905), abs=1e-3)


def test_the_median_interval_narrows_with_more_gestures():
    from benchmarks.decision_latency import median_interval

    v = np.arange(1, 67, dtype=float)  # 66 latencies 1..66: the median's 95 % interval spans ranks 25-42
    assert median_interval(v) == (25.0, 42.0)
    assert median_interval(np.arange(1, 661, dtype=float)) == (304.0, 357.0)


def test_a_gesture_never_named_right_counts_as_missed_with_no_latency():
    s, t, d = constructed()
    d[d == 5] = -1
    m = summarise(*score_session(s, t, d))
    assert m["per_class"]["left_arm_clockwise"]["missed"] == 1.0
    assert m["overall"]["p90_ms"] == np.inf and m["overall"]["median_ms"] == np.inf


def test_a_simulated_session_covers_its_gaps_with_scene_states():
    from model.simulator.sequence import STATES, generate_session

    events, tl, scenes = generate_session([1], seed=3, gesture_s=(1.0, 1.0), gap_s=(0.5, 0.5))
    (a, b), end = (int(tl.start_us[0]), int(tl.end_us[0])), scenes[-1][1]
    assert b - a == S and {st for _, _, st in scenes} <= set(STATES)
    edges = [(x, y) for x, y, _ in scenes]
    assert edges[0][0] == 0 and all(y1 == x2 or (y1, x2) == (a, b) for (_, y1), (x2, _) in zip(edges, edges[1:]))
    ts = events["timestamp"]
    rate = lambda x, y: (np.searchsorted(ts, y) - np.searchsorted(ts, x)) / (y - x)  # noqa: E731
    empty = [(x, y) for x, y, st in scenes if st == "empty"]
    assert empty and empty[0][0] == 0, "a session starts in an empty room"
    assert rate(*empty[0]) < rate(a, b) / 5


def test_the_card_section_holds_the_overall_row(tmp_path):
    from benchmarks.common import put_card_section
    from benchmarks.decision_latency import CARD_HEADING, card_body

    s, t, d = constructed()
    card = tmp_path / "card.md"
    card.write_text("# model\n\n## Demo recordings\nx\n")
    put_card_section(card, CARD_HEADING, card_body("small64", summarise(*score_session(s, t, d)), 1, None))
    text = card.read_text()
    assert "## Decision latency" in text and "| **all** | 2 | **450** (400-500) | **500** | **50 %** (9.5-90.5 %) |" in text
    assert "**4 %** (0.8-21.0 %) of 23" in text, "idle windows named, with their 95 % interval"
    assert text.index("## Decision latency") < text.index("## Demo recordings")


def test_onset_clips_hold_the_idle_scene_then_the_gesture_start(tmp_path):
    """Training clips for early decisions: the second before each gesture and its first second,
    with the start saved, and idle clips that end where a gesture starts; seeds apart from the benchmark's."""
    from benchmarks.decision_latency import SEED0 as BENCH_SEED0
    from model.datasets.shards import load_onset, load_sample
    from model.simulator import onsets

    assert onsets.SEED0 > BENCH_SEED0 + 10_000
    made = onsets.clips(5, [3, 8])
    clips_ = [(ev, label, on) for ev, label, on in made if on is not None]
    assert [label for _, label, _ in clips_] == [3, 8]
    for ev, _, on in clips_:
        t = ev["timestamp"]
        assert on - onsets.PRE_S * 1e6 <= t[0] < on < t[-1] <= on + onsets.POST_S * 1e6
    for ev, label, on in made:
        if on is None:
            assert label == -1 and any(ev["timestamp"][-1] < o for _, _, o in clips_)
    n = onsets.write_clips(tmp_path, sessions=1, seed0=5)
    files = sorted((tmp_path / "train").glob("*.npz"))
    assert n == len(files) >= 3
    shards = [(load_sample(f)[1], load_onset(f)) for f in files]
    assert sum(on is not None for _, on in shards) == 3 and all((lab == -1) == (on is None) for lab, on in shards)


def test_the_candidate_marked_as_the_rule_is_the_apps_rule():
    """The candidates are spelled out whole, so the one the README calls the rule must be ``DECISION``."""
    from benchmarks.decision_latency import CANDIDATES
    from eventcore.decision import DECISION

    marked = [k for k in CANDIDATES if k.startswith("**the rule**")]
    assert len(marked) == 1
    changes, hop = CANDIDATES[marked[0]]
    assert DECISION.changed(**changes) == DECISION and hop == 100_000
    assert sum(DECISION.changed(**c) == DECISION and h == hop for c, h in CANDIDATES.values()) == 1


def test_the_pipeline_scored_as_it_runs_decides_as_the_replay_of_its_cached_rates():
    """``--framing auto`` scores the pipeline's own decisions; without framing they must be the
    decisions the cached-rate replay gives, or the two columns would not be comparable."""
    from app.inference import InferenceEngine
    from benchmarks.decision_latency import live_decisions, probe_rates, replay
    from eventcore.decision import DECISION
    from model.simulator.sequence import generate_session

    engine = InferenceEngine.from_checkpoint("small64", device="cpu", backend="torch")
    s = Session(3, *generate_session([8], seed=3, gesture_s=(1.5, 1.5), gap_s=(0.5, 0.5)))
    rates = probe_rates(engine, s)
    old = candidate_rule("1 s window")[1]  # an earlier rule played live must decide as its replay does too
    decided = {}
    for name, rule in (("app", None), ("old", old)):
        t_live, d_live = live_decisions(engine, s, None, rule=rule)
        t_rep, d_rep = replay(rates, rule or DECISION, engine.hop_us)
        n = min(len(t_live), len(t_rep))
        assert n >= len(t_live) - 1 and (d_live >= 0).sum() >= 3, "the session is decided, and gestures are named"
        np.testing.assert_array_equal(t_live[:n], t_rep[:n])
        np.testing.assert_array_equal(d_live[:n], d_rep[:n])
        decided[name] = d_live[:n]
    assert not np.array_equal(decided["app"], decided["old"]), "the earlier rule was not the one played"


def test_an_earlier_rule_is_found_by_the_start_of_its_name_and_a_vague_one_is_refused():
    from benchmarks.decision_latency import CANDIDATES
    from eventcore.decision import DECISION

    name, rule = candidate_rule("1 s window")
    assert name == "1 s window (until 2026-12-06)" and rule.fractions == (1.0,) and rule.history == 3
    assert candidate_rule("**the rule**")[1] == DECISION
    exact = "0.25 + 0.5 + 1 s, history 1, min 0.4, other 4 hops"  # also the start of longer names: taken as it is
    assert exact in CANDIDATES and candidate_rule(exact)[0] == exact
    for vague in ("the same", "the rule at a 50 ms hop", "no such rule"):  # several, only at 50 ms, none
        with pytest.raises(ValueError, match="1 s window \\(until 2026-12-06\\)"):
            candidate_rule(vague)

"""The onset bound of networks trained on real recordings: how a latency is read off a run of top classes,
how the gestures a judge reads are told apart, and (with ../shared) the judges on a simulated session."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import judges_onset as jo


def test_the_latency_is_the_first_of_two_windows_in_a_row_with_the_gesture_on_top():
    after = np.array([100_000, 200_000, 300_000, 400_000, 500_000])
    assert jo.first_on_top(after, np.array([3, 5, 3, 3, 3]), 3) == 300.0
    assert jo.first_on_top(after, np.array([3, 5, 3, 5, 3]), 3) == float("inf"), "never twice in a row"
    assert jo.first_on_top(after, np.array([-1, -1, 3, -1, 3]), 3) == float("inf")
    assert jo.first_on_top(after, np.array([3, 5, 3, 5, 3]), 3, run=1) == 100.0


def test_each_judge_is_also_scored_on_the_gestures_it_reads_and_the_model_on_the_same():
    def row(c, model, teacher, speck, inside_t, inside_s):
        lat = {"model 1": model, "teacher 1": teacher, "speck 1": speck}
        return {"class": c, "latency_ms": lat, "inside": {"teacher": inside_t, "speck": inside_s}}

    rows = [row(0, 300.0, 900.0, 500.0, 0.9, 1.0), row(1, 500.0, float("inf"), 600.0, 0.2, 1.0),
            row(2, 400.0, 700.0, float("inf"), 1.0, 0.0)]
    m = jo.summary(rows)
    assert m["model 1"]["all"]["median_ms"] == 400.0
    assert m["model 1"]["read by teacher"] == {"gestures": 2, "median_ms": 350.0, "p90_ms": 400.0, "never": 0.0}
    assert m["teacher 1"]["all"]["never"] == pytest.approx(1 / 3)
    assert m["teacher 1"]["read by teacher"]["gestures"] == 2 and m["teacher 1"]["read by teacher"]["median_ms"] == 800.0
    assert set(m["speck 1"]) == {"all", "read by speck"} and m["speck 1"]["read by speck"]["median_ms"] == 550.0
    assert m["inside_read"]["teacher"] == pytest.approx(0.7)
    assert "| model, gestures teacher reads | 1 s | 2 | 350 | 400 | 0 % |" in jo.table(m)


def test_the_judges_read_a_simulated_session_and_a_silent_window_names_nothing(shared_data):
    from app.inference import InferenceEngine
    from benchmarks.decision_latency import Session, probe_rates
    from model.simulator.sequence import generate_session

    judges = jo.load_judges()
    assert judges is not None
    one = generate_session([8], seed=3, gesture_s=(1.5, 1.5), gap_s=(0.5, 0.5))[0][:1]
    for j in jo.JUDGES:  # no output spike at all is no class, not class 0 (hand_clapping)
        assert judges[j]([one]).tolist() == [-1]
    s = Session(3, *generate_session([8], seed=3, gesture_s=(2.0, 2.0), gap_s=(0.5, 0.5)))
    r = probe_rates(InferenceEngine.from_checkpoint("small64", device="cpu", backend="torch"), s)
    rows = jo.gesture_rows(s, r, judges, hops=8)
    assert [x["class"] for x in rows] == [8]
    lat = rows[0]["latency_ms"]
    assert set(lat) == {f"{n} {f:g}" for n in ("model", *jo.JUDGES) for f in jo.LENGTHS}
    a = int(s.timeline.start_us[0])
    grid = (r.t_end[np.flatnonzero(r.t_end > a)[:16][1::2]] - a) / 1e3  # window ends every 100 ms after the start
    assert len(grid) == 8 and np.allclose(np.diff(grid), 100.0, atol=1.0)
    for v in lat.values():  # a window end of the grid (not its last: two in a row), or never
        assert v == float("inf") or v in grid[:-1].tolist()
    assert lat["model 1"] < float("inf"), "the shipped model puts a held air_drums on top within 0.8 s"
    assert all(0.0 <= v <= 1.0 for v in rows[0]["inside"].values())

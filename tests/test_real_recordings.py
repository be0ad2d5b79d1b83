"""The real-recordings benchmark: changes applied to a recording after the fact do what their row says,
gestures are chosen and played back to back as stated, and the command runs end to end on a
DVS128 Gesture copy in spikingjelly's layout (made here of synthetic events: the real archive is
not in ../shared) with a clear message for a folder that is none."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import real_recordings as rr
from benchmarks.robustness import CHANGES
from eventcore.events import make_events
from model.simulator.setup import SensorFaults, Setup
from tests.fixtures import rotating_bar, tiny_config, write_checkpoint


def blob(n: int = 20_000, seed: int = 0) -> np.ndarray:
    """Events about the centre of a 128x128 view over 2 s."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 2_000_000, n))
    x = np.clip(rng.normal(63.5, 12, n), 0, 127).astype(np.int16)
    y = np.clip(rng.normal(63.5, 12, n), 0, 127).astype(np.int16)
    return make_events(t, x, y, rng.integers(0, 2, n).astype(np.int8))


def test_a_setup_moves_sizes_and_retimes_a_recording_as_the_simulator_places_a_scene():
    ev, rng = blob(), np.random.default_rng(0)
    moved = Setup(dx=-0.15, dy=0.10).apply_events(ev, 128, rng)
    assert moved["x"].mean() - ev["x"].mean() == pytest.approx(-0.15 * 128, abs=1.0)
    assert moved["y"].mean() - ev["y"].mean() == pytest.approx(0.10 * 128, abs=1.0)
    far = Setup(scale=0.6).apply_events(ev, 128, rng)
    assert far["x"].std() == pytest.approx(0.6 * ev["x"].std(), rel=0.05)
    # the point (100, 64) lands where Setup.place puts it
    one = make_events(np.array([0]), np.array([100], np.int16), np.array([64], np.int16), np.array([1], np.int8))
    rolled = Setup(roll_deg=10.0, scale=0.8).apply_events(one, 128, None)
    want = np.rint(Setup(roll_deg=10.0, scale=0.8).place(np.array([100.0, 64.0]), 128))
    assert (int(rolled["x"][0]), int(rolled["y"][0])) == tuple(int(v) for v in want)
    slow = Setup(tempo=0.75).apply_events(ev, 128, rng)
    span = lambda e: int(e["timestamp"][-1] - e["timestamp"][0])  # noqa: E731
    assert span(slow) == pytest.approx(span(ev) / 0.75, rel=1e-3)
    assert Setup().apply_events(ev, 128, rng) is ev


def test_sensor_faults_cover_a_non_square_sensor():
    ev = blob()
    ev["x"] += 200  # a DAVIS346 recording
    out = SensorFaults(noise_hz=2.0).apply(ev, (346, 260), np.random.default_rng(0))
    extra = len(out) - len(ev)
    assert extra == pytest.approx(2.0 * 346 * 260 * 2.0, rel=0.05)
    assert out["x"].max() > 300 and out["y"].max() > 200


def test_gestures_are_chosen_per_class_from_fresh_recordings():
    for seed in range(5):
        # class 0 has only recording a; class 1 then takes b, not a again
        assert rr.choose(np.array([0, 1, 1]), ["a", "a", "b"], 1, (0, 1), seed) == [0, 2]
        # a recording is used twice only where its class has no other
        assert sorted(rr.choose(np.array([0, 0, 1]), ["a", "a", "b"], 2, (0, 1), seed)) == [0, 1, 2]
    picked = rr.choose(np.array([0, 0, 0, 1, 1, 2]), ["a", "b", "c", "a", "d", "a"], 2, (0, 1, 2))
    assert sorted(np.array([0, 0, 0, 1, 1, 2])[picked].tolist()) == [0, 0, 1, 1, 2]


def test_gestures_are_played_back_to_back_after_an_empty_scene():
    evs = [rotating_bar(1_000_000, seed=1), rotating_bar(2_000_000, seed=2)]
    for ev in evs:
        ev["timestamp"] += 7_000_000  # a label's start far into its recording
    g = rr.Gestures(evs, np.array([3, 5]), ["u1", "u2"], (128, 128))
    s = rr.back_to_back(g, gap_s=1.5, empty_hz=0.2)
    ts = s.events["timestamp"]
    assert np.all(np.diff(ts) >= 0)
    assert s.timeline.start_us.tolist() == [1_500_000, int(s.timeline.end_us[0]) + 1_500_000]
    assert s.timeline.label.tolist() == [3, 5]
    gap = (ts < 1_500_000)
    assert gap.sum() == pytest.approx(0.2 * 128 * 128 * 1.5, rel=0.1)  # only background in the empty room
    assert len(s.events) == gap.sum() + sum(len(e) for e in evs) + (
        (ts >= s.timeline.end_us[0]) & (ts < s.timeline.start_us[1])).sum()
    assert [st for _, _, st in s.scenes] == ["empty", "empty"]


def sj_copy(root, n_test: int = 2):
    """A DVS128 Gesture copy in spikingjelly's layout: rotating bars labelled 3 and 5 (test), one train sample."""
    for split, classes in (("train", [3]), ("test", [3, 5][:n_test])):
        for k, c in enumerate(classes):
            ev = rotating_bar(1_500_000, seed=k)
            d = root / "events_np" / split / str(c)
            d.mkdir(parents=True, exist_ok=True)
            np.savez(d / f"user{k + 1:02d}_led_{c}.npz", t=ev["timestamp"], x=ev["x"], y=ev["y"], p=ev["polarity"])
    return root


def test_the_command_measures_robustness_and_latency_on_a_dvs128_copy(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = sj_copy(tmp_path / "DVS128Gesture")
    ckpt = write_checkpoint(tmp_path / "tiny.pt", tiny_config("tiny_rr", (2,)), 0, "test")
    out, card = tmp_path / "real.json", tmp_path / "card.md"
    card.write_text("# card\n\n## Demo recordings\nx\n")
    rr.main([str(data), "--model", str(ckpt), "--only", "0.6x", "--only", "hot pixels", "--json", str(out),
             "--card", str(card)])
    report = json.loads(out.read_text())
    assert report["simulated"] is False
    text = card.read_text()
    assert f"## {rr.ROBUST_CARD}" in text and f"## {rr.LATENCY_CARD}" in text
    assert "real recordings" in text and "SIMULATED" not in text
    assert text.index(rr.LATENCY_CARD) < text.index("## Demo recordings")
    again = tmp_path / "again.md"
    again.write_text("# card\n\n## Demo recordings\nx\n")
    rr.main(["--card-from", str(out), "--card", str(again)])  # the card from the saved report
    assert again.read_text() == text
    rows = {r["change"]: r for r in report["robustness"]}
    assert set(rows) == {CHANGES[0].name, "subject 0.6x the size (further away)", "12 hot pixels at 300 Hz"}
    for r in rows.values():
        assert r["gestures"] == 2 and 0 <= r["recognised"] <= 2 and r["windows"] > 0
    assert [g["class"] for g in report["gestures"]] == ["right_arm_clockwise", "left_arm_clockwise"]
    lat = report["latency"]["overall"]
    assert lat["gestures"] == 2 and report["latency"]["idle_windows"] > 0
    text = capsys.readouterr().out
    assert "gestures recognised" in text and "median to first correct" in text


def test_a_folder_that_is_no_dvs128_copy_is_named_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as err:
        rr.main([str(tmp_path / "empty")])
    assert str(tmp_path / "empty") in str(err.value) and "not a DVS128 Gesture folder" in str(err.value)


def test_the_simulated_standin_is_a_dvs128_copy_of_every_class(tmp_path, monkeypatch):
    from model.datasets import dvs128_gesture

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = rr.write_standin(tmp_path / "standin", 1, 0.3, workers=1)
    g = rr.load(folder, "dvs128", 1, tuple(range(11)))
    assert dvs128_gesture.layout(folder)[0] == "spikingjelly"
    assert g.labels.tolist() == list(range(11)) and g.sensor == (128, 128)
    assert all(ev["timestamp"][0] == 0 and ev["timestamp"][-1] > 200_000 for ev in g.events)
    report = {"data": str(folder), "dataset": "dvs128", "simulated": (folder / rr.STANDIN_MARK).is_file(),
              "model": "small64", "framing": "auto", "gestures": [{"class": "x", "recording": "r"}]}
    assert "SIMULATED stand-in" in rr.data_line(report) and "not real recordings" in rr.data_line(report)
    assert "the app's rule" in rr.data_line(report)
    assert "earlier rule \"1 s window" in rr.data_line({**report, "rule": "1 s window (until 2026-12-06)"})


def test_an_earlier_rule_is_named_whole_in_the_report_and_a_vague_one_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = sj_copy(tmp_path / "DVS128Gesture", n_test=1)
    ckpt = write_checkpoint(tmp_path / "tiny.pt", tiny_config("tiny_rr3", (2,)), 0, "test")
    with pytest.raises(SystemExit) as err:
        rr.main([str(data), "--model", str(ckpt), "--rule", "the same", "--no-robustness"])
    assert "'the same'" in str(err.value) and "1 s window (until 2026-12-06)" in str(err.value)
    out = tmp_path / "old.json"
    rr.main([str(data), "--model", str(ckpt), "--rule", "1 s window", "--no-robustness", "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["rule"] == "1 s window (until 2026-12-06)" and report["latency"]["overall"]["gestures"] == 1


def test_a_users_labelled_recordings_of_another_sensor_are_measured_in_its_own_pixels(tmp_path, monkeypatch):
    from app.sources.recorder import write_aedat4
    from eventcore.labels import LabelTimeline

    (tmp_path / "takes").mkdir()
    for k in range(2):  # a DAVIS346's recordings, the subject in the middle; one is held out for the test split
        ev = rotating_bar(2_000_000, seed=k)
        ev["x"] += 109
        ev["y"] += 66
        write_aedat4(tmp_path / "takes" / f"take{k}.aedat4", ev, 346, 260)
        LabelTimeline(np.array([200_000]), np.array([1_900_000]), np.array([3])).to_csv(
            tmp_path / "takes" / f"take{k}_labels.csv")
    ckpt = write_checkpoint(tmp_path / "tiny.pt", tiny_config("tiny_rr2", (2,)), 0, "test")
    out = tmp_path / "takes.json"
    rr.main([str(tmp_path / "takes"), "--dataset", "recordings", "--model", str(ckpt), "--only", "DAVIS346",
             "--only", "background", "--json", str(out)])
    report = json.loads(out.read_text())
    assert [r["change"] for r in report["robustness"]] == [CHANGES[0].name, "background activity 2 Hz a pixel"]
    assert report["gestures"] == [{"class": "right_arm_clockwise", "recording": report["gestures"][0]["recording"]}]
    assert report["sensor"] == [346, 260] and report["latency"]["overall"]["gestures"] == 1

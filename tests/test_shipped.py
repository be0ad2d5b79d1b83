"""The shipped model and demo recordings: they load, say plainly they are simulated, and the
model recognises the gestures of its own demo recordings (threshold: 60 % of the windows that
lie wholly inside a labelled gesture; the model card states the measured figure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.inference import InferenceEngine
from tools.ship import demo_accuracy
from model.zoo import WEIGHTS_DIR, default_model, resolve_model, shipped_models

ROOT = Path(__file__).resolve().parents[1]
DEMOS = sorted((ROOT / "recordings").glob("*.aedat4"))


def test_a_model_and_demo_recordings_are_shipped():
    assert "small64" in shipped_models() and default_model() in shipped_models()
    assert DEMOS and all(p.with_name(p.stem + "_labels.csv").is_file() for p in DEMOS)


def test_shipped_model_says_it_learned_from_simulated_data():
    engine = InferenceEngine.from_checkpoint(default_model(), device="cpu")
    assert "simulated" in engine.trained_on
    card = (WEIGHTS_DIR / f"{default_model()}.md").read_text()
    assert "SIMULATED" in card and "--dataset dvs128" in card
    assert engine.meta["accuracies"]["simulated_test_last_epoch"] > 0.5


def test_shipped_model_recognises_its_demo_recording():
    result = demo_accuracy(resolve_model("small64"), DEMOS[:1])
    assert result["gesture_windows"] >= 20
    assert result["gesture_correct"] >= 0.6, result


def test_about_box_shows_the_model_card_and_says_simulated():
    from app.session import about_model

    summary, card = about_model(InferenceEngine.from_checkpoint(default_model(), device="cpu"))
    assert "trained on simulated" in summary
    assert "SIMULATED" in card and "--dataset dvs128" in card


@pytest.mark.parametrize("cls", [1, 3, 7, 9])
def test_a_gesture_held_for_seconds_is_recognised_in_every_full_window(tmp_path, cls):
    """No drift to another class or to "other" in steady state: a gesture held for 6 s
    (fresh simulator seed, never in training) is decided correctly in every live window that
    lies wholly inside it."""
    from app.sources.recorder import write_aedat4
    from model.simulator.generate import SIZE, generate_sequence

    events, timeline = generate_sequence([cls], seed=4242 + cls, gesture_s=(6.0, 6.0), pause_s=(1.0, 1.0))
    path = tmp_path / f"held_{cls}.aedat4"
    write_aedat4(path, events, SIZE, SIZE, camera="DVS128_synthetic")
    timeline.to_csv(path.with_name(path.stem + "_labels.csv"))
    result = demo_accuracy(resolve_model("small64"), [path])
    assert result["gesture_windows"] >= 40
    assert result["gesture_correct"] == 1.0, result
    assert result["gesture_right"] == result["gesture_windows"], result


def test_real_scenes_without_gestures_rarely_name_one(shared_data):
    """Real DAVIS recordings of cars, boxes and a rotating disk (no person): the shipped model
    names a gesture (classes 0-9) in at most 10 % of the live windows, the issue's target
    (measured 4 %; the previous model 13 %, the model of 2026-11-27 37 %)."""
    from benchmarks.false_gestures import false_gestures

    res = false_gestures("small64", shared_data / "real")
    assert res["windows"] >= 60
    assert res["rate_0_9"] <= 0.10, res

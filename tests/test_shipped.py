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
    assert "trained on: simulated" in summary
    assert "SIMULATED" in card and "--dataset dvs128" in card

"""Training and evaluation on a tiny fake DVS128 Gesture folder (AEDAT 3.1 files, label CSVs, trial lists).

The fake gestures are separable by where the events are (class 1 on the image's left, class 2
on its right), so a tiny network learns them in a few CPU steps.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from eventcore.events import make_events
from eventcore.errors import SourceError
from eventcore.labels import LabelTimeline
from model import evaluate, train
from model.checkpoint import load_checkpoint
from model.datasets import dvs128_gesture
from model.datasets.shards import load_sample
from model.networks import CONFIGS, NetConfig
from tests.writers import write_aedat3

TINY = NetConfig(name="tiny_test", T=4, in_channels=2, input_size=(32, 32), channels=(8, 8), tcja_blocks=(1,),
                 head_hidden=32, dropout=0.0)
INTERVAL_US, GAP_US, PER_INTERVAL = 400_000, 100_000, 1500


def fake_recording(seed: int, classes: list[int]) -> tuple[np.ndarray, LabelTimeline]:
    """Events of labelled intervals (class 1: x < 40, class 2: x >= 88) with noise in the gaps between them."""
    rng = np.random.default_rng(seed)
    parts, starts = [], []
    t = 50_000
    for c in classes:
        gap = np.sort(rng.integers(t - GAP_US // 2, t, 200))
        parts.append(make_events(gap, rng.integers(0, 128, 200), rng.integers(0, 128, 200), rng.integers(0, 2, 200)))
        x_lo = 0 if c == 1 else 88
        ts = np.sort(rng.integers(t, t + INTERVAL_US, PER_INTERVAL))
        parts.append(make_events(ts, rng.integers(x_lo, x_lo + 40, PER_INTERVAL), rng.integers(30, 100, PER_INTERVAL),
                                 rng.integers(0, 2, PER_INTERVAL)))
        starts.append(t)
        t += INTERVAL_US + GAP_US
    starts_a = np.array(starts, dtype=np.int64)
    return np.concatenate(parts), LabelTimeline(starts_a, starts_a + INTERVAL_US, np.array(classes) - 1)


@pytest.fixture(scope="module")
def fake_dvs(tmp_path_factory):
    root = tmp_path_factory.mktemp("DvsGesture")
    names = {"train": ["user01_fluorescent", "user02_led", "user03_natural"], "test": ["user24_fluorescent"]}
    for k, name in enumerate(names["train"] + names["test"]):
        events, timeline = fake_recording(k, [1, 2, 1, 2, 2, 1])
        write_aedat3(root / f"{name}.aedat", events)
        timeline.to_csv(root / f"{name}_labels.csv")
    for split, file in (("train", "trials_to_train.txt"), ("test", "trials_to_test.txt")):
        (root / file).write_text("".join(f"{n}.aedat\n" for n in names[split]))
    return root


@pytest.fixture
def tiny_config(monkeypatch):
    monkeypatch.setitem(CONFIGS, TINY.name, TINY)


def test_preparation_cuts_labelled_intervals_and_caches(fake_dvs, tmp_path):
    cache = dvs128_gesture.prepare(fake_dvs, tmp_path / "cache")
    paths, labels, groups = dvs128_gesture.samples(fake_dvs, cache, "train")
    assert len(paths) == 18 and sorted(set(groups)) == ["user01_fluorescent", "user02_led", "user03_natural"]
    assert list(labels[:6]) == [0, 1, 0, 1, 1, 0]
    events, label, size = load_sample(paths[1])
    # exactly the interval's events: the gap noise before and after is left out
    assert label == 1 and size == (128, 128) and len(events) == PER_INTERVAL
    assert events["x"].min() >= 88 and 0 <= events["timestamp"].min() and events["timestamp"].max() < INTERVAL_US
    stamp = paths[0].stat().st_mtime_ns
    dvs128_gesture.prepare(fake_dvs, cache)
    assert paths[0].stat().st_mtime_ns == stamp  # the second run reuses the cache


def test_failed_preparation_does_not_block_a_retry(fake_dvs, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in fake_dvs.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    good = (broken / "user02_led.aedat").read_bytes()
    (broken / "user02_led.aedat").write_bytes(b"#!AER-DAT3.1\r\nnot really")
    cache = tmp_path / "cache"
    (cache / "train" / "user03_natural.tmp-999999999").mkdir(parents=True)  # left by a killed run
    with pytest.raises(SourceError, match="user02_led"):
        dvs128_gesture.prepare(broken, cache)
    (broken / "user02_led.aedat").write_bytes(good)
    dvs128_gesture.prepare(broken, cache)
    assert len(dvs128_gesture.samples(broken, cache, "train")[0]) == 18
    assert not list(cache.glob("*/*.tmp-*"))


def train_args(fake_dvs, tmp_path, *extra):
    return ["--dataset", "dvs128", "--data", str(fake_dvs), "--config", TINY.name, "--cache", str(tmp_path / "cache"),
            "--out", str(tmp_path / "run"), "--batch-size", "6", "--lr", "0.01", "--threads", "1", "--device", "cpu",
            *extra]


def log_lines(tmp_path):
    return [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]


def test_training_loss_falls_and_resume_continues(fake_dvs, tmp_path, tiny_config):
    torch.manual_seed(0)
    train.main(train_args(fake_dvs, tmp_path, "--epochs", "10", "--window-ms", "300"))
    log = log_lines(tmp_path)
    assert [r["epoch"] for r in log] == list(range(1, 11))
    assert np.mean([r["loss"] for r in log[-3:]]) < 0.8 * log[0]["loss"]
    assert log[-1]["test_acc"] >= 0.75

    _, cfg, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    notes = json.loads(meta.notes)
    assert cfg == TINY and meta.windowing.window_us == 300_000 and meta.windowing.split_by == "number"
    assert notes["protocol"] == "max test accuracy" and notes["augment"]["flip"] is False
    assert meta.accuracies["test_max"] == max(r["test_acc"] for r in log)

    train.main(train_args(fake_dvs, tmp_path, "--epochs", "12", "--window-ms", "300", "--resume"))
    log = log_lines(tmp_path)
    assert [r["epoch"] for r in log] == list(range(1, 11)) + [11, 12]
    # the cosine schedule goes on where it stopped (and now spans 12 epochs)
    assert log[10]["lr"] == pytest.approx(0.01 * 0.5 * (1 + np.cos(np.pi * 10 / 12)))
    last = json.loads(load_checkpoint(tmp_path / "run" / "last.pt")[2].notes)
    assert last["epoch"] == 12 and last["protocol"] == "the last epoch (none picked)"


def test_a_spent_time_budget_ends_training_on_an_evaluated_checkpointed_epoch(fake_dvs, tmp_path, tiny_config):
    # the deadline has passed when the first check comes (batch 4 of 18): that epoch stops there, is the
    # last one the schedule plans, and so is evaluated and checkpointed although --eval-every says not yet
    assert train.main(train_args(fake_dvs, tmp_path, "--epochs", "50", "--time-budget-s", "0.001",
                                 "--batch-size", "1", "--eval-every", "100")) == 0
    log = log_lines(tmp_path)
    assert len(log) == 1 and log[0]["batches"] == 4 and "test_acc" in log[0] and log[0]["lr"] == 0.01
    notes = json.loads(load_checkpoint(tmp_path / "run" / "last.pt")[2].notes)
    assert notes["epochs"] == 1 and notes["recipe"]["schedule"] == "cosine over 1 epochs"
    assert notes["recipe"]["time_budget_s"] == 0.001 and (tmp_path / "run" / "resume.pt").is_file()


def test_cpu_mixed_precision_is_bfloat16_only(fake_dvs, tmp_path, tiny_config, capsys):
    assert train.main(train_args(fake_dvs, tmp_path, "--epochs", "1", "--amp")) == 2
    assert "--amp on the CPU needs --amp-dtype bfloat16" in capsys.readouterr().err
    assert train.main(train_args(fake_dvs, tmp_path, "--epochs", "1", "--amp", "--amp-dtype", "bfloat16",
                                 "--channels-last")) == 0
    notes = json.loads(load_checkpoint(tmp_path / "run" / "last.pt")[2].notes)
    assert notes["recipe"]["amp"] == "bfloat16" and notes["recipe"]["channels_last"] is True


def test_evaluate_prints_accuracy_and_writes_png(fake_dvs, tmp_path, tiny_config, capsys):
    torch.manual_seed(1)
    train.main(train_args(fake_dvs, tmp_path, "--epochs", "3"))
    stored = load_checkpoint(tmp_path / "run" / "best.pt")[2].accuracies["test_max"]
    capsys.readouterr()
    png = tmp_path / "confusion.png"
    rc = evaluate.main([str(tmp_path / "run" / "best.pt"), "--dataset", "dvs128", "--data", str(fake_dvs),
                        "--cache", str(tmp_path / "cache"), "--png", str(png), "--device", "cpu"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "checkpoint selected by max test accuracy" in out and "the whole sample split into T=4 frames" in out
    assert f"accuracy: {stored:.4f} (" in out  # the same samples, cut the same way, as during training
    assert "right_hand_wave" in out and "confusion matrix" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_names_a_bad_checkpoint(fake_dvs, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert evaluate.main([str(bad), "--dataset", "dvs128", "--data", str(fake_dvs)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_scoring_with_idle_samples():
    rates = np.array([[0.9, 0.1], [0.1, 0.05], [0.2, 0.6], [0.5, 0.4]])
    labels = np.array([0, -1, 1, -1])
    s = evaluate.score(rates, labels, min_confidence=0.3)
    # the 2nd is rightly "no gesture", the 4th wrongly class 0
    assert s.correct == 3 and s.confusion.tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert train.one_hot_targets(torch.tensor([1, -1]), 3).tolist() == [[0, 1, 0], [0, 0, 0]]


def test_a_recording_of_another_sensor_size_is_refused(tmp_path):
    from eventcore.errors import SourceError

    events, timeline = fake_recording(0, [1, 2])
    write_aedat3(tmp_path / "user01_led.aedat", events, camera="DAVIS346")
    timeline.to_csv(tmp_path / "user01_led_labels.csv")
    (tmp_path / "trials_to_train.txt").write_text("user01_led.aedat\n")
    (tmp_path / "trials_to_test.txt").write_text("user01_led.aedat\n")
    with pytest.raises(SourceError, match=r"user01_led.aedat: a 346x260 recording is not DVS128 Gesture"):
        dvs128_gesture.prepare(tmp_path, tmp_path / "cache")

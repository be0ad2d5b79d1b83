"""Training data read through the format layer: DVS128 Gesture as IBM, tonic and spikingjelly leave it,
and a folder of labelled recordings of any format (AEDAT4, Prophesee) trained on with ``model.train``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.sources.recorder import write_aedat4
from eventcore.errors import SourceError
from eventcore.events import as_events, make_events
from model import train
from model.checkpoint import load_checkpoint
from model.datasets import dvs128_gesture, recordings
from model.datasets.shards import load_sample
from model.networks import CONFIGS
from tests.test_train import TINY
from tests.test_train import fake_recording as _fake_recording
from tests.writers import write_aedat3

NAMES = {"train": ["user01_fluorescent", "user02_led"], "test": ["user24_natural"]}
CLASSES = [2, 1]  # tonic names a sample by its class (K.npy): one of each per recording


def fake_recording(seed: int, classes: list[int]):
    events, timeline = _fake_recording(seed, classes)
    return as_events(events), timeline


def _cut(events, timeline):
    t = events["timestamp"]
    for start, end, label in zip(timeline.start_us, timeline.end_us, timeline.label):
        yield events[(t >= start) & (t < end)], int(label)


@pytest.fixture(scope="module")
def three_copies(tmp_path_factory):
    """The same fake DVS128 Gesture recordings as IBM's folder, tonic's copy and spikingjelly's copy."""
    root = tmp_path_factory.mktemp("copies")
    ibm, tonic, sj = root / "DvsGesture", root / "tonic" / "DVSGesture", root / "sj"
    ibm.mkdir()
    for split, names in NAMES.items():
        (ibm / dvs128_gesture.SPLIT_FILES[split]).write_text("".join(f"{n}.aedat\n" for n in names))
        for k, name in enumerate(names):
            events, timeline = fake_recording(len(name) + k, CLASSES)
            write_aedat3(ibm / f"{name}.aedat", events)
            timeline.to_csv(ibm / f"{name}_labels.csv")
            for i, (ev, label) in enumerate(_cut(events, timeline)):
                folder = tonic / ("ibmGestureTrain" if split == "train" else "ibmGestureTest") / name
                folder.mkdir(parents=True, exist_ok=True)
                rows = np.stack([ev["x"], ev["y"], ev["polarity"], ev["timestamp"] / 1000], axis=1)  # tonic: ms
                np.save(folder / f"{label}.npy", rows)
                out = sj / "events_np" / split / str(label)
                out.mkdir(parents=True, exist_ok=True)
                np.savez(out / f"{name}_{i}.npz", t=ev["timestamp"], x=ev["x"], y=ev["y"], p=ev["polarity"])
    return {"ibm": ibm, "tonic": tonic.parent, "spikingjelly": sj}


def _loaded(data, cache, split):
    paths, labels, groups = dvs128_gesture.samples(data, cache, split)
    events = [load_sample(p)[0] for p in paths]
    return sorted((g, int(lab), len(e), int(e["x"].sum()), int((e["timestamp"] - e["timestamp"][0]).sum()))
                  for g, lab, e in zip(groups, labels, events))


def test_tonic_and_spikingjelly_copies_give_the_samples_of_the_original(three_copies, tmp_path):
    ibm = {s: _loaded(three_copies["ibm"], dvs128_gesture.prepare(three_copies["ibm"], tmp_path / "ibm"), s)
           for s in ("train", "test")}
    assert len(ibm["train"]) == 4 and len(ibm["test"]) == 2
    for kind in ("tonic", "spikingjelly"):
        data = three_copies[kind]
        assert dvs128_gesture.layout(data)[0] == kind
        cache = dvs128_gesture.prepare(data, tmp_path / kind)
        for split in ("train", "test"):
            assert _loaded(data, cache, split) == ibm[split], kind


def test_a_folder_that_is_no_copy_is_one_clear_error(tmp_path):
    with pytest.raises(SourceError, match="not a DVS128 Gesture folder"):
        dvs128_gesture.prepare(tmp_path, tmp_path / "cache")


@pytest.fixture
def takes_folder(tmp_path):
    """Three 128x128 AEDAT4 recordings and one Prophesee EVT 3.0 recording, each with a DVS128 label file."""
    folder = tmp_path / "takes"
    folder.mkdir()
    for k in range(3):
        events, timeline = fake_recording(10 + k, [1, 2, 2, 1])
        write_aedat4(folder / f"take{k}.aedat4", events, 128, 128)
        timeline.to_csv(folder / f"take{k}_labels.csv")
    faery = pytest.importorskip("faery")
    events, timeline = fake_recording(20, [2, 1])
    arr = np.zeros(len(events), faery.EVENTS_DTYPE)
    arr["t"], arr["x"], arr["y"], arr["on"] = events["timestamp"], events["x"], events["y"], events["polarity"] != 0
    faery.events_stream_from_array(arr, (128, 128)).to_file(folder / "prophesee.raw", version="evt3")
    timeline.to_csv(folder / "prophesee_labels.csv")
    return folder


def test_recordings_folder_cuts_every_labelled_interval_of_every_format(takes_folder, tmp_path, monkeypatch):
    """Each interval read by its time range (never a whole recording) into a shard read per sample."""
    from eventcore.aedat import aedat4, prophesee

    def whole(*args, **kwargs):
        raise AssertionError("a whole recording was read")

    monkeypatch.setattr(prophesee.PropheseeReader, "read_all", whole)
    monkeypatch.setattr(aedat4.Aedat4File, "read_all", whole)
    data = recordings.load(takes_folder, cache=tmp_path / "shards")
    assert data.sensor == (128, 128)
    groups = set(data.train.groups) | set(data.test.groups)
    assert groups == {"take0", "take1", "take2", "prophesee"} and not set(data.train.groups) & set(data.test.groups)
    assert len(data.train.events) + len(data.test.events) == 3 * 4 + 2
    for shard, label in zip(data.train.events + data.test.events, list(data.train.labels) + list(data.test.labels)):
        assert shard.parent.parent.parent == tmp_path / "shards"  # the dataset holds paths, not events
        ev, shard_label, size = load_sample(shard)
        assert (shard_label, size) == (label, (128, 128))
        assert len(ev) == 1500  # the interval's events only
        assert (ev["x"].max() < 40) if label == 0 else (ev["x"].min() >= 88)


def test_recordings_folder_errors_name_the_recording(tmp_path):
    with pytest.raises(SourceError, match="no recording"):
        recordings.load(tmp_path)
    ev, timeline = fake_recording(1, [1])
    write_aedat4(tmp_path / "a.aedat4", ev, 128, 128)
    timeline.to_csv(tmp_path / "a_labels.csv")
    write_aedat4(tmp_path / "b.aedat4", make_events([1, 2], [0, 1], [0, 1], [0, 1]), 240, 180)
    timeline.to_csv(tmp_path / "b_labels.csv")
    with pytest.raises(SourceError, match=r"b\.aedat4: (recorded at 240x180|none of its labelled intervals)"):
        recordings.load(tmp_path)


def test_train_on_a_folder_of_recordings(takes_folder, tmp_path, monkeypatch):
    """``python -m model.train --dataset recordings`` on AEDAT4 and Prophesee takes with DVS128 label files."""
    import torch

    monkeypatch.setitem(CONFIGS, TINY.name, TINY)
    torch.manual_seed(0)
    train.main(["--dataset", "recordings", "--data", str(takes_folder), "--config", TINY.name,
                "--out", str(tmp_path / "run"), "--epochs", "2", "--batch-size", "4", "--lr", "0.01",
                "--threads", "1", "--device", "cpu"])
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    meta = load_checkpoint(tmp_path / "run" / "best.pt")[2]
    assert "labelled recordings" in meta.trained_on

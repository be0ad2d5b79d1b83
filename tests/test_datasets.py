"""Dataset readers and the sample layer: N-MNIST .bs2, Fashion-MNIST idx, sample shards, windows."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from eventcore.events import EVENT_DTYPE, make_events
from eventcore.errors import SourceError
from model.datasets import TrainWindow, carve, fashion_mnist, nmnist, simulated
from model.datasets.samples import EventSamples
from model.datasets.shards import load_sample, save_sample


def encode_bs2(x, y, p, t) -> bytes:
    """The .bs2 layout written from its definition: x, y bytes, then p (1 bit) and t (23 bits) big-endian."""
    word = (np.asarray(p, np.uint32) << 23) | np.asarray(t, np.uint32)
    out = np.empty((len(x), 5), np.uint8)
    out[:, 0], out[:, 1] = x, y
    out[:, 2], out[:, 3], out[:, 4] = word >> 16, (word >> 8) & 0xFF, word & 0xFF
    return out.tobytes()


def test_bs2_decoding(tmp_path):
    x, y, p = [0, 33, 5, 17], [33, 0, 12, 20], [1, 0, 1, 0]
    t = [3, 70_000, 1_000_000, 2**23 - 1]  # past 16 bits and up to the 23-bit maximum
    (tmp_path / "1.bs2").write_bytes(encode_bs2(x, y, p, t))
    ev = nmnist.read_bs2(tmp_path / "1.bs2")
    assert ev.dtype == EVENT_DTYPE
    assert ev["x"].tolist() == x and ev["y"].tolist() == y and ev["polarity"].tolist() == p
    assert ev["timestamp"].tolist() == t


def test_bs2_errors_name_the_file(tmp_path):
    (tmp_path / "2.bs2").write_bytes(b"\x01\x02\x03")
    with pytest.raises(SourceError, match=r"2\.bs2.*multiple of 5"):
        nmnist.read_bs2(tmp_path / "2.bs2")
    (tmp_path / "3.bs2").write_bytes(encode_bs2([40], [1], [0], [5]))
    with pytest.raises(SourceError, match=r"3\.bs2.*outside the 34x34"):
        nmnist.read_bs2(tmp_path / "3.bs2")


def test_real_nmnist_subset(shared_data):
    folder = shared_data / "nmnist_small"
    train, train_labels = nmnist.read_split(folder, "train")
    test, test_labels = nmnist.read_split(folder, "test")
    assert len(train) == 1000 and len(test) == 100
    assert set(train_labels.tolist()) == set(range(10)) and train_labels[0] == 5 and test_labels[0] == 7
    for ev in train[:50] + test[:10]:
        assert ev["x"].max() < 34 and ev["y"].max() < 34 and np.all(np.diff(ev["timestamp"]) >= 0)
        # a recording is three saccades of about 100 ms each, both polarities present
        assert 250_000 < ev["timestamp"][-1] - ev["timestamp"][0] < 400_000
        assert 0.2 < ev["polarity"].mean() < 0.8


def write_idx(path, array: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_idx(tmp_path, gz):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (7, 28, 28)), rng.integers(0, 10, 7)
    suffix = ".gz" if gz else ""
    for split, prefix in fashion_mnist.PREFIX.items():
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
    got_images, got_labels = fashion_mnist.read_split(tmp_path, "train")
    assert np.array_equal(got_images, images) and np.array_equal(got_labels, labels)
    x, y = fashion_mnist.StaticImages(got_images, got_labels, T=8)[3]
    assert x.shape == (8, 1, 28, 28) and y == labels[3]
    assert np.allclose(x[5, 0].numpy(), images[3] / 255.0)


def test_idx_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x00\x00\x08\x03" + np.array([2, 28, 28], ">u4").tobytes() + b"\x00" * 100)
    with pytest.raises(SourceError, match="bad-idx.*size does not match"):
        fashion_mnist.read_idx(bad)
    bad.write_bytes(b"PK\x03\x04 zip")
    with pytest.raises(SourceError, match="bad-idx.*not an idx file"):
        fashion_mnist.read_idx(bad)


def test_debian_fashion_mnist_when_installed():
    if not fashion_mnist.DEFAULT_DIR.is_dir():
        pytest.skip(f"Debian's dataset-fashion-mnist is not installed ({fashion_mnist.DEFAULT_DIR})")
    images, labels = fashion_mnist.read_split(fashion_mnist.DEFAULT_DIR, "test")
    assert images.shape == (10_000, 28, 28) and np.bincount(labels).tolist() == [1000] * 10


def test_shard_round_trip_and_folder(tmp_path):
    rng = np.random.default_rng(1)
    compact = np.zeros(50, dtype=[("timestamp", "<i4"), ("x", "u1"), ("y", "u1"), ("polarity", "u1")])
    compact["timestamp"] = np.arange(50) * 10
    compact["x"], compact["y"], compact["polarity"] = rng.integers(0, 128, (3, 50))
    for split in ("train", "test"):
        (tmp_path / split).mkdir()
        save_sample(tmp_path / split / "a.npz", compact, 4, 128, 128)
        save_sample(tmp_path / split / "b.npz", compact[:10], -1, 128, 128)
    ev, label, size = load_sample(tmp_path / "train" / "a.npz")
    assert ev.dtype == EVENT_DTYPE and label == 4 and size == (128, 128)
    assert ev["x"].tolist() == compact["x"].tolist() and ev["timestamp"].tolist() == compact["timestamp"].tolist()
    paths, labels, sensor = simulated.samples(tmp_path, "train")
    assert [p.name for p in paths] == ["a.npz", "b.npz"] and labels.tolist() == [4, -1] and sensor == (128, 128)
    assert not list(tmp_path.rglob(".*tmp*"))

    save_sample(tmp_path / "train" / "c.npz", compact, 1, 64, 64)
    with pytest.raises(SourceError, match="mix sensor sizes"):
        simulated.samples(tmp_path, "train")
    with pytest.raises(SourceError, match="val.*no sample shards"):
        simulated.samples(tmp_path, "val")
    np.savez(tmp_path / "test" / "multi.npz", events=compact, offsets=[0, 50], labels=[1])
    with pytest.raises(SourceError, match="multi.npz.*lacks"):
        simulated.samples(tmp_path, "test")


def test_windows_match_live_binning():
    t = np.arange(0, 2_000_000, 100)  # 2 s, one event every 100 us
    ev = make_events(t, (t // 1000) % 34, np.zeros_like(t), t % 2)
    window = TrainWindow(500_000)
    ds = EventSamples([ev], [3], (34, 34), T=5, input_size=(34, 34), window=window, train=True)
    for _ in range(5):
        frames, label = ds[0]
        assert frames.shape == (5, 2, 34, 34) and label == 3 and frames.sum() == 5000  # 500 ms of events
    centred = window.cut(ev, None)
    assert centred["timestamp"][0] == 750_000 and len(centred) == 5000
    whole = EventSamples([ev], [3], (34, 34), T=5, input_size=(34, 34), window=TrainWindow(None), train=False)
    assert whole[0][0].sum() == len(ev)


def test_onset_clips_train_on_windows_that_end_after_the_gesture_starts(tmp_path):
    """A clip saved with onset_us (idle, then a gesture from 1.5 s) is cut so that every training
    window ends 100 ms or more into the gesture, holding the idle scene before it."""
    t = np.arange(0, 2_000_000, 100)
    onset = 1_500_000
    ev = make_events(t, (t >= onset).astype(np.int64), np.zeros_like(t), t % 2)  # x = 1 once the gesture runs
    save_sample(tmp_path / "clip.npz", ev, 4, 34, 34, onset_us=onset)
    save_sample(tmp_path / "plain.npz", ev, 4, 34, 34)
    ds = EventSamples([tmp_path / "clip.npz", tmp_path / "plain.npz"], [4, 4], (34, 34), T=5, input_size=(34, 34),
                      window=TrainWindow(1_000_000), train=True)
    assert ds.onset_us(0) == onset and ds.onset_us(1) is None
    torch.manual_seed(0)
    gesture_events = []
    for _ in range(20):
        frames, label = ds[0]
        assert label == 4 and frames.sum() == 10_000  # a whole 1 s window
        gesture_events.append(int(frames[..., 1].sum()))
    assert min(gesture_events) >= 1_000 and max(gesture_events) <= 5_000 and len(set(gesture_events)) > 5
    plain = [int(ds[1][0][..., 1].sum()) for _ in range(20)]
    assert min(plain) == 0  # an ordinary sample's window falls anywhere


def test_validation_split_keeps_recordings_whole():
    groups = np.repeat(np.arange(10), 5)
    tr, va = carve(groups, 0.2, seed=0)
    assert len(va) == 10 and not set(groups[tr]) & set(groups[va])
    with pytest.raises(ValueError, match="no validation"):
        carve(groups, 0.01, seed=0)

"""NoiseFilter: dv-processing's filters remove isolated events and keep dense structure."""

from __future__ import annotations

import numpy as np
import pytest

from eventcore.events import EVENT_DTYPE, make_events
from app.noise import KINDS, NoiseFilter

W, H = 128, 96


def scene(seed: int = 0, duration_us: int = 1_000_000):
    """A moving edge (an event every 20 us, even timestamps) plus 2000 isolated noise
    events at random pixels (odd timestamps). Returns events and the noise mask."""
    rng = np.random.default_rng(seed)
    ts = np.arange(0, duration_us, 20)
    xs = np.minimum((ts // 8000) % W + rng.integers(0, 2, len(ts)), W - 1)
    ys = rng.integers(20, 76, len(ts))
    tn = np.sort(rng.choice(duration_us // 2, 2000, replace=False)) * 2 + 1
    xn, yn = rng.integers(0, W, len(tn)), rng.integers(0, H, len(tn))
    t = np.concatenate([ts, tn])
    order = np.argsort(t, kind="stable")
    x, y = np.concatenate([xs, xn])[order], np.concatenate([ys, yn])[order]
    events = make_events(t[order] + 1_000_000, x, y, rng.integers(0, 2, len(t)))
    return events, events["timestamp"] % 2 == 1


def in_batches(f, events, size=7_000):
    parts = [f(events[i : i + size]) for i in range(0, len(events), size)]
    assert all(p.dtype == EVENT_DTYPE for p in parts)
    return np.concatenate(parts, dtype=EVENT_DTYPE)


@pytest.mark.parametrize(
    "kind, params, min_structure",
    [
        ("background_activity", {}, 0.95),
        ("fast_decay", {}, 0.9),
        ("k_noise", {"duration_us": 5000}, 0.75),
    ],
)
def test_removes_isolated_noise_and_keeps_the_edge(kind, params, min_structure):
    events, noise = scene()
    out = in_batches(NoiseFilter(kind, W, H, **params), events)
    assert np.all(np.diff(out["timestamp"]) >= 0)
    kept = np.isin(events["timestamp"], out["timestamp"])
    assert kept[~noise].mean() >= min_structure
    assert kept[noise].mean() <= 0.1


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_state_carries_across_batches(kind):
    events, _ = scene(seed=1, duration_us=300_000)
    whole = NoiseFilter(kind, W, H)(events)
    split = in_batches(NoiseFilter(kind, W, H), events, size=997)
    np.testing.assert_array_equal(split, whole)


def test_time_going_back_starts_afresh():
    events, _ = scene(seed=2, duration_us=200_000)
    f = NoiseFilter("background_activity", W, H)
    f(events)
    np.testing.assert_array_equal(f(events), NoiseFilter("background_activity", W, H)(events))


def test_parameters_change_the_filter():
    events, _ = scene(seed=3, duration_us=300_000)
    short = NoiseFilter("background_activity", W, H, duration_us=100)(events)
    long = NoiseFilter("background_activity", W, H, duration_us=20_000)(events)
    assert len(short) < len(long)


def test_events_outside_the_sensor_are_dropped():
    base = 10_000_000
    events = make_events(base + np.arange(6), [5, 6, 500, 5, 6, -1], [5, 5, 5, 6, 6, 3], [1] * 6)
    out = NoiseFilter("background_activity", W, H)(events)
    assert np.all((out["x"] >= 0) & (out["x"] < W))
    assert len(NoiseFilter("k_noise", W, H)(events[2:3])) == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown noise filter 'median'"):
        NoiseFilter("median", W, H)
    with pytest.raises(ValueError):
        NoiseFilter("fast_decay", 0, H)
    assert len(NoiseFilter("fast_decay", W, H)(np.empty(0, EVENT_DTYPE))) == 0


REAL = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.mark.parametrize("name", ["davis346_aestream.aedat4", "davis346_aedat.aedat4"])
@pytest.mark.parametrize("duration_us", [500, 2000, 10_000])
def test_numpy_background_activity_keeps_exactly_what_dv_processing_keeps(name, duration_us):
    """The vectorised filter against dv-processing's BackgroundActivityNoiseFilter on real recordings,
    fed in batches of 5,000 (state carried across batches) and whole."""
    if not (REAL / name).exists():
        pytest.skip(f"real recordings not available ({REAL} is absent: a fresh clone has no ../shared)")
    from app.sources.aedat4 import Aedat4Source

    events = Aedat4Source(REAL / name).read_all()
    ref = NoiseFilter("dv_background_activity", 346, 260, duration_us=duration_us)(events)
    ours = in_batches(NoiseFilter("background_activity", 346, 260, duration_us=duration_us), events, 5000)
    whole = NoiseFilter("background_activity", 346, 260, duration_us=duration_us)(events)
    assert 0 < len(ref) < len(events)
    for got in (ours, whole):
        for field in ("timestamp", "x", "y", "polarity"):
            np.testing.assert_array_equal(got[field], ref[field], err_msg=f"{name}, {duration_us} us: {field}")


def test_numpy_filter_agrees_on_synthetic_bursts_and_borders():
    """Events at the sensor's border, repeated pixels and equal timestamps, tiny and huge batches."""
    rng = np.random.default_rng(5)
    n = 40_000
    t = np.sort(rng.integers(0, 200_000, n)) + 10_000  # many equal timestamps
    x = np.clip(rng.normal(3, 4, n).astype(int), 0, W - 1)  # crowded at the left border
    y = rng.integers(0, H, n)
    events = make_events(t, x, y, rng.integers(0, 2, n))
    ref = NoiseFilter("dv_background_activity", W, H)(events)
    for size in (1, 97, 10_000, n):
        part = events if size > 1 else events[:3000]
        want = ref if size > 1 else NoiseFilter("dv_background_activity", W, H)(part)
        got = in_batches(NoiseFilter("background_activity", W, H), part, size)
        np.testing.assert_array_equal(got["polarity"], want["polarity"], err_msg=f"batches of {size}")
        np.testing.assert_array_equal(got["timestamp"], want["timestamp"], err_msg=f"batches of {size}")
        np.testing.assert_array_equal(got["x"], want["x"], err_msg=f"batches of {size}")


def test_declared_sensor_size_is_capped():
    with pytest.raises(ValueError, match="1-2048"):
        NoiseFilter("background_activity", 100_000, 100_000)

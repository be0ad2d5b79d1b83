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

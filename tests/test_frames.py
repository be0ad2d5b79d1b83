"""events_to_frames against spikingjelly's integrate_events_by_fixed_frames_number."""

from __future__ import annotations

import numpy as np
import pytest
from spikingjelly.datasets.utils import integrate_events_by_fixed_frames_number

from eventcore.events import empty_events, make_events
from eventcore.frames import batch_frames, events_to_frames, segment_bounds


def random_events(n: int, width: int, height: int, t_span: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(1_000, 1_000 + t_span, n))
    return make_events(t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n))


def spikingjelly_frames(ev: np.ndarray, split_by: str, T: int, height: int, width: int) -> np.ndarray:
    d = {"t": ev["timestamp"].copy(), "x": ev["x"].copy(), "y": ev["y"].copy(), "p": ev["polarity"].copy()}
    return integrate_events_by_fixed_frames_number(d, split_by, T, height, width)


@pytest.mark.parametrize("split_by", ["number", "time"])
@pytest.mark.parametrize(
    ("n", "T", "height", "width", "t_span"),
    [
        (10_000, 20, 128, 128, 1_000_000),  # N divisible by T
        (10_007, 20, 128, 128, 999_983),  # remainders in both modes
        (5_003, 7, 260, 346, 100),  # non-square sensor, many events on each time boundary
        (3_001, 16, 48, 64, 3_001),
    ],
)
def test_equals_spikingjelly(split_by, n, T, height, width, t_span):
    ev = random_events(n, width, height, t_span, seed=n)
    ours = events_to_frames(ev, T, height, width, split_by)
    ref = spikingjelly_frames(ev, split_by, T, height, width)
    assert ours.dtype == np.float32 and ours.shape == (T, 2, height, width)
    np.testing.assert_array_equal(ours, ref)
    assert ours.sum() == n
    assert ours[:, 1].sum() == np.count_nonzero(ev["polarity"])


def test_time_mode_last_frame_takes_the_remainder():
    # span 1000 us over T=3: dt=333, so events at t0+999..t0+1000 lie past T*dt and go to frame 2
    t = np.array([0, 332, 333, 665, 666, 998, 999, 1000])
    ev = make_events(t, np.zeros(8), np.zeros(8), np.ones(8))
    frames = events_to_frames(ev, 3, 1, 1, "time")
    np.testing.assert_array_equal(frames[:, 1, 0, 0], [2, 2, 4])
    np.testing.assert_array_equal(frames, spikingjelly_frames(ev, "time", 3, 1, 1))


def test_fewer_events_than_frames_matches_spikingjelly():
    ev = random_events(5, 16, 16, 1_000)
    frames = events_to_frames(ev, 20, 16, 16, "number")
    np.testing.assert_array_equal(frames, spikingjelly_frames(ev, "number", 20, 16, 16))
    assert frames[:19].sum() == 0 and frames[19].sum() == 5


@pytest.mark.parametrize("split_by", ["number", "time"])
def test_no_events_gives_zero_frames(split_by):
    frames = events_to_frames(empty_events(0), 4, 8, 8, split_by)
    assert frames.shape == (4, 2, 8, 8) and not frames.any()


@pytest.mark.parametrize("t_span", [400, 5, 1])
def test_time_mode_empty_bins_follow_the_formula(t_span):
    """Where spikingjelly raises (an empty time bin, or all events within T us), frame j
    holds the events with t0 + j*dt <= t < t0 + (j+1)*dt, the last frame everything after."""
    rng = np.random.default_rng(t_span)
    t = np.sort(np.concatenate([rng.integers(0, t_span // 4 + 1, 50), rng.integers(3 * t_span // 4, t_span, 50)]))
    ev = make_events(t, rng.integers(0, 4, 100), rng.integers(0, 3, 100), rng.integers(0, 2, 100))
    T = 10
    dt = (int(t[-1]) - int(t[0])) // T
    frame_of = np.full(len(t), T - 1) if dt == 0 else np.minimum((t - t[0]) // dt, T - 1)
    expected = np.zeros((T, 2, 3, 4))
    np.add.at(expected, (frame_of, ev["polarity"], ev["y"], ev["x"]), 1)
    frames = events_to_frames(ev, T, 3, 4, "time")
    np.testing.assert_array_equal(frames, expected)
    if t_span == 400:
        assert (frames.sum(axis=(1, 2, 3)) == 0).any()  # the case really has empty bins


def test_channel_and_orientation():
    ev = make_events([0, 1, 2], [3, 3, 0], [1, 1, 2], [0, 1, 1])
    frames = events_to_frames(ev, 1, 3, 5)
    assert frames[0, 0, 1, 3] == 1  # OFF at row y=1, column x=3
    assert frames[0, 1, 1, 3] == 1
    assert frames[0, 1, 2, 0] == 1
    assert frames.sum() == 3


@pytest.mark.parametrize("split_by", ["number", "time"])
def test_single_hot_pixel(split_by):
    n = 20_000
    t = np.sort(np.random.default_rng(1).integers(0, 10**6, n))
    ev = make_events(t, np.full(n, 127), np.full(n, 127), np.ones(n))
    frames = events_to_frames(ev, 20, 128, 128, split_by)
    np.testing.assert_array_equal(frames, spikingjelly_frames(ev, split_by, 20, 128, 128))
    assert frames[:, 1, 127, 127].sum() == n and frames.sum() == n


def test_out_fills_a_batch_slice_and_batch_frames():
    windows = [random_events(n, 32, 24, 10_000, seed=n) for n in (100, 0, 777)]
    batch = np.full((5, 3, 2, 24, 32), -1.0, dtype=np.float32)
    returned = events_to_frames(windows[2], 5, 24, 32, "time", out=batch[:, 2])
    assert np.shares_memory(returned, batch)
    np.testing.assert_array_equal(batch[:, 2], events_to_frames(windows[2], 5, 24, 32, "time"))
    stacked = batch_frames(windows, 5, 24, 32, "time")
    assert stacked.shape == (5, 3, 2, 24, 32)
    for b, w in enumerate(windows):
        np.testing.assert_array_equal(stacked[:, b], events_to_frames(w, 5, 24, 32, "time"))


@pytest.mark.parametrize("split_by", ["number", "time"])
def test_other_layouts_and_strided_views_agree(split_by):
    ev = random_events(4_000, 346, 260, 50_000, seed=4)
    expected = events_to_frames(ev, 9, 260, 346, split_by)
    packed = np.concatenate([ev[:100], ev[100:]])  # same fields, no padding: another dtype
    assert packed.dtype != ev.dtype
    np.testing.assert_array_equal(events_to_frames(packed, 9, 260, 346, split_by), expected)
    np.testing.assert_array_equal(
        events_to_frames(ev[::3], 9, 260, 346, split_by), events_to_frames(ev[::3].copy(), 9, 260, 346, split_by)
    )
    np.testing.assert_array_equal(events_to_frames(ev[::3], 9, 260, 346, split_by), spikingjelly_frames(ev[::3], split_by, 9, 260, 346))


def test_segment_bounds_number_mode():
    np.testing.assert_array_equal(segment_bounds(np.arange(23), 5, "number"), [0, 4, 8, 12, 16, 23])


@pytest.mark.parametrize(
    ("x", "y", "p"),
    [(0, 8, 1), (0, 0, 2), (0, 0, -1)],
    ids=["y past the bottom", "polarity 2", "polarity -1"],
)
def test_events_outside_the_frame_raise(x, y, p):
    ev = make_events([0, 1], [1, x], [1, y], [0, p])
    with pytest.raises(ValueError, match="outside the 8x8 frame"):
        events_to_frames(ev, 2, 8, 8)


def test_bad_arguments_raise():
    ev = random_events(10, 8, 8, 100)
    with pytest.raises(ValueError, match="split_by"):
        events_to_frames(ev, 2, 8, 8, "space")
    with pytest.raises(ValueError, match="T must be"):
        events_to_frames(ev, 0, 8, 8)
    with pytest.raises(ValueError, match="out must be"):
        events_to_frames(ev, 2, 8, 8, out=np.zeros((2, 2, 8, 9), np.float32))

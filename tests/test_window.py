"""SlidingWindow: exact half-open boundaries, batch-split invariance, resets, memory bound."""

from __future__ import annotations

import numpy as np
import pytest

from eventcore.events import make_events
from eventcore.frames import events_to_frames
from eventcore.window import SlidingWindow

HOP = 100_000


def stream(n: int = 60_000, span_us: int = 3_000_000, seed: int = 0) -> np.ndarray:
    """Sorted events with repeated timestamps, a silent gap, and events exactly on the hop grid."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, span_us, n)
    grid = HOP * np.arange(1, span_us // HOP)  # events on the window ends, three at each
    t = np.concatenate([t] + [grid] * 3)
    t = np.sort(t[(t < 1_000_000) | (t > 1_450_000)])  # a gap longer than the hop: empty windows
    t += 5_000  # first event at 5_000, so the window ends first_t + k * HOP hit the grid events
    t[0] = 5_000
    m = len(t)
    # x, y spell out the index so that a lost, duplicated or reordered event shows
    return make_events(t, np.arange(m) % 128, (np.arange(m) // 128) % 128, rng.integers(0, 2, m))


def random_splits(ev: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    cuts = np.sort(rng.choice(np.arange(1, len(ev)), size=rng.integers(1, 400), replace=False))
    return np.split(ev, cuts)


def run(sw: SlidingWindow, batches) -> list:
    return [w for b in batches for w in sw.push(b)]


def test_duration_equal_to_hop_partitions_the_stream():
    ev = stream()
    windows = run(SlidingWindow(duration_us=HOP, hop_us=HOP), np.split(ev, [1000, 1001, 25_000]))
    t = ev["timestamp"]
    first = int(t[0])
    assert [w.t_end for w in windows] == [first + k * HOP for k in range(1, len(windows) + 1)]
    assert windows[-1].t_end <= t[-1] < windows[-1].t_end + HOP
    covered = np.concatenate([w.events for w in windows])
    n_due = np.searchsorted(t, windows[-1].t_end)  # events after the last due end wait for the next
    np.testing.assert_array_equal(covered, ev[:n_due])
    assert any(len(w.events) == 0 for w in windows)  # the gap
    for w in windows:
        assert w.t_start == w.t_end - HOP and w.complete
        tw = w.events["timestamp"]
        assert len(tw) == 0 or (tw.min() >= w.t_start and tw.max() < w.t_end)
        assert events_to_frames(w.events, 20, 128, 128, "number").sum() == len(w.events)
        assert events_to_frames(w.events, 20, 128, 128, "time").sum() == len(w.events)


@pytest.mark.parametrize("duration", [1_500_000, 250_000, 60_000])  # overlapping, and shorter than hop
def test_time_windows_match_brute_force(duration):
    ev = stream(seed=duration)
    t = ev["timestamp"]
    windows = run(SlidingWindow(duration_us=duration, hop_us=HOP, capacity=4096), random_splits(ev, np.random.default_rng(1)))
    assert len(windows) == (t[-1] - t[0]) // HOP
    for w in windows:
        np.testing.assert_array_equal(w.events, ev[(t >= w.t_end - duration) & (t < w.t_end)])
        assert w.complete == (w.t_end - duration >= t[0])


def test_count_windows_match_brute_force():
    ev = stream(seed=3)
    t = ev["timestamp"]
    count = 5_000
    windows = run(SlidingWindow(count=count, hop_us=HOP, capacity=1000), random_splits(ev, np.random.default_rng(2)))
    assert len(windows) == (t[-1] - t[0]) // HOP
    assert not windows[0].complete and windows[-1].complete
    for w in windows:
        n_before = np.searchsorted(t, w.t_end)
        np.testing.assert_array_equal(w.events, ev[max(0, n_before - count) : n_before])
        assert w.complete == (n_before >= count)
        if len(w.events):
            assert w.t_start == w.events["timestamp"][0]


@pytest.mark.parametrize("kwargs", [{"duration_us": 700_000}, {"count": 3_000}])
def test_any_batch_split_gives_identical_windows(kwargs):
    ev = stream(seed=5)
    reference = run(SlidingWindow(hop_us=HOP, **kwargs), [ev])
    rng = np.random.default_rng(7)
    splits = [random_splits(ev, rng) for _ in range(3)] + [np.split(ev, np.arange(1, len(ev), 997))]
    for batches in splits:
        windows = run(SlidingWindow(hop_us=HOP, capacity=512, **kwargs), batches)
        assert [(w.t_start, w.t_end, w.complete) for w in windows] == [
            (w.t_start, w.t_end, w.complete) for w in reference
        ]
        for a, b in zip(windows, reference):
            np.testing.assert_array_equal(a.events, b.events)


def test_a_batch_ending_on_a_grid_time_does_not_close_that_window():
    sw = SlidingWindow(duration_us=HOP, hop_us=HOP)
    assert sw.push(make_events([0, 50_000], [0, 0], [0, 0], [1, 1])) == []
    assert sw.push(make_events([HOP], [0], [0], [1])) != []  # an event at t_end closes it...
    sw = SlidingWindow(duration_us=HOP, hop_us=HOP)
    sw.push(make_events([0], [0], [0], [1]))
    (w,) = sw.push(make_events([HOP, HOP], [1, 2], [0, 0], [1, 1]))
    (w2,) = sw.push(make_events([HOP, 2 * HOP], [3, 4], [0, 0], [1, 1]))
    assert len(w.events) == 1 and len(w2.events) == 3  # ...and its equals belong to the next one


def test_backwards_time_resets_between_and_inside_batches():
    ev = stream(seed=9)
    tail = ev[ev["timestamp"] >= 2_000_000]
    sw = SlidingWindow(duration_us=300_000, hop_us=HOP)
    before = run(sw, [ev[:20_000], ev[20_000:]])
    assert sw.resets == 0
    after = sw.push(tail)  # a seek back to 2 s
    assert sw.resets == 1
    expected = SlidingWindow(duration_us=300_000, hop_us=HOP).push(tail)
    assert [w.t_end for w in after] == [w.t_end for w in expected] and after[0].t_end == tail["timestamp"][0] + HOP
    for a, b in zip(after, expected):
        np.testing.assert_array_equal(a.events, b.events)
    assert not after[0].complete  # its span reaches back before the new start

    looped = SlidingWindow(duration_us=300_000, hop_us=HOP)
    both = looped.push(np.concatenate([ev, tail]))  # the loop inside one batch
    assert looped.resets == 1
    assert [w.t_end for w in both] == [w.t_end for w in before + after]


def test_windows_stay_valid_and_read_only_after_later_pushes():
    ev = stream(seed=11)
    sw = SlidingWindow(duration_us=HOP, hop_us=HOP, capacity=256)
    early = sw.push(ev[:5_000])
    kept = [w.events.copy() for w in early]
    capacity_before = sw.capacity
    run(sw, np.array_split(ev[5_000:], 50))  # forces reallocations
    assert sw.capacity != capacity_before
    for w, copy in zip(early, kept):
        np.testing.assert_array_equal(w.events, copy)
    with pytest.raises(ValueError):
        early[-1].events["x"][0] = 1


def test_memory_is_bounded_by_the_longest_window():
    rate_per_ms, duration = 20, 200_000  # 20 k events/s, 0.2 s windows: 4 000 events kept
    sw = SlidingWindow(duration_us=duration, hop_us=HOP, capacity=1024)
    rng = np.random.default_rng(0)
    capacities = []
    for ms in range(0, 20_000, 10):  # 20 s in 10 ms batches
        t = np.sort(rng.integers(ms * 1000, (ms + 10) * 1000, 10 * rate_per_ms))
        sw.push(make_events(t, np.zeros(len(t)), np.zeros(len(t)), np.ones(len(t))))
        kept = sw.buffered["timestamp"]
        assert kept[0] >= t[-1] + 1 - duration
        capacities.append(sw.capacity)
    assert len(sw.buffered) <= 1.1 * rate_per_ms * duration / 1000
    assert max(capacities) <= 2 * (rate_per_ms * duration / 1000 + 200) * 1.1  # not the 400 k streamed


def test_count_mode_keeps_only_count_events():
    sw = SlidingWindow(count=1000, hop_us=HOP, capacity=64)
    ev = stream(seed=13)
    run(sw, np.array_split(ev, 300))
    np.testing.assert_array_equal(sw.buffered, ev[-1000:])


def test_latest_window():
    ev = stream(seed=15)
    t = ev["timestamp"]
    sw = SlidingWindow(duration_us=400_000, hop_us=HOP)
    run(sw, np.array_split(ev, 40))
    newest = int(t[-1])
    for t_end in (newest + 1, newest + 123_456, newest + 10**7):
        w = sw.latest(t_end)
        np.testing.assert_array_equal(w.events, ev[(t >= t_end - 400_000) & (t < t_end)])
    assert sw.latest().t_end == newest + 1
    assert len(sw.latest(newest + 10**7).events) == 0
    with pytest.raises(ValueError, match="after the newest event"):
        sw.latest(newest)
    counted = SlidingWindow(count=500, hop_us=HOP)
    counted.push(ev)
    np.testing.assert_array_equal(counted.latest().events, ev[-500:])
    assert len(SlidingWindow(count=5).latest().events) == 0


def test_jump_forward_returns_newest_windows_and_counts_the_rest():
    sw = SlidingWindow(duration_us=HOP, hop_us=HOP, max_windows=10)
    sw.push(make_events([0, 10], [0, 0], [0, 0], [1, 1]))
    windows = sw.push(make_events([10**9], [0], [0], [1]))
    assert len(windows) == 10 and sw.skipped_windows == 10**9 // HOP - 10
    assert windows[-1].t_end == 10**9 and sw.next_end == 10**9 + HOP


def test_bad_arguments():
    with pytest.raises(ValueError, match="exactly one"):
        SlidingWindow(duration_us=HOP, count=10)
    with pytest.raises(ValueError, match="exactly one"):
        SlidingWindow()
    with pytest.raises(ValueError, match="hop_us"):
        SlidingWindow(duration_us=HOP, hop_us=0)
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        SlidingWindow(count=3).push(np.zeros(3, dtype=[("timestamp", "i8"), ("x", "i2")]))

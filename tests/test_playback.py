"""File playback shared by every recorded source: pacing, seek, loop, pause and step."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from eventcore.events import make_events
from app.sources.base import ArraySource


def stream(duration_us: int = 1_000_000, step_us: int = 100) -> ArraySource:
    t = np.arange(0, duration_us, step_us)
    n = len(t)
    return ArraySource(make_events(t, t % 128, (t // 128) % 128, t % 2), 128, 128, name="synthetic")


def test_fast_playback_yields_every_event_once_in_order():
    src = stream()
    batches = list(src.batches())
    ev = np.concatenate(batches)
    assert len(ev) == len(src.events)
    assert np.array_equal(ev["timestamp"], src.events["timestamp"])
    assert all(np.shares_memory(b, src.events) for b in batches if len(b))


def test_paced_playback_follows_wall_time():
    src = stream(300_000)
    src.speed = 1.0
    t0 = time.perf_counter()
    n = sum(len(b) for b in src.batches())
    elapsed = time.perf_counter() - t0
    assert n == len(src.events)
    assert 0.25 < elapsed < 1.0
    src.speed = 3.0
    t0 = time.perf_counter()
    list(src.batches())
    assert time.perf_counter() - t0 < 0.25


def test_seek_restarts_from_the_requested_time():
    src = stream()
    it = src.batches()
    first = next(it)
    assert first["timestamp"][0] == 0
    src.seek(500_000)
    nxt = next(it)
    assert nxt["timestamp"][0] == 500_000
    rest = np.concatenate([nxt, *it])
    assert rest["timestamp"][0] == 500_000 and rest["timestamp"][-1] == src.end_us


def test_loop_repeats_the_file():
    src = stream(100_000)
    src.loop = True
    seen = 0
    for batch in src.batches():
        seen += len(batch)
        if seen >= 3 * len(src.events):
            break
    assert seen == 3 * len(src.events)


def test_pause_blocks_and_step_plays_exactly_the_requested_span():
    src = stream()
    src.pause()
    got: list[np.ndarray] = []
    th = threading.Thread(target=lambda: got.extend(src.batches()), daemon=True)
    th.start()
    time.sleep(0.15)
    assert got == []
    src.step(25_000)
    time.sleep(0.15)
    ev = np.concatenate(got)
    assert ev["timestamp"].min() == 0 and ev["timestamp"].max() < 25_000
    assert len(ev) == 250
    src.close()
    th.join(1)
    assert not th.is_alive()


def test_negative_speed_is_refused():
    with pytest.raises(ValueError, match="speed"):
        stream().speed = -1

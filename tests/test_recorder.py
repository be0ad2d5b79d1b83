"""Recorder / write_aedat4 / record: AEDAT4 written with dv-processing, read back with Aedat4Source."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import dv_processing as dv
import numpy as np
import pytest

from eventcore.events import make_events
from app.sources.aedat4 import Aedat4Source
from app.sources.base import ArraySource
from eventcore.errors import SourceError
from app.sources.dv import to_event_store
from app.sources.recorder import Recorder, record, write_aedat4

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_000_000


def events_for(n: int, seed: int = 0, t0: int = T0, step: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = t0 + np.arange(n, dtype=np.int64) * step // 2
    return make_events(t, rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n))


def test_to_event_store_round_trips_through_dv_processing():
    events = events_for(10_000)
    store = to_event_store(events)
    assert isinstance(store, dv.EventStore) and len(store) == len(events)
    np.testing.assert_array_equal(store.numpy(), events)


def test_to_event_store_refuses_unsorted_events():
    events = events_for(10)[::-1]
    with pytest.raises(ValueError, match="non-decreasing"):
        to_event_store(events)


def test_write_aedat4_round_trip(tmp_path):
    events = events_for(50_000)
    path = tmp_path / "demo.aedat4"
    write_aedat4(path, events, 128, 128, camera="Simulator_0001")
    src = Aedat4Source(path)
    assert (src.width, src.height, src.camera) == (128, 128, "Simulator_0001")
    np.testing.assert_array_equal(src.read_all(), events)


def test_record_tees_a_streaming_source(tmp_path):
    events = events_for(40_000)
    src = ArraySource(events, 128, 128, name="sim")
    seen = []
    with Recorder(tmp_path / "take.aedat4", src.width, src.height) as rec:
        for batch in record(src.batches(), rec):
            seen.append(batch)
        assert rec.events_written == len(events)
        assert rec.elapsed_us == events["timestamp"][-1] - events["timestamp"][0]
    assert rec.closed
    np.testing.assert_array_equal(np.concatenate(seen), events)
    np.testing.assert_array_equal(Aedat4Source(tmp_path / "take.aedat4").read_all(), events)


def test_backwards_time_from_a_loop_is_shifted_forward(tmp_path):
    events = events_for(1_000)
    path = tmp_path / "loop.aedat4"
    with Recorder(path, 128, 128) as rec:
        rec.write(events)
        rec.write(events)  # the source looped
        assert rec.events_written == 2 * len(events)
    got = Aedat4Source(path).read_all()
    assert len(got) == 2 * len(events)
    assert np.all(np.diff(got["timestamp"]) >= 0)
    np.testing.assert_array_equal(got[:1000], events)
    np.testing.assert_array_equal(got["timestamp"][1000:] - got["timestamp"][1000], events["timestamp"] - T0)
    np.testing.assert_array_equal(got[["x", "y", "polarity"]][1000:], events[["x", "y", "polarity"]])


@pytest.mark.parametrize(
    "name, expected",
    [
        ("take.aedat", "must end in .aedat4"),
        ("no/such/folder/take.aedat4", "does not exist"),
        (".", "is a folder"),
    ],
)
def test_bad_output_paths_are_source_errors(tmp_path, name, expected):
    # dv-processing's writer would abort the whole process on a wrong extension.
    with pytest.raises(SourceError, match=expected):
        Recorder(tmp_path / name, 128, 128)


def test_misuse_is_reported(tmp_path):
    with pytest.raises(ValueError):
        Recorder(tmp_path / "x.aedat4", 0, 128)
    rec = Recorder(tmp_path / "y.aedat4", 128, 128)
    with pytest.raises(TypeError):
        rec.write(np.zeros(3, dtype=[("timestamp", "<i8")]))
    rec.close()
    rec.close()
    with pytest.raises(ValueError, match="closed"):
        rec.write(events_for(3))


_KILLED_WRITER = """
import sys, time
import numpy as np
from eventcore.events import make_events
from app.sources.recorder import Recorder
rec = Recorder(sys.argv[1], 128, 128, camera="Killed_0001")
for k in range(10_000):
    rng = np.random.default_rng(k)
    n = 2000
    t = 1_000_000 + k * 10_000 + np.arange(n) * 5
    rec.write(make_events(t, rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n)))
    print(rec.events_written, flush=True)
    time.sleep(0.002)
"""


def _killed_writer_batch(k: int) -> np.ndarray:
    rng = np.random.default_rng(k)
    n = 2000
    t = 1_000_000 + k * 10_000 + np.arange(n) * 5
    return make_events(t, rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n))


def test_recording_killed_mid_way_stays_readable(tmp_path):
    """SIGKILL a recording process; what it wrote, minus dv's 64 KiB write buffer, reads back."""
    path = tmp_path / "killed.aedat4"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(30, proc.kill)
    watchdog.start()
    try:
        acked = 0
        while acked < 150_000:
            line = proc.stdout.readline()
            assert line, "the recording process died on its own"
            acked = int(line)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        watchdog.cancel()
        proc.kill()
        proc.stdout.close()
    src = Aedat4Source(path)
    assert src.camera == "Killed_0001"
    got = src.read_all()
    expected = np.concatenate([_killed_writer_batch(k) for k in range(acked // 2000)])
    np.testing.assert_array_equal(got, expected[: len(got)])
    # Random events compress to about 6.6 bytes each: 64 KiB is about 10,000 of them.
    assert acked - len(got) <= 20_000, f"{acked - len(got)} of {acked} acknowledged events lost"

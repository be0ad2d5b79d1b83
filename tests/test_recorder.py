"""Recorder / write_aedat4 / record: AEDAT4 written with dv-processing, read back with Aedat4Source."""

from __future__ import annotations

import os
import signal
import subprocess
import time
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
    """SIGKILL a recording process: everything it had accepted more than 0.5 s before the kill reads back."""
    path = tmp_path / "killed.aedat4"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(30, proc.kill)
    watchdog.start()
    acks = []  # (wall time, events accepted)
    try:
        while not acks or acks[-1][0] - acks[0][0] < 1.5:
            line = proc.stdout.readline()
            assert line, "the recording process died on its own"
            acks.append((time.monotonic(), int(line)))
        proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait()
    finally:
        watchdog.cancel()
        proc.kill()
        proc.stdout.close()
    src = Aedat4Source(path)
    assert src.camera == "Killed_0001"
    got = src.read_all()
    acked = acks[-1][1]
    expected = np.concatenate([_killed_writer_batch(k) for k in range(acked // 2000)])
    np.testing.assert_array_equal(got, expected[: len(got)])
    safe = max(n for t, n in acks if t <= killed_at - 0.5)
    assert len(got) >= safe, f"lost events accepted more than 0.5 s before the kill ({len(got)} < {safe})"


def test_files_are_read_by_dv_processing_too(tmp_path):
    events = events_for(50_000, seed=3)
    for compression in ("lz4", "zstd", "none"):
        path = tmp_path / f"{compression}.aedat4"
        write_aedat4(path, events, 128, 128, camera="Compat_0001", compression=compression)
        reader = dv.io.MonoCameraRecording(str(path))
        assert reader.getCameraName() == "Compat_0001"
        assert tuple(reader.getEventResolution()) == (128, 128)
        parts = []
        while (store := reader.getNextEventBatch()) is not None:
            parts.append(store.numpy())
        got = np.concatenate(parts)
        for name in ("timestamp", "x", "y"):
            np.testing.assert_array_equal(got[name], events[name], err_msg=f"{compression}: {name}")
        np.testing.assert_array_equal(got["polarity"] != 0, events["polarity"] != 0)


def test_never_leaves_an_empty_file(tmp_path):
    path = tmp_path / "nothing.aedat4"
    Recorder(path, 128, 128).close()
    assert path.stat().st_size > 0
    src = Aedat4Source(path)  # a valid recording of nothing: empty, with a warning, not an error
    assert len(src.read_all()) == 0 and src.duration_us == 0 and (src.width, src.height) == (128, 128)
    assert any("holds no events" in w for w in src.warnings)


def test_flushes_within_half_a_second_without_more_writes(tmp_path):
    path = tmp_path / "idle.aedat4"
    rec = Recorder(path, 128, 128)
    size = path.stat().st_size
    rec.write(events_for(1000))
    time.sleep(0.5)
    assert path.stat().st_size > size, "a lone batch was not written within 0.5 s"
    np.testing.assert_array_equal(Aedat4Source(path).read_all(), events_for(1000))
    rec.close()


_FULL_DISK_WRITER = """
import resource, signal, sys
import numpy as np
from eventcore.events import make_events
from eventcore.errors import SourceError
from app.sources.recorder import Recorder
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
rec = Recorder(sys.argv[1], 128, 128, compression="none")
try:
    for k in range(1000):
        t = 1_000_000 + k * 1000 + np.arange(1000)
        rng = np.random.default_rng(k)
        rec.write(make_events(t, rng.integers(0, 128, 1000), rng.integers(0, 128, 1000), rng.integers(0, 2, 1000)))
        rec.flush()
    rec.close()
except SourceError as err:
    print("ERROR", err, flush=True)
    rec.close()
    print("FLUSHED", rec.events_flushed, flush=True)
"""


def test_full_disk_is_one_line_and_keeps_what_was_written(tmp_path):
    """A size-limited file (RLIMIT_FSIZE) stands in for a full disk: same code path (EFBIG/ENOSPC)."""
    path = tmp_path / "full.aedat4"
    out = subprocess.run([sys.executable, "-c", _FULL_DISK_WRITER, str(path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ERROR") and "file size limit reached after" in lines[0], out.stdout
    flushed = int(lines[1].split()[1])
    assert 0 < flushed < 1_000_000
    assert path.stat().st_size <= 200_000
    got = Aedat4Source(path).read_all()
    assert len(got) == flushed  # whole packets only; the cut packet was removed


def test_full_tmpfs_if_mountable(tmp_path):
    """A real full disk: a 1 MiB tmpfs (needs root and mount; skipped otherwise)."""
    import shutil

    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        rec = Recorder(mnt / "full.aedat4", 128, 128, compression="none")
        with pytest.raises(SourceError, match="disk full after"):
            for k in range(500):
                rec.write(events_for(1000, seed=k, t0=T0 + k * 2000))
                rec.flush()
            rec.close()
        rec.close()
        got = Aedat4Source(mnt / "full.aedat4").read_all()
        assert len(got) == rec.events_flushed > 0
    finally:
        subprocess.run(["umount", str(mnt)])


def test_full_disk_before_the_header_leaves_no_file_and_says_so(tmp_path):
    """When not even the header fits, the message says no file was written (not 'readable up to there')."""
    path = tmp_path / "none.aedat4"
    code = ("import resource, signal, sys; from app.sources.recorder import Recorder; "
            "from eventcore.errors import SourceError; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100)); "
            "exec('try: Recorder(sys.argv[1], 128, 128)\\nexcept SourceError as e: print(e)')")
    out = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "not even the file header fits; no file was written" in out.stdout, out.stdout
    assert "readable" not in out.stdout and not path.exists()

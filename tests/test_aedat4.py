"""Aedat4Source: AEDAT4 files written here with dv-processing, the real recordings, bad files."""

from __future__ import annotations

import os
import struct
import time

import dv_processing as dv
import numpy as np
import pytest

from eventcore.events import EVENT_DTYPE, make_events, on_fraction
from app.sources.aedat4 import Aedat4Source
from app.sources.dv import dv_error_message
from eventcore.errors import SourceError

W, H = 128, 96
T0 = 1_700_000_000_000_000


def synthetic_events(n: int = 30_000, span_us: int = 300_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = T0 + np.sort(rng.integers(0, span_us, n))
    t[-1] = T0 + span_us
    return make_events(t, rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n))


def write_with_dv(path, events, camera="TestCam_0001", frames_around=False, chunk=5_000):
    """Write an AEDAT4 file directly with dv-processing (events, optionally a frame stream)."""
    if frames_around:
        config = dv.io.MonoCameraWriter.DAVISConfig(camera, (W, H))
    else:
        config = dv.io.MonoCameraWriter.EventOnlyConfig(camera, (W, H))
    writer = dv.io.MonoCameraWriter(str(path), config)
    if frames_around:
        image = np.zeros((H, W), np.uint8)
        writer.writeFrame(dv.Frame(int(events["timestamp"][0]) - 50_000, image))
    for i in range(0, len(events), chunk):
        store = dv.EventStore()
        for e in events[i : i + chunk]:
            store.push_back(int(e["timestamp"]), int(e["x"]), int(e["y"]), bool(e["polarity"]))
        writer.writeEvents(store)
    if frames_around:
        writer.writeFrame(dv.Frame(int(events["timestamp"][-1]) + 70_000, image))
    del writer


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    events = synthetic_events()
    path = tmp_path_factory.mktemp("aedat4") / "synthetic.aedat4"
    write_with_dv(path, events)
    return path, events


def test_reads_back_exactly_what_dv_processing_wrote(recording):
    path, events = recording
    src = Aedat4Source(path)
    assert (src.width, src.height, src.camera, src.name) == (W, H, "TestCam_0001", "synthetic.aedat4")
    assert (src.start_us, src.end_us) == (events["timestamp"][0], events["timestamp"][-1])
    got = src.read_all()
    assert got.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(got, events)
    assert src.warnings == []


def test_events_between_is_half_open_and_matches_slicing(recording):
    path, events = recording
    src = Aedat4Source(path)
    t = events["timestamp"]
    rng = np.random.default_rng(1)
    for _ in range(20):
        t0, t1 = np.sort(rng.integers(t[0] - 1000, t[-1] + 1000, 2))
        i0, i1 = np.searchsorted(t, (t0, t1))
        np.testing.assert_array_equal(src.events_between(t0, t1), events[i0:i1])
    edge = int(t[len(t) // 2])
    assert np.all(src.events_between(edge, edge + 1)["timestamp"] == edge)
    assert len(src.events_between(edge, edge)) == 0


def test_other_streams_are_ignored(tmp_path):
    events = synthetic_events(5_000, 50_000)
    path = tmp_path / "davis.aedat4"
    write_with_dv(path, events, frames_around=True)
    assert set(dv.io.MonoCameraRecording(str(path)).getStreamNames()) >= {"events", "frames"}
    src = Aedat4Source(path)
    assert (src.start_us, src.end_us) == (events["timestamp"][0], events["timestamp"][-1])
    np.testing.assert_array_equal(src.read_all(), events)


def test_file_without_event_stream_is_a_source_error(tmp_path):
    path = tmp_path / "frames.aedat4"
    writer = dv.io.MonoCameraWriter(str(path), dv.io.MonoCameraWriter.FrameOnlyConfig("Cam", (W, H)))
    writer.writeFrame(dv.Frame(T0, np.zeros((H, W), np.uint8)))
    del writer
    with pytest.raises(SourceError, match=r"frames\.aedat4: no event stream"):
        Aedat4Source(path)


def test_other_file_extension_is_read(recording, tmp_path):
    path, events = recording
    other = tmp_path / "copy.AEDAT4"
    other.write_bytes(path.read_bytes())
    np.testing.assert_array_equal(Aedat4Source(other).read_all(), events)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d, good: d / "missing.aedat4", "no such file"),
        (lambda d, good: d, "is a folder"),
        (lambda d, good: _bytes(d / "empty.aedat4", b""), "empty"),
        (lambda d, good: _bytes(d / "noise.aedat4", os.urandom(4096)), "not an AEDAT4 file"),
        (lambda d, good: _bytes(d / "cut.aedat4", good[:100]), "cut.aedat4: the file is cut short"),
    ],
    ids=["missing", "folder", "empty", "random-bytes", "cut-in-header"],
)
def test_bad_files_are_clear_source_errors(recording, tmp_path, make, expected):
    good = recording[0].read_bytes()
    with pytest.raises(SourceError, match=expected) as err:
        Aedat4Source(make(tmp_path, good))
    assert "\n" not in str(err.value) and "Stacktrace" not in str(err.value)


def _bytes(path, data):
    path.write_bytes(data)
    return path


def test_truncated_file_recovers_a_prefix_with_a_warning(recording, tmp_path):
    path, events = recording
    data = path.read_bytes()
    cut = tmp_path / "cut.aedat4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    src = Aedat4Source(cut)
    got = src.read_all()
    assert 0 < len(got) < len(events)
    np.testing.assert_array_equal(got, events[: len(got)])
    assert src.end_us == got["timestamp"][-1]
    assert len(src.warnings) == 1 and "truncated" in src.warnings[0]


def test_recording_cut_before_its_first_packet_reads_as_empty(tmp_path):
    live = tmp_path / "live.aedat4"
    writer = dv.io.MonoCameraWriter(str(live), dv.io.MonoCameraWriter.EventOnlyConfig("Cam", (W, H)))
    deadline = time.monotonic() + 5
    while live.stat().st_size == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the writer's I/O thread writes the header
    header_only = live.read_bytes()  # what a recording killed at once leaves on disk
    del writer
    cut = tmp_path / "killed.aedat4"
    cut.write_bytes(header_only)
    src = Aedat4Source(cut)  # nothing saved: an empty recording that says so, not a crash
    assert len(src.read_all()) == 0
    assert any(w.startswith("killed.aedat4: the recording holds no events") for w in src.warnings)


def test_dv_error_message_keeps_the_useful_line():
    exc = RuntimeError("/x/y.hpp(1): f()\nFileError: boom. - Error info: File a\nStacktrace:\n 0# z")
    assert dv_error_message(exc) == "FileError: boom.; File a"


def test_seek_plays_from_the_new_position(recording):
    path, events = recording
    src = Aedat4Source(path)
    middle = int(events["timestamp"][len(events) // 2])
    src.seek(middle)
    played = np.concatenate(list(src.batches()))
    np.testing.assert_array_equal(played, events[events["timestamp"] >= middle])


def test_paced_playback_follows_file_time(recording):
    path, events = recording
    src = Aedat4Source(path)
    src.speed = 1.0
    start = time.perf_counter()
    n = sum(len(b) for b in src.batches())
    wall = time.perf_counter() - start
    assert n == len(events)
    assert wall >= 0.25, f"0.3 s of file played in {wall:.3f} s at speed 1"


# The real recordings in ../shared/data (skipped when absent).

@pytest.mark.parametrize(
    "name, camera, count, seconds, on",
    [
        ("davis346_aestream.aedat4", "DAVIS346_00000104", 117_667, 0.130, 0.615),
        ("davis346_aedat.aedat4", "DAVIS346_00000002", 78_830, 2.360, 0.523),
    ],
)
def test_real_recordings(shared_data, name, camera, count, seconds, on):
    src = Aedat4Source(shared_data / "real" / name)
    assert (src.width, src.height, src.camera) == (346, 260, camera)
    events = src.read_all()
    assert len(events) == count
    assert src.duration_us / 1e6 == pytest.approx(seconds, abs=0.0005)
    assert on_fraction(events) == pytest.approx(on, abs=0.0005)
    assert np.all(np.diff(events["timestamp"]) >= 0)
    assert events["x"].max() < 346 and events["y"].max() < 260
    assert sum(len(b) for b in src.batches()) == count


def test_real_frames_only_file_is_a_clear_error(shared_data):
    with pytest.raises(SourceError, match=r"frames_only_gray16\.aedat4: .*FRME") as err:
        Aedat4Source(shared_data / "real" / "frames_only_gray16.aedat4")
    assert "\n" not in str(err.value)


# -- damaged containers: each one clear line, fast, memory bounded by the file ------------------


def _header_with(xml: bytes, compression: int = 1, table: int = -1) -> bytes:
    from eventcore.aedat.aedat4 import MAGIC

    body = struct.pack("<I4s6xHHHHH", 24, b"IOHE", 10, 24, 4, 12, 8)
    body += struct.pack("<iiIq4x", 10, compression, 16, table) + struct.pack("<I", len(xml)) + xml + b"\0"
    body += b"\0" * (-len(body) % 8)
    return MAGIC + struct.pack("<I", len(body)) + body


def _xml(width="128", height="96") -> bytes:
    return (
        '<dv version="2.0"><node name="outInfo"><node name="0">'
        '<attr key="typeIdentifier" type="string">EVTS</attr><node name="info">'
        f'<attr key="sizeX" type="int">{width}</attr><attr key="sizeY" type="int">{height}</attr>'
        '</node></node></node></dv>'
    ).encode()


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"#!AER-DAT4.0\r\n\xff\xff\xff\xff", r"header declares 4294967295 bytes"),  # the 18-byte file
        (b"#!AER-DAT4.0\r\n\x00\x10\x00\x00" + b"\0" * 64, r"cut short inside its header"),
        (_header_with(_xml()) + struct.pack("<ii", 0, 0x7FFFFFFF) + b"\0" * 64, r"truncated before its first"),
        (_header_with(_xml()) + struct.pack("<ii", 0, -5), r"damaged packet header at byte \d+ \(size -5\)"),
        (_header_with(_xml()) + struct.pack("<ii", 0, 40) + b"\x04\x22\x4d\x18" + b"\xff" * 36, r"damaged event packet"),
        (_header_with(_xml("-346", "260")), r"impossible sensor size -346x260"),
        (_header_with(_xml("100000", "260")), r"impossible sensor size 100000x260"),
        (_header_with(_xml(), compression=9), r"unknown compression type 9"),
        (_header_with(b"<dv><node"), r"not valid XML"),
        (_header_with(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><dv/>'), r"XML entities"),
        (_header_with(_xml(), table=10**15), r"truncated before its first"),
    ],
    ids=["18-byte-4GB-header", "header-past-end", "huge-packet", "negative-packet", "bad-lz4",
         "negative-sensor", "huge-sensor", "compression", "xml", "xml-entities", "table-past-end"],
)
def test_damaged_containers_are_one_clear_line_with_bounded_memory(tmp_path, data, expected):
    import resource

    path = tmp_path / "damaged.aedat4"
    path.write_bytes(data)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=expected) as err:
        Aedat4Source(path)
    assert time.monotonic() - t0 < 2
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) < 50 * 1024
    assert "\n" not in str(err.value) and "damaged.aedat4" in str(err.value)


def test_fifo_is_refused_without_blocking(tmp_path):
    from app.sources.open import open_file

    fifo = tmp_path / "live.aedat4"
    os.mkfifo(fifo)
    with pytest.raises(SourceError, match="not a regular file"):
        open_file(fifo)
    with pytest.raises(SourceError, match="not a regular file"):
        Aedat4Source(fifo)


def test_header_without_events_written_by_us_is_valid_for_dv_processing(tmp_path):
    from app.sources.recorder import Recorder

    Recorder(tmp_path / "empty.aedat4", W, H, camera="Empty_0001").close()
    reader = dv.io.MonoCameraRecording(str(tmp_path / "empty.aedat4"))
    assert reader.getCameraName() == "Empty_0001"


def test_files_with_an_index_open_from_it_and_packets_are_checked_against_it(recording, tmp_path):
    """dv-processing's files end with a packet index: opening reads it instead of decoding every
    packet; a packet that then disagrees with its entry is one clear error when it is read."""
    from eventcore.aedat.aedat4 import Aedat4File

    path, events = recording
    f = Aedat4File(path)
    assert f._from_index and int(f.index.counts.sum()) == len(events)
    f.close()
    data = bytearray(path.read_bytes())
    first = int(Aedat4File(path).index.offsets[0])
    data[first + 40 : first + 48] = b"\xff" * 8  # inside the first event packet's LZ4 frame
    bad = tmp_path / "bad_packet.aedat4"
    bad.write_bytes(bytes(data))
    src = Aedat4Source(bad)  # the index is intact: opens
    with pytest.raises(SourceError, match=r"bad_packet\.aedat4: .*packet at byte \d+") as err:
        src.read_all()
    assert "\n" not in str(err.value)


def test_an_index_that_lies_is_ignored_and_the_packets_are_walked(recording, tmp_path):
    import lz4.frame

    from eventcore.aedat.aedat4 import Aedat4File

    path, events = recording
    f = Aedat4File(path)
    table_at = f.header.table_position
    f.close()
    data = bytearray(path.read_bytes())
    table = bytearray(lz4.frame.decompress(bytes(data[table_at:])))
    i = table.find(struct.pack("<q", int(events["timestamp"][-1])))
    assert i > 0
    table[i : i + 8] = struct.pack("<q", 1)  # the last entry ends before it starts
    lying = tmp_path / "lying.aedat4"
    lying.write_bytes(bytes(data[:table_at]) + lz4.frame.compress(bytes(table)))
    g = Aedat4File(lying)
    assert not g._from_index
    np.testing.assert_array_equal(Aedat4Source(lying).read_all(), events)

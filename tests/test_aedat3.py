"""AEDAT 3.1 reader: round trips through tests/writers.py, exact agreement with spikingjelly's
``load_aedat_v3``, and every kind of bad input ending in a SourceError naming the file."""

from __future__ import annotations

import numpy as np
import pytest

from eventcore.events import make_events
from app.sources.aedat3 import Aedat3Source
from eventcore.aedat.aedat3 import read_aedat3
from eventcore.aedat.common import sensor_size
from eventcore.errors import SourceError
from tests.writers import (
    AEDAT3_HEADER,
    POLARITY_EVENT,
    aedat3_packet,
    polarity_payload,
    synthetic_events,
    write_aedat2,
    write_aedat3,
)


@pytest.fixture
def events():
    return synthetic_events(20_000, 128, 128, t0=5_000, span_us=2_000_000)


def _assert_same(got, want):
    for name in ("timestamp", "x", "y", "polarity"):
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_round_trip_keeps_every_polarity_event_and_skips_other_packets(tmp_path, events):
    path = write_aedat3(tmp_path / "a.aedat", events, packet_events=777, others=True)
    f = read_aedat3(path)
    _assert_same(f.events, events)
    assert (f.width, f.height, f.camera) == (128, 128, "DVS128")
    assert f.warnings == []


def test_timestamp_overflow_continues_past_2_pow_31(tmp_path):
    ev = synthetic_events(5_000, 128, 128, t0=2**31 - 1_000, span_us=2_000)
    assert (ev["timestamp"] >= 2**31).any() and (ev["timestamp"] < 2**31).any()
    f = read_aedat3(write_aedat3(tmp_path / "ovf.aedat", ev))
    _assert_same(f.events, ev)


@pytest.mark.parametrize(
    "camera, size",
    [("DVS128", (128, 128)), ("DAVIS346B", (346, 260)), ("DAVIS240C", (240, 180)), ("DVXplorer", (640, 480))],
)
def test_resolution_comes_from_the_source_name(tmp_path, camera, size):
    ev = synthetic_events(1_000, 100, 100)
    f = read_aedat3(write_aedat3(tmp_path / "c.aedat", ev, camera=camera))
    assert (f.width, f.height) == size == sensor_size(camera)


def test_unknown_camera_takes_resolution_from_events_with_a_warning(tmp_path):
    ev = synthetic_events(1_000, 50, 40)
    f = read_aedat3(write_aedat3(tmp_path / "u.aedat", ev, camera="HomemadeSensor"))
    assert (f.width, f.height) == (int(ev["x"].max()) + 1, int(ev["y"].max()) + 1)
    assert any("HomemadeSensor" in w and "resolution" in w for w in f.warnings)


def test_invalid_events_are_kept_and_counted(tmp_path, events):
    valid = np.random.default_rng(3).random(len(events)) > 0.2
    f = read_aedat3(write_aedat3(tmp_path / "v.aedat", events, valid=valid))
    _assert_same(f.events, events)
    assert any(str(int((~valid).sum())) in w and "valid bit" in w for w in f.warnings)


def test_agrees_exactly_with_spikingjelly(tmp_path):
    utils = pytest.importorskip("spikingjelly.datasets.utils")
    ev = synthetic_events(30_000, 128, 128, t0=2**31 - 500_000, span_us=1_000_000, seed=7)
    valid = np.random.default_rng(8).random(len(ev)) > 0.05
    path = write_aedat3(tmp_path / "sj.aedat", ev, packet_events=1_234, valid=valid, others=True)
    ours = read_aedat3(path).events
    theirs = utils.load_aedat_v3(str(path))
    for key, name in zip("txyp", ("timestamp", "x", "y", "polarity")):
        np.testing.assert_array_equal(theirs[key], ours[name], err_msg=name)


def test_source_plays_the_file_back(tmp_path, events):
    path = write_aedat3(tmp_path / "user01_led.aedat", events, valid=np.arange(len(events)) % 100 != 0)
    src = Aedat3Source(path)
    assert (src.name, src.width, src.height, src.camera) == ("user01_led.aedat", 128, 128, "DVS128")
    assert src.duration_us == int(events["timestamp"][-1] - events["timestamp"][0])
    assert any("valid bit" in w for w in src.warnings)
    _assert_same(np.concatenate(list(src.batches())), events)


# ---- bad input -------------------------------------------------------------------------------


def _raises(path, *fragments):
    with pytest.raises(SourceError) as err:
        read_aedat3(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


def test_missing_file(tmp_path):
    _raises(tmp_path / "nope.aedat", "no such file")


def test_directory(tmp_path):
    _raises(tmp_path, "directory")


def test_empty_file(tmp_path):
    (tmp_path / "e.aedat").write_bytes(b"")
    _raises(tmp_path / "e.aedat", "empty")


def test_random_bytes(tmp_path):
    (tmp_path / "r.aedat").write_bytes(np.random.default_rng(0).bytes(4096))
    _raises(tmp_path / "r.aedat", "not an AEDAT 3.1 file")


def test_aedat2_file_is_named_as_such(tmp_path):
    path = write_aedat2(tmp_path / "two.aedat", synthetic_events(100, 240, 180))
    _raises(path, "AEDAT 2.0")


def test_header_without_end_marker(tmp_path):
    (tmp_path / "h.aedat").write_bytes(b"#!AER-DAT3.1\r\n#Source 1: DVS128\r\n" + bytes(range(256)))
    _raises(tmp_path / "h.aedat", "#!END-HEADER")


def test_compressed_format_is_refused(tmp_path):
    header = AEDAT3_HEADER.format(camera="DVS128").replace("RAW", "SerializedTS").encode()
    (tmp_path / "z.aedat").write_bytes(header)
    _raises(tmp_path / "z.aedat", "SerializedTS")


def test_polarity_packet_with_wrong_event_size(tmp_path):
    header = AEDAT3_HEADER.format(camera="DVS128").encode()
    (tmp_path / "s.aedat").write_bytes(header + aedat3_packet(POLARITY_EVENT, bytes(12 * 4), 12))
    _raises(tmp_path / "s.aedat", f"byte {len(header)}", "12-byte events")


def test_corrupt_packet_header(tmp_path):
    header = AEDAT3_HEADER.format(camera="DVS128").encode()
    (tmp_path / "c.aedat").write_bytes(header + aedat3_packet(POLARITY_EVENT, b"", 8)[:4] + b"\xff" * 24)
    _raises(tmp_path / "c.aedat", "corrupt packet header", f"byte {len(header)}")


@pytest.mark.parametrize("cut_back", [5, 8 * 50 + 3, 28 + 8 * 1000 - 10, 28 + 8 * 1000 + 10])
def test_truncated_file_keeps_events_before_the_damage(tmp_path, events, cut_back):
    path = write_aedat3(tmp_path / "t.aedat", events[:3000], packet_events=1000, others=False)
    data = path.read_bytes()[:-cut_back]
    path.write_bytes(data)
    f = read_aedat3(path)
    kept = len(f.events)
    assert 0 < kept < 3000
    _assert_same(f.events, events[:kept])
    assert f"file truncated at byte {len(data)}: kept {kept} events before the damage" in f.warnings


def test_backward_timestamp_names_the_event(tmp_path, events):
    t = events["timestamp"].copy()
    t[1234] = t[1233] - 10
    bad = make_events(t, events["x"], events["y"], events["polarity"])
    _raises(write_aedat3(tmp_path / "b.aedat", bad), "backwards at event 1234")


def test_coordinates_outside_the_sensor(tmp_path, events):
    x = events["x"].copy()
    x[77] = 200
    bad = make_events(events["timestamp"], x, events["y"], events["polarity"])
    _raises(write_aedat3(tmp_path / "o.aedat", bad), "event 77", "x=200", "128x128")


def test_polarity_payload_bits_match_the_format():
    ev = make_events([5], [100], [3], [1])
    data = np.frombuffer(polarity_payload(ev), dtype="<u4")
    assert data[0] == (100 << 17) | (3 << 2) | (1 << 1) | 1 and data[1] == 5


def test_unknown_camera_with_impossible_coordinates_is_refused(tmp_path):
    """Resolution from the events of an unknown camera is capped (2048 a side), not trusted."""
    ev = make_events(np.arange(3) + 10, np.array([5, 30_000, 7]), np.array([1, 2, 3]), np.array([1, 0, 1]))
    path = write_aedat3(tmp_path / "huge.aedat", ev, camera="MysteryCam")
    with pytest.raises(SourceError, match=r"huge\.aedat: impossible sensor size 30001x4"):
        read_aedat3(path)


# ---- the chunked reader (playback, inspect, classify --whole): same events, same checks ----------


@pytest.mark.parametrize("chunk_events", [1, 999, 1 << 20])
def test_chunked_reader_gives_the_whole_readers_events(tmp_path, events, chunk_events):
    from eventcore.aedat.aedat3 import Aedat3Reader

    valid = np.arange(len(events)) % 100 != 0
    path = write_aedat3(tmp_path / "c.aedat", events, packet_events=777, valid=valid, others=True)
    whole = read_aedat3(path)
    r = Aedat3Reader(path, chunk_events=chunk_events)
    assert (r.width, r.height, r.camera, r.event_count, r.warnings) == (128, 128, "DVS128", len(events), whole.warnings)
    parts = list(r.chunks())
    assert all(len(p) <= max(chunk_events, 777) + 776 for p in parts)
    _assert_same(np.concatenate(parts), whole.events)
    t = events["timestamp"]
    for t0, t1 in ((0, 10**9), (int(t[500]), int(t[9000])), (int(t[123]), int(t[123]) + 1), (10**9, 10**9 + 5)):
        _assert_same(r.events(t0, t1), events[(t >= t0) & (t < t1)])
    r.close()


@pytest.mark.parametrize("fault,fragments", [("backwards", ("backwards at event 1234",)),
                                             ("outside", ("event 77", "x=200", "128x128"))])
def test_chunked_reader_names_the_same_event_as_the_whole_reader(tmp_path, events, fault, fragments):
    from eventcore.aedat.aedat3 import Aedat3Reader

    t, x = events["timestamp"].copy(), events["x"].copy()
    if fault == "backwards":
        t[1234] = t[1233] - 10
    else:
        x[77] = 200
    path = write_aedat3(tmp_path / "b.aedat", make_events(t, x, events["y"], events["polarity"]), packet_events=500)
    with pytest.raises(SourceError) as err:
        Aedat3Reader(path, chunk_events=1000)
    assert all(f in str(err.value) for f in fragments), str(err.value)


@pytest.mark.parametrize("pad", [0, 1, 2, 3])
def test_packets_off_the_word_grid_are_read(tmp_path, events, pad):
    """A frame of 3x3 pixels (54 bytes) shifts every later packet by 2 bytes, and a header line's
    length moves the first: polarity packets may start at any byte."""
    from eventcore.aedat.aedat3 import Aedat3Reader

    header = AEDAT3_HEADER.format(camera="DVS128").replace("#!END", "#" + "p" * pad + "\r\n#!END")
    chunks, cut = [header.encode()], np.linspace(0, len(events), 8).astype(int)
    for i0, i1 in zip(cut[:-1], cut[1:]):
        chunks.append(aedat3_packet(POLARITY_EVENT, polarity_payload(events[i0:i1]), 8))
        chunks.append(aedat3_packet(2, bytes(range(54)), 54))
    path = tmp_path / "odd.aedat"
    path.write_bytes(b"".join(chunks))
    _assert_same(read_aedat3(path).events, events)
    r = Aedat3Reader(path, chunk_events=3000)
    assert (r.start_us, r.end_us) == (int(events["timestamp"][0]), int(events["timestamp"][-1]))
    _assert_same(np.concatenate(list(r.chunks())), events)
    t = events["timestamp"]
    _assert_same(r.events(int(t[4000]), int(t[15000])), events[(t >= t[4000]) & (t < t[15000])])
    r.close()

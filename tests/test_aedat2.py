"""AEDAT 2.0 reader: both address layouts, skipped APS/IMU/sync words, timestamp wraparound,
upright orientation, bad input, and conformance on the real DAVIS240 recordings."""

from __future__ import annotations

import numpy as np
import pytest

from eventcore.events import make_events
from app.sources.aedat2 import Aedat2Source
from eventcore.aedat.aedat2 import read_aedat2
from eventcore.errors import SourceError
from tests.writers import aedat2_header, synthetic_events, write_aedat2, write_aedat3


def _assert_same(got, want):
    for name in ("timestamp", "x", "y", "polarity"):
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def _raw_file(path, chip, words):
    """An AEDAT 2.0 file of hand-made (address, timestamp) words, bypassing the writer."""
    path.write_bytes(aedat2_header(chip) + np.asarray(words, dtype=">u4").tobytes())
    return path


def test_davis_round_trip_skips_aps_imu_and_external_words(tmp_path):
    ev = synthetic_events(20_000, 240, 180, t0=123_456)
    f = read_aedat2(write_aedat2(tmp_path / "d.aedat", ev, other_every=7))
    _assert_same(f.events, ev)
    assert (f.width, f.height, f.camera, f.layout) == (240, 180, "DAVIS240C", "davis")
    assert f.skipped_words == 20_000 // 7
    assert f.warnings == []


def test_dvs128_round_trip_skips_sync_words(tmp_path):
    ev = synthetic_events(20_000, 128, 128)
    chip = "ch.unizh.ini.jaer.chip.retina.DVS128"
    path = write_aedat2(tmp_path / "s.aedat", ev, layout="dvs128", chip=chip, other_every=5)
    f = read_aedat2(path)
    _assert_same(f.events, ev)
    assert (f.width, f.height, f.camera, f.layout, f.skipped_words) == (128, 128, "DVS128", "dvs128", 4_000)


def test_davis346_from_hardware_and_chip_lines(tmp_path):
    ev = synthetic_events(5_000, 346, 260)
    chip = "eu.seebetter.ini.chips.davis.Davis346B"
    path = write_aedat2(tmp_path / "346.aedat", ev, width=346, height=260, chip=chip, hardware="DAVIS FX3")
    f = read_aedat2(path)
    assert (f.width, f.height, f.layout) == (346, 260, "davis")
    _assert_same(f.events, ev)


@pytest.mark.parametrize("layout", ["davis", "dvs128"])
def test_layout_from_addresses_when_the_header_is_silent(tmp_path, layout):
    size = (240, 180) if layout == "davis" else (128, 128)
    ev = synthetic_events(5_000, *size)
    f = read_aedat2(write_aedat2(tmp_path / "x.aedat", ev, layout=layout, chip=None, other_every=11))
    assert f.layout == layout
    assert any("no camera named" in w for w in f.warnings)
    if layout == "davis":  # resolution from the largest raw coordinates, which these events reach
        assert (f.width, f.height) == size and any("resolution 240x180" in w for w in f.warnings)
    _assert_same(f.events, ev)


def test_orientation_is_upright_like_aedat4(tmp_path):
    # jAER raw address (0, 0) is the bottom row in its display and mirrored in x (its extractors
    # compute x = width - 1 - raw_x): upright, that is the bottom-right pixel.
    words = [1 << 11, 10, (5 << 12) | (7 << 22), 20]
    davis = read_aedat2(_raw_file(tmp_path / "d.aedat", "DAVIS240C", words))
    assert davis.events[["x", "y", "polarity"]].tolist() == [(239, 179, 1), (234, 172, 0)]
    dvs = read_aedat2(_raw_file(tmp_path / "s.aedat", "DVS128", [0, 10, (5 << 1) | (7 << 8) | 1, 20]))
    # DVS128 raw polarity bit 0 means ON (libcaer and jAER both invert it).
    assert dvs.events[["x", "y", "polarity"]].tolist() == [(127, 127, 1), (122, 120, 0)]


def test_timestamp_wraparound_is_unwrapped(tmp_path):
    ev = synthetic_events(5_000, 240, 180, t0=2**32 - 2_000, span_us=4_000)
    assert (ev["timestamp"] >= 2**32).any() and (ev["timestamp"] < 2**32).any()
    f = read_aedat2(write_aedat2(tmp_path / "w.aedat", ev, other_every=3))
    _assert_same(f.events, ev)


def test_source_plays_the_file_back(tmp_path):
    ev = synthetic_events(5_000, 240, 180)
    src = Aedat2Source(write_aedat2(tmp_path / "boxes.aedat", ev, other_every=9))
    assert (src.name, src.width, src.height, src.camera) == ("boxes.aedat", 240, 180, "DAVIS240C")
    _assert_same(np.concatenate(list(src.batches())), ev)


# ---- bad input -------------------------------------------------------------------------------


def _raises(path, *fragments):
    with pytest.raises(SourceError) as err:
        read_aedat2(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    for fragment in fragments:
        assert fragment in msg, msg


def test_missing_file(tmp_path):
    _raises(tmp_path / "nope.aedat", "no such file")


def test_directory(tmp_path):
    _raises(tmp_path, "directory")


def test_empty_file(tmp_path):
    (tmp_path / "e.aedat").write_bytes(b"")
    _raises(tmp_path / "e.aedat", "empty")


def test_random_bytes(tmp_path):
    (tmp_path / "r.aedat").write_bytes(np.random.default_rng(0).bytes(4096))
    _raises(tmp_path / "r.aedat", "not an AEDAT 2.0 file")


def test_aedat3_file_is_named_as_such(tmp_path):
    _raises(write_aedat3(tmp_path / "three.aedat", synthetic_events(100, 128, 128)), "AEDAT 3.1")


def test_truncated_file_keeps_whole_records(tmp_path):
    ev = synthetic_events(1_000, 240, 180)
    path = write_aedat2(tmp_path / "t.aedat", ev)
    data = path.read_bytes()[:-13]
    path.write_bytes(data)
    f = read_aedat2(path)
    assert len(f.events) == 998
    _assert_same(f.events, ev[:998])
    assert f.warnings == [f"file truncated at byte {len(data)}: kept 998 events before the damage"]


def test_backward_timestamp_names_the_event(tmp_path):
    ev = synthetic_events(1_000, 240, 180, t0=1_000)
    t = ev["timestamp"].copy()
    t[321] = t[320] - 1
    bad = make_events(t, ev["x"], ev["y"], ev["polarity"])
    _raises(write_aedat2(tmp_path / "b.aedat", bad), "backwards at event 321")


def test_coordinates_outside_the_sensor(tmp_path):
    path = _raw_file(tmp_path / "o.aedat", "DAVIS240C", [0, 1, (3 << 12) | (200 << 22), 2])  # raw y 200
    _raises(path, "event 1", "y=200", "240x180")


# ---- the real DAVIS240 recordings ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, n_events, seconds, skipped",
    [
        ("davis240_translboxes_aedat2.aedat", 162_771, 2.07, None),
        ("davis240_rotdisk_aedat2.aedat", 374_296, 3.17, 51_688),
    ],
)
def test_real_recordings(shared_data, name, n_events, seconds, skipped):
    f = read_aedat2(shared_data / "real" / name)
    ev = f.events
    assert (f.width, f.height, f.camera, f.layout) == (240, 180, "DAVIS240C", "davis")
    assert len(ev) == n_events
    assert (ev["timestamp"][-1] - ev["timestamp"][0]) / 1e6 == pytest.approx(seconds, abs=0.005)
    if skipped is not None:
        assert f.skipped_words == skipped
    assert np.all(np.diff(ev["timestamp"]) >= 0)
    assert ev["x"].min() == 0 and ev["x"].max() == 239 and ev["y"].min() == 0 and ev["y"].max() == 179
    assert 0.3 < ev["polarity"].mean() < 0.7
    assert f.warnings == []


def test_memory_follows_the_events_not_8x_the_file(tmp_path):
    """Peak memory while reading: output (16 B an event) plus a bounded working set, measured in a child."""
    import subprocess
    import sys
    from pathlib import Path

    ev = synthetic_events(3_000_000, 240, 180)
    path = write_aedat2(tmp_path / "big.aedat", ev, other_every=9)
    size = path.stat().st_size
    code = (
        "import resource, sys; from eventcore.aedat.aedat2 import read_aedat2; "
        "r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; f = read_aedat2(sys.argv[1]); "
        "print(len(f.events), (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - r0) * 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    n, grew = map(int, out.stdout.split())
    assert n == len(ev)
    # output is 16/8 = 2x the records; the file's mapped pages (1x) and chunk temporaries come on top
    assert grew < 3.6 * size, f"reading a {size >> 20} MiB file grew memory by {grew >> 20} MiB"


def test_fifo_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "pipe.aedat"
    os.mkfifo(fifo)
    with pytest.raises(SourceError, match="not a regular file"):
        read_aedat2(fifo)


# ---- the chunked reader (playback, inspect, classify --whole) ----------------------------------


@pytest.mark.parametrize("chunk", [997, 1 << 20])
def test_chunked_reader_gives_the_whole_readers_events_across_a_wrap(tmp_path, monkeypatch, chunk):
    """Chunks decoded alone (from the state kept when the file opened) equal the one-shot read, wraps included."""
    from eventcore.aedat import aedat2

    ev = synthetic_events(20_000, 240, 180, t0=2**32 - 40_000, span_us=100_000)  # the 32-bit counter wraps
    path = write_aedat2(tmp_path / "w.aedat", ev, other_every=7)
    whole = read_aedat2(path)
    monkeypatch.setattr(aedat2, "_CHUNK", chunk)
    r = aedat2.Aedat2Reader(path)
    assert (r.width, r.height, r.event_count, r.skipped_words) == (240, 180, len(ev), whole.skipped_words)
    parts = list(r.chunks())
    assert (len(parts) > 20) == (chunk < len(ev))  # about 23 chunks of 997 records, else one
    _assert_same(np.concatenate(parts), whole.events)
    _assert_same(r.read_all(), whole.events)
    t = whole.events["timestamp"]
    for t0, t1 in ((0, 2**40), (int(t[500]), int(t[19_000])), (int(t[4000]), int(t[4000]) + 1)):
        _assert_same(r.events(t0, t1), whole.events[(t >= t0) & (t < t1)])

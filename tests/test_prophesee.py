"""Prophesee recordings written by faery (EVT 2.0, EVT 3.0, DAT) and h5py (HDF5) read back through
the app's ``open_file`` exactly; the numpy codecs equal the libraries (evt3, faery) and decode in
pieces of any size and blocks of any size exactly as whole; damaged files give one SourceError line
naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

faery = pytest.importorskip("faery")

from app.cli import main  # noqa: E402
from eventcore.aedat import prophesee  # noqa: E402
from eventcore.aedat.evt import DatCodec, Evt2Codec, Evt3Codec  # noqa: E402
from eventcore.aedat.prophesee import PropheseeReader  # noqa: E402
from app.sources.open import detect_format, open_file  # noqa: E402
from eventcore.errors import SourceError  # noqa: E402
from eventcore.events import EVENT_DTYPE  # noqa: E402
from eventcore.geometry import Geometry  # noqa: E402

SENSORS = [(1280, 720), (640, 480), (320, 320)]
WRITERS = [("evt2", ".raw", "evt2.0"), ("evt3", ".raw", "evt3.0"), ("dat2", ".dat", "dat")]


def random_events(n: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=faery.EVENTS_DTYPE)
    ev["t"] = np.cumsum(rng.integers(0, 40, n)) + 5_000_000
    ev["x"] = rng.integers(0, width, n)
    ev["y"] = rng.integers(0, height, n)
    ev["on"] = rng.random(n) < 0.4
    return ev


def write(path, ev, size, version):
    faery.events_stream_from_array(ev, size).to_file(path, version=version)
    return path


def assert_events_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == EVENT_DTYPE and len(got) == len(want)
    assert np.array_equal(got["timestamp"], want["t"].astype(np.int64))
    assert np.array_equal(got["x"], want["x"]) and np.array_equal(got["y"], want["y"])
    assert np.array_equal(got["polarity"], want["on"].astype(np.int8))


@pytest.mark.parametrize("size", SENSORS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("version,suffix,fmt", WRITERS, ids=[w[0] for w in WRITERS])
def test_written_files_read_back_exactly(tmp_path, version, suffix, fmt, size):
    ev = random_events(30_000, *size)
    path = write(tmp_path / f"rec{suffix}", ev, size, version)
    assert detect_format(path) == fmt
    with open_file(path) as src:
        assert (src.format, src.width, src.height) == (fmt, *size)
        assert_events_equal(src.read_all(), ev)
        assert not src.warnings
        # the existing crop and scale: a centred square of a multiple of the model size
        geo = Geometry(src.width, src.height, 64)
        x0, y0, side = geo.crop_box
        assert side == (min(size) // 64) * 64 and (x0, y0) == ((size[0] - side) // 2, (size[1] - side) // 2)
        mapped = geo.apply(src.read_all())
        assert 0 < len(mapped) <= len(ev) and mapped["x"].max() < 64 and mapped["y"].max() < 64


def test_codecs_agree_with_the_libraries(tmp_path):
    """The numpy codecs give what evt3 (EVT 3.0, the header's t0 added) and faery (all three) decode."""
    import evt3

    ev = random_events(20_000, 640, 480, seed=3)
    for version, suffix, fmt in WRITERS:
        path = write(tmp_path / f"rec_{version}{suffix}", ev, (640, 480), version)
        got = prophesee.read_prophesee(path).events
        assert_events_equal(got, ev)
        lib = np.concatenate(list(faery.events_stream_from_file(path)))
        assert_events_equal(got, lib)
        if fmt == "evt3.0":
            ref = evt3.decode_file(str(path))
            t0 = int(prophesee._header_value(prophesee.read_header(path)[0], "t0"))
            assert np.array_equal(got["timestamp"], ref.timestamp.astype(np.int64) + t0)
            assert np.array_equal(got["x"], ref.x) and np.array_equal(got["polarity"], ref.polarity)


def _evt3_words(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random EVT 3.0 words of every type (time wraps, vectors, words before the first TIME_HIGH)."""
    types = rng.choice([0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8, 0xA, 0x7, 0xF, 0x1, 0x9], n,
                       p=[.15, .2, .08, .15, .1, .12, .08, .03, .03, .02, .02, .02])
    return ((types.astype(np.uint16) << 12) | rng.integers(0, 4096, n).astype(np.uint16)).astype("<u2")


def test_evt3_codec_equals_the_reference_decoder_on_any_words():
    """Any EVT 3.0 word sequence, the time-high wrap included: the events of evt3 (OpenEB's semantics)."""
    import evt3

    rng = np.random.default_rng(0)
    for n in [1, 2, 17, 500, 3000, 20_000]:
        words = _evt3_words(rng, n)
        ref = evt3.decode_bytes(words.tobytes(), 1280, 720)
        got = Evt3Codec().decode(words)
        assert len(got) == len(ref)
        assert np.array_equal(got["timestamp"], ref.timestamp.astype(np.int64))
        assert np.array_equal(got["x"], ref.x) and np.array_equal(got["y"], ref.y)
        assert np.array_equal(got["polarity"], ref.polarity)
    wrap = np.array([w for high in [*range(4090, 4096), *range(0, 6)]
                     for w in (0x8000 | high, 0x6005, 0x0003, 0x2004)], "<u2")
    t = Evt3Codec().decode(wrap)["timestamp"]
    assert np.array_equal(t, evt3.decode_bytes(wrap.tobytes(), 1280, 720).timestamp.astype(np.int64))
    assert np.all(np.diff(t) > 0) and t[-1] > 1 << 24


def _evt2_words(rng: np.random.Generator, n: int) -> np.ndarray:
    types = rng.choice([0x0, 0x1, 0x8, 0xA, 0xE, 0xF], n, p=[.35, .35, .15, .05, .05, .05]).astype(np.uint32)
    body = rng.integers(0, 1 << 28, n, dtype=np.uint32)
    high = np.flatnonzero(types == 0x8)
    body[high] = np.cumsum(rng.integers(0, 3, len(high))).astype(np.uint32)  # mostly forward, some equal
    body[high[::40]] = rng.integers(0, 4, len(high[::40]))  # and wraps
    return ((types << 28) | body).astype("<u4")


def _dat_records(rng: np.random.Generator, n: int) -> np.ndarray:
    t = (np.cumsum(rng.integers(0, 1 << 24, n)) + rng.integers(-50, 50, n)) % (1 << 32)  # wraps, small steps back
    return (t.astype(np.uint64) | rng.integers(0, 1 << 32, n, dtype=np.uint64) << np.uint64(32)).astype("<u8")


CODECS = [("evt3.0", Evt3Codec, _evt3_words), ("evt2.0", Evt2Codec, _evt2_words), ("dat", DatCodec, _dat_records)]


@pytest.mark.parametrize("fmt,codec,make", CODECS, ids=[c[0] for c in CODECS])
def test_decoding_in_pieces_of_any_size_equals_one_decode(fmt, codec, make):
    """Bytes cut anywhere, words split included, decode to exactly the events of the whole: the state
    (time high and low, y, vector x and polarity, wraps, running time) carries across every cut."""
    rng = np.random.default_rng(5)
    data = make(rng, 8_000).tobytes()
    whole = codec().decode(np.frombuffer(data, codec.word_dtype))
    assert len(whole) > 500
    for sizes in ([1], [2], [3], [5, 7, 11], [4097], [8191, 1], [len(data) // 3], list(range(1, 200))):
        c = codec()
        parts, i, k = [], 0, 0
        while i < len(data):
            step = sizes[k % len(sizes)]
            parts.append(c.feed(data[i:i + step]))
            i, k = i + step, k + 1
        assert np.array_equal(np.concatenate(parts), whole), sizes
    cuts = np.sort(rng.integers(0, len(data), 100))  # random cuts, through words too
    c = codec()
    got = np.concatenate([c.feed(piece) for piece in np.split(np.frombuffer(data, np.uint8), cuts)])
    assert np.array_equal(got, whole)


def test_evt2_and_dat_codecs_equal_faery_on_any_words(tmp_path):
    """Random EVT 2.0 words (time-high wraps, triggers) and DAT records (wraps, small steps back), in files
    faery decodes: the same events, the time kept from going backwards as faery keeps it."""
    rng = np.random.default_rng(2)
    words = _evt2_words(rng, 20_000)
    path = tmp_path / "any.raw"
    path.write_bytes(b"% evt 2.0\n% format EVT2;width=2048;height=2048\n% end\n" + words.tobytes())
    lib = np.concatenate(list(faery.events_stream_from_file(path)))
    got = Evt2Codec().decode(words)
    assert_events_equal(got, lib)
    records = _dat_records(rng, 20_000) & np.uint64(0x00FF_FFFF_FFFF_FFFF)  # polarity 0 or 1 only
    records[::2] |= np.uint64(1) << np.uint64(60)
    records &= ~np.uint64((0x3FFF << 32) - (0x3FF << 32))  # x below 1024
    records &= ~np.uint64((0x3FFF << 46) - (0x3FF << 46))  # y below 1024
    path = tmp_path / "any.dat"
    path.write_bytes(b"% Data file containing CD events.\n% Version 2\n% Width 1024\n% Height 1024\n"
                     + bytes([0x0C, 8]) + records.tobytes())
    lib = np.concatenate(list(faery.events_stream_from_file(path)))
    got = DatCodec().decode(records)
    assert_events_equal(got, lib)


@pytest.mark.parametrize("version,suffix,fmt", WRITERS, ids=[w[0] for w in WRITERS])
def test_reader_in_blocks_of_any_size_equals_the_whole(tmp_path, version, suffix, fmt):
    """PropheseeReader's chunks, range reads and read_all are the whole file's events, whatever the block size."""
    ev = random_events(8_000, 640, 480, seed=4)
    path = write(tmp_path / f"rec{suffix}", ev, (640, 480), version)
    rng = np.random.default_rng(1)
    for block in (6, 1000, 4099, 1 << 18):
        r = PropheseeReader(path, block_bytes=block)
        assert (r.format, r.width, r.height, r.event_count) == (fmt, 640, 480, len(ev))
        chunks = [np.ascontiguousarray(c).view(np.uint8) for c in r.chunks()]
        assert_events_equal(np.concatenate(chunks).view(EVENT_DTYPE), ev)
        assert_events_equal(r.read_all(), ev)
        for t0, t1 in np.sort(rng.integers(r.start_us - 10, r.end_us + 10, (20, 2)), axis=1):
            want = ev[(ev["t"] >= t0) & (ev["t"] < t1)]
            assert_events_equal(r.events(int(t0), int(t1)), want)
        r.close()


def test_time_going_backwards_is_served_sorted(tmp_path):
    """An EVT 3.0 file whose time goes back: events, chunks and range reads in stable time order, a warning."""
    words = []
    for high in [5, 6, 7, 3, 4, 8, 9, 2, 10]:
        words += [0x8000 | high, 0x0010]
        for low in range(0, 4000, 50):
            words += [0x6000 | low, 0x2000 | (low % 600), 0x3800 | 7, 0x4000 | 0x0F3]
    header = b"% evt 3.0\n% format EVT3;width=640;height=480\n% end\n"
    path = tmp_path / "back.raw"
    path.write_bytes(header + np.array(words, "<u2").tobytes())
    whole = Evt3Codec(640, 480).decode(np.array(words, "<u2"))
    want = whole[np.argsort(whole["timestamp"], kind="stable")]
    for block in (16, 200, 1 << 18):
        r = PropheseeReader(path, block_bytes=block)
        assert any("sorted by time" in w for w in r.warnings)
        assert np.array_equal(r.read_all(), want)
        assert np.array_equal(np.concatenate(list(r.chunks())), want)
        t = want["timestamp"]
        for t0, t1 in [(0, 1 << 30), (3 << 12, 5 << 12), (6 << 12 | 100, 9 << 12 | 3)]:
            assert np.array_equal(r.events(t0, t1), want[(t >= t0) & (t < t1)])


def test_header_without_size_and_foreign_dat_events(tmp_path):
    """No size in the header: the smallest known sensor holding the events, said in a warning; events
    outside the header's size dropped and counted; a DAT of trigger events, or of another event size,
    is refused in one line."""
    ev = random_events(3_000, 300, 200)
    data = write(tmp_path / "rec.raw", ev, (640, 480), "evt3").read_bytes()
    _, offset = prophesee.read_header(tmp_path / "rec.raw")
    path = tmp_path / "nosize.raw"
    path.write_bytes(b"% evt 3.0\n% end\n" + data[offset:])
    with open_file(path) as src:
        assert (src.width, src.height) == (320, 320) and len(src.read_all()) == len(ev)
        assert any("no sensor size" in w for w in src.warnings)
    small = tmp_path / "small.raw"
    t0 = prophesee._header_value(prophesee.read_header(tmp_path / "rec.raw")[0], "t0")
    small.write_bytes(f"% evt 3.0\n% format EVT3;width=160;height=120\n% t0 {t0}\n% end\n".encode() + data[offset:])
    inside = (ev["x"] < 160) & (ev["y"] < 120)
    with open_file(small) as src:
        assert_events_equal(src.read_all(), ev[inside])
        assert f"{int((~inside).sum())} events outside the 160x120 sensor dropped" in src.warnings
    for kind, message in ((bytes([0x0E, 8]), "0x0e"), (bytes([0x0C, 16]), "16 bytes")):
        bad = tmp_path / "bad.dat"
        bad.write_bytes(b"% Data file containing CD events.\n% Version 2\n% Width 640\n% Height 480\n"
                        + kind + bytes(80))
        assert message in one_line_error(bad)


def write_metavision_hdf5(path, ev, geometry: str | None = None, **dataset_options) -> None:
    """``ev`` as Metavision's ``CD/events`` table (x, y, p, t), with a ``geometry`` attribute if given."""
    import h5py

    table = np.zeros(len(ev), dtype=[("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")])
    table["x"], table["y"], table["p"], table["t"] = ev["x"], ev["y"], ev["on"], ev["t"]
    with h5py.File(path, "w") as f:
        if geometry:
            f.attrs["geometry"] = geometry
        f.create_dataset("CD/events", data=table, **dataset_options)


def test_hdf5_in_metavision_layout_reads_back(tmp_path):
    h5py = pytest.importorskip("h5py")
    ev = random_events(10_000, 1280, 720, seed=1)
    path = tmp_path / "rec.hdf5"
    write_metavision_hdf5(path, ev, "1280x720", compression="gzip")
    with open_file(path) as src:
        assert (src.format, src.width, src.height) == ("hdf5", 1280, 720)
        assert_events_equal(src.read_all(), ev)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("data", data=np.arange(10))
    with pytest.raises(SourceError, match=r"other\.h5: no Prophesee 'CD/events' table"):
        open_file(tmp_path / "other.h5")


def test_hdf5_read_in_blocks_of_rows(tmp_path):
    """HDF5 through range reads of any block size: the whole table; no geometry: the smallest sensor
    holding the events; rows outside the geometry dropped, said in a warning."""
    h5py = pytest.importorskip("h5py")
    ev = random_events(5_000, 640, 480, seed=6)
    path = tmp_path / "rec.hdf5"
    write_metavision_hdf5(path, ev, chunks=(512,))
    rng = np.random.default_rng(2)
    for rows in (333, 4096, 1 << 18):
        r = prophesee.Hdf5Reader(path, block_rows=rows)
        assert (r.width, r.height, r.event_count) == (640, 480, len(ev))
        assert any("no geometry" in w for w in r.warnings)
        assert_events_equal(r.read_all(), ev)
        for t0, t1 in np.sort(rng.integers(r.start_us, r.end_us, (10, 2)), axis=1):
            assert_events_equal(r.events(int(t0), int(t1)), ev[(ev["t"] >= t0) & (ev["t"] < t1)])
        r.close()
    with h5py.File(path, "a") as f:
        f.attrs["geometry"] = "320x320"
    r = prophesee.Hdf5Reader(path, block_rows=1000)
    inside = (ev["x"] < 320) & (ev["y"] < 320)
    assert_events_equal(r.read_all(), ev[inside])
    assert any(f"{int((~inside).sum())} events outside the 320x320" in w for w in r.warnings)


def test_playback_and_inspect_read_blocks_never_the_whole_file(tmp_path, monkeypatch):
    """open_file plays a Prophesee file through range reads and inspect counts it chunk by chunk."""
    ev = random_events(60_000, 640, 480, seed=8)
    path = write(tmp_path / "rec.raw", ev, (640, 480), "evt3")

    def whole(*args, **kwargs):
        raise AssertionError("the whole file was read")

    monkeypatch.setattr(PropheseeReader, "read_all", whole)
    with open_file(path) as src:
        assert len(list(src.chunks())) > 1  # a file of several blocks
        got = [np.ascontiguousarray(b).view(np.uint8) for b in src.batches()]
        assert_events_equal(np.concatenate(got).view(EVENT_DTYPE), ev)
        src.seek(int(ev["t"][30_000]))
        first = next(src.batches())
        assert first["timestamp"][0] == ev["t"][30_000]
    assert main(["inspect", str(path)]) == 0


def test_cli_inspect_reads_prophesee(tmp_path, capsys):
    ev = random_events(5_000, 640, 480)
    path = write(tmp_path / "rec.raw", ev, (640, 480), "evt3")
    assert main(["inspect", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["format"], info["events"], info["width"], info["height"]) == ("evt3.0", 5_000, 640, 480)


def one_line_error(path) -> str:
    with pytest.raises(SourceError) as err:
        open_file(path).close()
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_damaged_files_give_one_clear_error(tmp_path):
    ev = random_events(2_000, 640, 480)
    good = write(tmp_path / "good.raw", ev, (640, 480), "evt3").read_bytes()
    header_end = good.index(b"\n% t0")  # faery writes no "% end": the data follows the last '%' line
    header_end = good.index(b"\n", header_end + 1) + 1

    cases = {
        "random.raw": np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        "header_only.raw": good[:header_end],
        "cut_in_header.raw": good[:20],
        "evt21.raw": b"% evt 2.1\n% format EVT21;width=640;height=480\n% end\n" + bytes(64),
        "evt9.raw": b"% evt 9.0\n% end\n" + bytes(64),
        "bad_hdf5.hdf5": prophesee.HDF5_MAGIC + bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8)),
    }
    expect = {"random.raw": "not an AEDAT recording", "header_only.raw": "no events", "cut_in_header.raw": "",
              "evt21.raw": "EVT 2.1 is not supported", "evt9.raw": "evt9.0 is not supported",
              "bad_hdf5.hdf5": "HDF5"}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert expect[name] in one_line_error(path), name


def test_truncated_stream_keeps_the_events_before_the_cut(tmp_path):
    ev = random_events(20_000, 640, 480)
    data = write(tmp_path / "full.raw", ev, (640, 480), "evt2").read_bytes()
    cut = tmp_path / "cut.raw"
    _, offset = prophesee.read_header(tmp_path / "full.raw")
    cut.write_bytes(data[: offset + 4 * ((len(data) - offset) // 8) + 3])  # half the 32-bit words, and 3 bytes
    with open_file(cut) as src:
        got = src.read_all()
        assert 0 < len(got) < len(ev)
        assert_events_equal(got, ev[: len(got)])
        assert any("truncated" in w for w in src.warnings)


def test_mutated_files_never_escape_as_other_errors(tmp_path):
    """Flipped bytes in body and header: the file opens or raises SourceError; the process survives."""
    rng = np.random.default_rng(7)
    for version, suffix, _ in WRITERS:
        good = bytearray(write(tmp_path / f"base{suffix}", random_events(3_000, 320, 320), (320, 320), version).read_bytes())
        for i in range(12):
            data = bytearray(good)
            for pos in rng.integers(0, 80 if i % 2 else len(data), rng.integers(1, 30)):
                data[pos] = rng.integers(0, 256)
            path = tmp_path / f"m{version}_{i}{suffix}"
            path.write_bytes(bytes(data))
            try:
                with open_file(path) as src:
                    assert src.read_all().dtype == EVENT_DTYPE
            except SourceError as err:
                assert "\n" not in str(err) and str(path) in str(err)

"""Prophesee recordings written by faery (EVT 2.0, EVT 3.0, DAT) and h5py (HDF5) read back through
the app's ``open_file`` exactly; damaged ones give one SourceError line naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

faery = pytest.importorskip("faery")

from app.cli import main  # noqa: E402
from eventcore.aedat import prophesee  # noqa: E402
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


def test_evt3_decoders_agree(tmp_path, monkeypatch):
    """evt3 (the faster, used when installed) and faery give the same events, the header's t0 included."""
    ev = random_events(20_000, 640, 480, seed=3)
    path = write(tmp_path / "rec.raw", ev, (640, 480), "evt3")
    assert_events_equal(prophesee.read_prophesee(path).events, ev)
    monkeypatch.setattr(prophesee, "_has", lambda module: False)
    assert_events_equal(prophesee.read_prophesee(path).events, ev)


def test_hdf5_in_metavision_layout_reads_back(tmp_path):
    h5py = pytest.importorskip("h5py")
    ev = random_events(10_000, 1280, 720, seed=1)
    table = np.zeros(len(ev), dtype=[("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")])
    table["x"], table["y"], table["p"], table["t"] = ev["x"], ev["y"], ev["on"], ev["t"]
    path = tmp_path / "rec.hdf5"
    with h5py.File(path, "w") as f:
        f.attrs["geometry"] = "1280x720"
        f.create_dataset("CD/events", data=table, compression="gzip")
    with open_file(path) as src:
        assert (src.format, src.width, src.height) == ("hdf5", 1280, 720)
        assert_events_equal(src.read_all(), ev)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("data", data=np.arange(10))
    with pytest.raises(SourceError, match=r"other\.h5: no Prophesee 'CD/events' table"):
        open_file(tmp_path / "other.h5")


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

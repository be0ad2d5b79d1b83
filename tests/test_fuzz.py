"""Fuzzing the file readers: property-based tests (hypothesis) and a seeded mutation corpus.

The corpus is generated at test time from small generated recordings (never stored) by
``benchmarks.fuzz`` and read in worker processes under a memory limit, so even a native
crash would be one finding here rather than the end of the test run. The readers are pure
Python/numpy (plus the LZ4 and zstd libraries), so the hypothesis tests run in process; the
Prophesee word codecs are fed any bytes cut anywhere, and the reader any file body.
The long-running mode (hours) is ``python -m benchmarks.fuzz --hours N``.
"""

from __future__ import annotations

import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sources.aedat4 import Aedat4Source
from eventcore.aedat.aedat4 import MAGIC
from app.sources.open import open_file
from app.sources.recorder import write_aedat4
from benchmarks.fuzz import make_corpus, run_corpus, summarise
from eventcore.aedat.aedat2 import read_aedat2
from eventcore.aedat.aedat3 import read_aedat3
from eventcore.aedat.evt import codec_for
from eventcore.errors import SourceError
from eventcore.events import make_events
from tests.writers import AEDAT3_HEADER as _AEDAT3_HEADER
from tests.writers import aedat2_header

AEDAT3_HEADER = _AEDAT3_HEADER.encode() if isinstance(_AEDAT3_HEADER, str) else _AEDAT3_HEADER

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(path: Path):
    """Open and read ``path``: the events keep the source's promises, or one clear SourceError."""
    try:
        src = open_file(path, labels=False)
        ev = src.read_all()
    except SourceError as err:
        assert str(err) and "\n" not in str(err)
        return None
    t = ev["timestamp"]
    assert len(ev) < 2 or np.all(t[1:] >= t[:-1])
    if len(ev):
        assert ev["x"].min() >= 0 and ev["x"].max() < src.width
        assert ev["y"].min() >= 0 and ev["y"].max() < src.height
    assert 0 < src.width <= 2048 and 0 < src.height <= 2048
    return ev


def _file(data: bytes, suffix: str):
    d = tempfile.mkdtemp()
    path = Path(d) / f"fuzz{suffix}"
    path.write_bytes(data)
    return path


@FUZZ
@given(body=st.binary(max_size=4096), chip=st.sampled_from([None, "eu.seebetter.ini.chips.davis.DAVIS240C",
                                                              "ch.unizh.ini.jaer.chip.retina.DVS128", "Unknown"]))
def test_aedat2_any_records(body, chip):
    _check(_file(aedat2_header(chip) + body, ".aedat"))


@FUZZ
@given(packets=st.lists(st.tuples(st.integers(-2, 12), st.integers(-8, 40), st.integers(-4, 300),
                                  st.binary(max_size=800)), max_size=6))
def test_aedat3_any_packets(packets):
    data = bytearray(AEDAT3_HEADER)
    for etype, esize, capacity, payload in packets:
        data += struct.pack("<Hhiiiiii", etype & 0xFFFF, 1, esize, 4, 0, capacity, capacity, capacity) + payload
    _check(_file(bytes(data), ".aedat"))


@FUZZ
@given(header=st.binary(max_size=600), body=st.binary(max_size=2000))
def test_aedat4_any_header_and_body(header, body):
    _check(_file(MAGIC + struct.pack("<I", len(header)) + header + body, ".aedat4"))


@FUZZ
@given(
    packets=st.lists(st.tuples(st.integers(-3, 3), st.integers(-(2**31), 2**31 - 1), st.binary(max_size=400)),
                     max_size=5),
)
def test_aedat4_any_packets_after_a_valid_header(packets):
    path = _file(b"", ".aedat4")
    write_aedat4(path, make_events([1, 2], [0, 1], [0, 1], [0, 1]), 16, 16, compression="none")
    data = bytearray(path.read_bytes())
    for sid, size, payload in packets:
        data += struct.pack("<ii", sid, size) + payload
    _check(_file(bytes(data), ".aedat4"))


@FUZZ
@given(
    n=st.integers(0, 3000),
    seed=st.integers(0, 2**32 - 1),
    compression=st.sampled_from(["lz4", "zstd", "none"]),
    width=st.integers(1, 2048),
    height=st.integers(1, 2048),
)
def test_aedat4_write_then_read_is_exact(n, seed, compression, width, height):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 2**40, n))
    ev = make_events(t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n))
    path = _file(b"", ".aedat4")
    write_aedat4(path, ev, width, height, compression=compression)
    src = Aedat4Source(path)
    if n == 0:
        assert len(src.read_all()) == 0 and any("holds no events" in w for w in src.warnings)
        return
    assert (src.width, src.height) == (width, height)
    got = src.read_all()
    for name in ("timestamp", "x", "y", "polarity"):
        np.testing.assert_array_equal(got[name], ev[name])


@FUZZ
@given(events=st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 300), st.integers(0, 300),
                                 st.integers(0, 1)), max_size=200))
def test_aedat3_records_with_any_values(events):
    from tests.writers import polarity_payload

    ev = make_events(*(np.array(c, dtype=np.int64) for c in zip(*events))) if events else make_events([], [], [], [])
    data = AEDAT3_HEADER + struct.pack("<Hhiiiiii", 1, 1, 8, 4, 0, len(ev), len(ev), len(ev)) + polarity_payload(ev)
    got = _check(_file(data, ".aedat"))
    if got is not None and len(ev):
        assert len(got) == len(ev)


PROPHESEE_HEADERS = {
    "evt3.0": b"% evt 3.0\n% format EVT3;width=640;height=480\n% end\n",
    "evt2.0": b"% evt 2.0\n% format EVT2;width=640;height=480\n% end\n",
    "dat": b"% Data file containing CD events.\n% Version 2\n% Width 640\n% Height 480\n\x0c\x08",
}


@FUZZ
@given(fmt=st.sampled_from(sorted(PROPHESEE_HEADERS)), body=st.binary(max_size=3000),
       cuts=st.lists(st.integers(0, 3000), max_size=12))
def test_prophesee_codecs_any_bytes_cut_anywhere(fmt, body, cuts):
    """Any bytes, fed in pieces cut anywhere (through words too): exactly the events of one decode."""
    whole_codec = codec_for(fmt, 640, 480)
    size = whole_codec.word_dtype.itemsize
    whole = whole_codec.decode(np.frombuffer(body, whole_codec.word_dtype, len(body) // size))
    codec = codec_for(fmt, 640, 480)
    pieces = np.split(np.frombuffer(body, np.uint8), sorted(c for c in cuts if c <= len(body)))
    got = [codec.feed(p.tobytes()) for p in pieces]
    assert np.array_equal(np.concatenate(got) if got else whole[:0], whole)
    assert whole_codec.state == codec.state


@FUZZ
@given(fmt=st.sampled_from(sorted(PROPHESEE_HEADERS)), body=st.binary(max_size=3000))
def test_prophesee_any_body(fmt, body):
    _check(_file(PROPHESEE_HEADERS[fmt] + body, ".dat" if fmt == "dat" else ".raw"))


def test_readers_directly_reject_other_formats_cleanly(tmp_path):
    for reader, data in ((read_aedat2, AEDAT3_HEADER), (read_aedat3, aedat2_header(None))):
        path = tmp_path / "x.aedat"
        path.write_bytes(data)
        with pytest.raises(SourceError):
            reader(path)


def test_seeded_mutation_corpus(tmp_path):
    """600 mutated files (AEDAT 2.0, 3.1, 4 with LZ4/zstd/none): each gives a result or one clear error."""
    t0 = time.monotonic()
    paths = make_corpus(tmp_path, 600, seed=20261130)
    results = run_corpus(paths, memory_mb=1536, max_seconds=5.0, timeout_s=120)
    findings = [f"{r.path.name}: {r.detail}" for r in results if r.status == "finding"]
    assert not findings, "\n".join(findings[:20])
    assert len(results) == len(paths)
    summary = summarise(results)
    for suffix in (".aedat", ".aedat4"):
        statuses = {r.status for r in results if r.path.suffix == suffix}
        assert statuses == {"ok", "error"}, f"{suffix}: the corpus did not reach both outcomes ({statuses})"
    assert summary["max_seconds"] < 2.0
    assert time.monotonic() - t0 < 60


# -- the DV network stream: the incremental decoder fed mutated streams in random reads ------------------


def _dv_stream(n_packets: int, compression: str, seed: int) -> tuple[bytes, list[np.ndarray]]:
    """A DV network stream (the IOHeader without the file's version line, then packets) and its packets."""
    from eventcore.aedat.aedat4 import compress_packet, file_header

    rng = np.random.default_rng(seed)
    packets = []
    for k in range(n_packets):
        n = int(rng.integers(1, 200))
        t = 1000 * k + np.sort(rng.integers(0, 1000, n))
        packets.append(make_events(t, rng.integers(0, 64, n), rng.integers(0, 48, n), rng.integers(0, 2, n)))
    data = file_header("fuzz", 64, 48, compression)[len(MAGIC):]
    return data + b"".join(compress_packet(0, p, compression) for p in packets), packets


def _feed(data: bytes, reads: list[int]) -> tuple[list[np.ndarray], str | None]:
    """Feed ``data`` in reads of the given sizes (then the rest); (batches, error line or None)."""
    from eventcore.aedat.aedat4 import StreamDecoder

    dec, got, pos = StreamDecoder("DV stream fuzz:1"), [], 0
    try:
        for size in [*reads, len(data)]:
            for batch in dec.feed(data[pos:pos + size]):  # one by one: list() would drop them on the error
                got.append(batch)
            pos += size
    except SourceError as err:
        assert str(err).startswith("DV stream fuzz:1: ") and "\n" not in str(err)
        return got, str(err)
    return got, None


@FUZZ
@given(seed=st.integers(0, 2**31), compression=st.sampled_from(["none", "lz4", "zstd"]),
       flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=4),
       garbage=st.binary(max_size=64), reads=st.lists(st.integers(1, 3000), max_size=8))
def test_stream_decoder_on_mutated_streams(seed, compression, flips, garbage, reads):
    """Whatever the bytes and however they are split into reads: the same batches and the same one-line
    error, every batch inside the sensor and in time order, and with only garbage appended, every packet."""
    data, packets = _dv_stream(6, compression, seed)
    mutated = bytearray(data)
    for where, value in flips:
        mutated[int(where * len(mutated))] = value
    mutated = bytes(mutated) + garbage
    got, err = _feed(mutated, reads)
    whole, whole_err = _feed(mutated, [])
    assert err == whole_err and len(got) == len(whole)
    for a, b in zip(got, whole):
        np.testing.assert_array_equal(a, b)
    for b in got:
        t = b["timestamp"]
        assert np.all(t[1:] >= t[:-1]) and b["x"].max() < 64 and b["y"].max() < 48
    if bytes(mutated[:len(data)]) == data:
        assert len(got) == len(packets)
        for a, b in zip(got, packets):
            np.testing.assert_array_equal(a, b)

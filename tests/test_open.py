"""Opening sources from one string: format by magic, clear errors, network specs."""

from __future__ import annotations

import os

import pytest

from eventcore.errors import SourceError
from app.sources.open import detect_format, open_source, parse_network


@pytest.mark.parametrize(
    "content, fmt",
    [(b"#!AER-DAT4.0\r\n", "aedat4"), (b"#!AER-DAT3.1\r\n", "aedat3.1"), (b"#!AER-DAT2.0\r\n", "aedat2")],
)
def test_format_from_magic_not_extension(tmp_path, content, fmt):
    p = tmp_path / "recording.bin"
    p.write_bytes(content + b"rest")
    assert detect_format(p) == fmt


def test_bad_inputs_name_the_file_and_the_fault(tmp_path):
    cases = {
        tmp_path / "missing.aedat4": "no such file",
        tmp_path: "directory",
    }
    empty = tmp_path / "empty.aedat"
    empty.write_bytes(b"")
    cases[empty] = "empty file"
    noise = tmp_path / "noise.aedat4"
    noise.write_bytes(os.urandom(4096).replace(b"#", b"x"))
    cases[noise] = "not an AEDAT recording"
    v1 = tmp_path / "old.aedat"
    v1.write_bytes(b"#!AER-DAT1.0\r\n")
    cases[v1] = "version 1.0 is not supported"
    for path, message in cases.items():
        with pytest.raises(SourceError, match=message) as err:
            open_source(str(path))
        assert str(path) in str(err.value)


def test_network_specs():
    assert parse_network("127.0.0.1:7777") == ("127.0.0.1", 7777)
    assert parse_network("tcp://localhost:4040") == ("localhost", 4040)
    assert parse_network("recording.aedat4") is None
    with pytest.raises(SourceError, match="port"):
        parse_network("host:70000")


def test_dvs_gesture_recording_replays_with_its_ground_truth(tmp_path):
    from tests.writers import synthetic_events, write_aedat3

    path = write_aedat3(tmp_path / "user01_fluorescent.aedat", synthetic_events(5000, 128, 128, span_us=3_000_000))
    (tmp_path / "user01_fluorescent_labels.csv").write_text("class,startTime_usec,endTime_usec\n8,1000000,2000000\n")
    src = open_source(str(path))
    assert src.format == "aedat3.1" and (src.width, src.height) == (128, 128)
    assert src.labels.truth_at(1_500_000) == 7 and src.labels.truth_at(2_500_000) is None


def test_inspect_refuses_a_fifo_at_once(tmp_path, capsys):
    """``inspect`` on a FIFO used to block forever: now one line, exit 2, without opening it."""
    import os
    import time

    from app.cli import main

    fifo = tmp_path / "stream.aedat4"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    assert main(["inspect", str(fifo)]) == 2
    assert time.monotonic() - t0 < 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a regular file" in err[0] and "stream.aedat4" in err[0]

"""NetworkSource (the project's own stream decoder) against a real dv.io.NetworkWriter on 127.0.0.1.

The writer runs in a child process: it can then be killed mid-stream (the "writer goes
away" case) and the test process never destroys a NetworkWriter itself, which deadlocks
while a reader is connected. Every wait has a timeout, and the child is always killed.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from eventcore.events import make_events
from eventcore.errors import SourceError, StreamEnded
from app.sources.network import NetworkSource

ROOT = Path(__file__).resolve().parents[1]
W, H, CAMERA = 240, 180, "DAVIS240_00000042"

_WRITER = f"""
import sys, time
import dv_processing as dv
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_network import batch
from app.sources.dv import to_event_store
port, count = int(sys.argv[1]), int(sys.argv[2])
stream = dv.io.Stream.EventStream(0, "events", {CAMERA!r}, ({W}, {H}))
writer = dv.io.NetworkWriter("127.0.0.1", port, stream)
print("listening", flush=True)
sys.stdin.readline()
k = 0
while count < 0 or k < count:
    writer.writeEvents(to_event_store(batch(k)))
    k += 1
    time.sleep(0.005)
time.sleep(600)
"""


def batch(k: int, n: int = 1000) -> np.ndarray:
    """The k-th batch the writer sends (the test regenerates it to compare)."""
    rng = np.random.default_rng(k)
    t = 1_000_000 + k * 5_000 + np.arange(n) * 5
    return make_events(t, rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def writer():
    """Start a writer child on a free port; returns start(count) -> (port, go, proc)."""
    procs = []

    def start(count: int):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(port), str(count)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        procs.append(proc)
        timer = threading.Timer(20, proc.kill)
        timer.start()
        line = proc.stdout.readline()
        timer.cancel()
        assert line.strip() == "listening", "the writer process did not start"

        def go():
            proc.stdin.write("go\n")
            proc.stdin.flush()

        return port, go, proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def consume(src: NetworkSource, until_events: int | None, timeout_s: float = 10.0, on_first=None):
    """Collect batches on a thread; close the source once enough arrived or on timeout."""
    got, total = [], [0]
    finished = threading.Event()

    def run():
        for b in src.batches():
            got.append(b)
            total[0] += len(b)
            if on_first is not None and len(got) == 1:
                on_first()
            if until_events is not None and total[0] >= until_events:
                break
        finished.set()

    threading.Thread(target=run, daemon=True).start()
    ok = finished.wait(timeout_s)
    src.close()
    assert ok, f"no end of stream within {timeout_s} s ({total[0]} events received)"
    return got


def test_streams_the_writers_events(writer):
    port, go, _ = writer(count=20)
    src = NetworkSource("127.0.0.1", port)
    assert (src.width, src.height, src.camera, src.is_live) == (W, H, CAMERA, True)
    go()
    got = consume(src, until_events=20 * 1000)
    np.testing.assert_array_equal(np.concatenate(got), np.concatenate([batch(k) for k in range(20)]))


def test_writer_killed_mid_stream_ends_the_stream(writer):
    port, go, proc = writer(count=-1)
    src = NetworkSource("127.0.0.1", port)
    go()
    killed = []
    got = consume(src, until_events=None, timeout_s=60,  # killed once events flow, however loaded the machine
                  on_first=lambda: threading.Timer(0.3, lambda: (killed.append(time.perf_counter()), proc.kill())).start())
    assert killed and time.perf_counter() - killed[0] < 5
    received = np.concatenate(got)
    assert len(received) > 0
    np.testing.assert_array_equal(received, np.concatenate([batch(k) for k in range(len(received) // 1000)]))
    assert isinstance(src.end_reason, StreamEnded)
    assert f"127.0.0.1:{port}" in str(src.end_reason)


def test_close_stops_a_quiet_stream(writer):
    port, go, _ = writer(count=0)
    src = NetworkSource("127.0.0.1", port)
    go()
    threading.Timer(0.2, src.close).start()
    assert consume(src, until_events=None, timeout_s=5) == []
    assert src.end_reason is None


def test_connection_refused_names_the_address():
    port = free_port()
    with pytest.raises(SourceError, match=rf"127\.0\.0\.1:{port}: connection refused"):
        NetworkSource("127.0.0.1", port)


def test_silent_server_times_out_instead_of_hanging():
    # dv's NetworkReader would block forever, holding the GIL, on a server that never speaks.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        start = time.perf_counter()
        with pytest.raises(SourceError, match=rf"127\.0\.0\.1:{port}: no answer within 0\.3 s"):
            NetworkSource("127.0.0.1", port, timeout_s=0.3)
        assert time.perf_counter() - start < 3


def test_non_dv_server_is_rejected():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def answer():
            conn, _ = server.accept()
            conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
            time.sleep(0.5)
            conn.close()

        threading.Thread(target=answer, daemon=True).start()
        with pytest.raises(SourceError, match="does not speak the DV"):
            NetworkSource("127.0.0.1", port)


def test_classify_runs_on_the_live_stream_until_the_writer_goes_away(writer, tmp_path, capsys):
    """``main.py classify HOST:PORT``: a JSON line per window while the stream lives, then a clean end."""
    import json

    from app.cli import main
    from tests.fixtures import tiny_config, write_checkpoint

    ckpt = write_checkpoint(tmp_path / "tiny.pt", tiny_config("tiny", (1, 2)), 0, "untrained (test)")
    port, go, proc = writer(-1)
    result = {}
    th = threading.Thread(target=lambda: result.setdefault("code", main(
        ["classify", f"127.0.0.1:{port}", "--model", str(ckpt), "--device", "cpu"])), daemon=True)
    th.start()
    go()
    out, err = "", ""
    deadline = time.monotonic() + 30  # on a loaded machine, windows are skipped: wait for three lines
    while out.count("\n") < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        o, e = capsys.readouterr()
        out, err = out + o, err + e
    proc.kill()
    th.join(60)
    assert not th.is_alive(), "classify did not end when the stream ended"
    o, e = capsys.readouterr()
    out, err = out + o, err + e
    lines = [json.loads(x) for x in out.splitlines()]
    assert result["code"] == 0 and len(lines) >= 3, (lines, err)
    assert all(len(x["rates"]) == 11 and "truth" not in x for x in lines)
    assert "stream ended" in err


# -- hostile peers: raw TCP servers on 127.0.0.1 -----------------------------------------------


@pytest.fixture(scope="module")
def dv_header():
    """The stream header a real dv.io.NetworkWriter sends (captured once from a writer child)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(port), "0"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "listening"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            data = b""
            while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "little"):
                chunk = s.recv(65536)
                assert chunk, "the writer closed before sending its header"
                data += chunk
        return data[: 4 + int.from_bytes(data[:4], "little")]
    finally:
        proc.kill()
        proc.wait()


def packet(events: np.ndarray) -> bytes:
    """One DV network packet of events (stream 0, uncompressed EVTS flatbuffer)."""
    import struct

    from eventcore.aedat.aedat4 import event_packet_bytes

    body = bytes(event_packet_bytes(events))
    return struct.pack("<ii", 0, len(body)) + body


@pytest.fixture
def raw_server():
    """serve(send) -> port: a TCP server on 127.0.0.1 whose connections run send(conn)."""
    servers = []

    def serve(send):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        servers.append(srv)

        def accept():
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return

                def run(c=conn):
                    try:
                        send(c)
                    except OSError:
                        pass
                threading.Thread(target=run, daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return srv.getsockname()[1]

    yield serve
    for srv in servers:
        srv.close()


def drain(src, timeout_s: float):
    """All events until the stream ends; (events, error) with close() forced after timeout_s."""
    timer = threading.Timer(timeout_s, src.close)
    timer.start()
    got, error = [], None
    try:
        for b in src.batches():
            got.append(b)
    except SourceError as err:
        error = err
    finally:
        timer.cancel()
        src.close()
    return (np.concatenate(got) if got else np.empty(0)), error


def _junk() -> bytes:
    return b"\0\0\0\0\xe8\x03\0\0" + np.random.default_rng(1).integers(0, 256, 1000, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("pause_s", [0.3, 0.0])
def test_garbage_after_valid_events_keeps_them_and_is_one_clear_error(dv_header, raw_server, pause_s):
    """dv-processing aborts on garbage (losing queued packets); every whole packet before it is kept."""
    def send(c):
        c.sendall(dv_header)
        for k in range(5):
            c.sendall(packet(batch(k)))
        time.sleep(pause_s)
        c.sendall(_junk() * 20)
        time.sleep(10)

    port = raw_server(send)
    t0 = time.monotonic()
    got, error = drain(NetworkSource("127.0.0.1", port), timeout_s=15)
    assert time.monotonic() - t0 < 10
    expected = np.concatenate([batch(k) for k in range(5)])
    np.testing.assert_array_equal(got, expected)
    assert error is not None and f"127.0.0.1:{port}" in str(error) and "not a valid event packet" in str(error)
    assert "\n" not in str(error)


def test_valid_packets_and_garbage_in_one_write_keep_every_packet(dv_header, raw_server):
    """The header, 20 packets and the garbage arrive in one write: the 20 packets are all handed on."""
    port = raw_server(lambda c: (c.sendall(dv_header + b"".join(packet(batch(k)) for k in range(20)) + _junk()),
                                 time.sleep(10)))
    got, error = drain(NetworkSource("127.0.0.1", port), timeout_s=15)
    np.testing.assert_array_equal(got, np.concatenate([batch(k) for k in range(20)]))
    assert error is not None and "the packet at byte" in str(error)


def test_decoder_matches_a_real_writer_at_every_read_boundary(writer):
    """The bytes of a real dv NetworkWriter, split at every size from 1 byte up, decode to what it wrote."""
    from eventcore.aedat.aedat4 import StreamDecoder

    port, go, _ = writer(count=3)
    packet_bytes = 8 + len(bytes(packet(batch(0)))) - 8  # each of the writer's packets: 1,000 events
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        time.sleep(0.2)
        go()
        data = b""
        while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "little") + 3 * packet_bytes:
            chunk = s.recv(1 << 16)  # no timing: read until the header and the three packets are here
            assert chunk, "the writer closed early"
            data += chunk
    sent = np.concatenate([batch(k) for k in range(3)])
    for step in (1, 7, 4096, len(data)):
        dec = StreamDecoder("test")
        got = [ev for i in range(0, len(data), step) for ev in dec.feed(data[i:i + step])]
        assert (dec.width, dec.height, dec.camera) == (W, H, CAMERA)
        np.testing.assert_array_equal(np.concatenate(got), sent)


def test_stalled_peer_never_freezes_close(dv_header, raw_server):
    def send(c):
        c.sendall(dv_header)
        c.sendall(packet(batch(0)))
        time.sleep(30)

    port = raw_server(send)
    src = NetworkSource("127.0.0.1", port)
    t0 = time.monotonic()
    got, error = drain(src, timeout_s=1.0)
    assert 0.9 < time.monotonic() - t0 < 3.0, "close() did not end a stalled stream promptly"
    assert len(got) == 1000 and error is None


def test_peer_declaring_a_huge_packet_is_refused_before_any_allocation(dv_header, raw_server):
    import resource

    def send(c):
        c.sendall(dv_header + packet(batch(0)) + b"\0\0\0\0\xff\xff\xff\x7f" + b"\0" * 100_000)  # a 2 GiB packet
        time.sleep(20)

    port = raw_server(send)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    got, error = drain(NetworkSource("127.0.0.1", port), timeout_s=10)
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grew_mb < 50, f"this process grew by {grew_mb:.0f} MB"
    assert error is not None and f"127.0.0.1:{port}" in str(error) and "declares 2147483647 bytes" in str(error)
    assert len(got) == 1000


def _record(port: int, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "main.py", "record", f"127.0.0.1:{port}", str(out), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("pause_s", [1.0, 0.0])
def test_record_from_a_peer_that_turns_to_garbage_keeps_every_event(dv_header, raw_server, tmp_path, pause_s):
    from app.sources.aedat4 import Aedat4Source

    def send(c):
        c.sendall(dv_header)
        for k in range(20):
            c.sendall(packet(batch(k)))
        time.sleep(pause_s)
        c.sendall(b"\0\0\0\0\x10\0\0\0" + b"\xde\xad\xbe\xef" * 4)
        time.sleep(10)

    out = tmp_path / "kept.aedat4"
    proc = _record(raw_server(send), out)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "not a valid event packet" in lines[0] and "kept 20000 events" in lines[0], err
    np.testing.assert_array_equal(Aedat4Source(out).read_all(), np.concatenate([batch(k) for k in range(20)]))


def test_record_seconds_ends_on_a_stalled_peer(dv_header, raw_server, tmp_path):
    def send(c):
        c.sendall(dv_header)
        c.sendall(packet(batch(0)))
        time.sleep(60)

    out = tmp_path / "stalled.aedat4"
    t0 = time.monotonic()
    proc = _record(raw_server(send), out, "--seconds", "1")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert time.monotonic() - t0 < 15
    from app.sources.aedat4 import Aedat4Source

    assert len(Aedat4Source(out).read_all()) == 1000


def test_sigterm_stops_a_recording_like_ctrl_c(dv_header, raw_server, tmp_path):
    from app.sources.aedat4 import Aedat4Source

    sent = []

    def send(c):
        c.sendall(dv_header)
        k = 0
        while True:
            c.sendall(packet(batch(k)))
            sent.append(k)
            k += 1
            time.sleep(0.01)

    out = tmp_path / "term.aedat4"
    proc = _record(raw_server(send), out)
    deadline = time.monotonic() + 30
    while len(sent) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "interrupted" in err
    got = Aedat4Source(out).read_all()
    n = len(got) // 1000
    assert n >= 90 and len(got) % 1000 == 0, f"{len(got)} events recorded of {len(sent)} batches sent"
    np.testing.assert_array_equal(got, np.concatenate([batch(k) for k in range(n)]))


def test_sigterm_while_connecting_says_nothing_was_recorded(raw_server, tmp_path):
    """SIGTERM while the stream has not started (a silent peer) ends with one line, and no file."""
    connected = threading.Event()
    port = raw_server(lambda c: (connected.set(), time.sleep(30)))
    out = tmp_path / "never.aedat4"
    proc = _record(port, out)
    assert connected.wait(30), "record never connected"
    time.sleep(0.2)  # connected: waiting for the stream header (3 s allowed), SIGTERM handled
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.strip() == "interrupted before recording started: no file written", err
    assert not out.exists()

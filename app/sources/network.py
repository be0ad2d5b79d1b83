"""The DV network event stream (a DV ``NetworkWriter`` / DV software TCP output).

dv-processing's ``NetworkReader`` cannot be trusted with a hostile or broken peer: garbage
aborts the process (``std::length_error``), a declared packet size is allocated as is, and
its constructor blocks holding the GIL on a silent server. So the reader runs in a child
process (:mod:`app.sources.network_child`) under an address-space limit
(``memory_limit_bytes``, default 1 GiB), and hands over raw event records through a pipe.
This process only ever waits on that pipe with a timeout, so ``close()`` (from any thread,
e.g. a ``--seconds`` timer), Ctrl-C and SIGTERM always work; whatever ends the child (the
writer going away, an abort, the memory limit), every event it had passed on is delivered
first, then the stream ends with a :class:`StreamEnded` (normal end) or a
:class:`SourceError` naming ``host:port`` and what went wrong.

The address is first probed with a plain socket (refused, timeout, or not a DV stream are
all clear errors without starting the child).

Example::

    with NetworkSource("127.0.0.1", 7777) as net:
        for batch in net.batches(): ...
        print(net.end_reason)       # set when the writer went away
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from app.sources.aedat4_container import check_sensor_size
from app.sources.base import Source
from eventcore.errors import SourceError, StreamEnded
from eventcore.events import EVENT_DTYPE

_HEADER_ID = b"IOHE"  # identifier of the header a DV server sends first (after size and root offset)
_CHILD = Path(__file__).with_name("network_child.py")
_MAX_MESSAGE = 16 << 20
DEFAULT_MEMORY_LIMIT = 1 << 30


def _probe(host: str, port: int, timeout_s: float) -> None:
    """Check that ``host:port`` accepts a connection and starts with a DV stream header."""
    where = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            deadline = time.monotonic() + timeout_s
            while len(head := sock.recv(12, socket.MSG_PEEK)) < 12:
                if not head:
                    raise SourceError(f"DV stream {where}: the server closed the connection at once")
                if time.monotonic() > deadline:
                    raise socket.timeout
                time.sleep(0.01)
    except ConnectionRefusedError:
        raise SourceError(f"DV stream {where}: connection refused (is the DV output running?)") from None
    except socket.timeout:
        raise SourceError(f"DV stream {where}: no answer within {timeout_s:g} s") from None
    except OSError as exc:
        raise SourceError(f"DV stream {where}: cannot connect ({exc.strerror or exc})") from None
    if head[8:12] != _HEADER_ID:
        raise SourceError(f"DV stream {where}: the server does not speak the DV (AEDAT4) stream protocol")


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class NetworkSource(Source):
    """Events from a DV TCP stream server at ``host:port``, read in a child process.

    When the server goes away the stream ends: :meth:`batches` returns and ``end_reason``
    holds a :class:`StreamEnded` saying why. When the stream breaks (garbage, a peer
    declaring more than the memory limit, a crash of the reader), :meth:`batches` first
    yields every event received, then raises a :class:`SourceError`.
    """

    is_live = True
    poll_s = 0.05

    def __init__(self, host: str, port: int, timeout_s: float = 3.0,
                 memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT) -> None:
        super().__init__()
        self.host, self.port = host, int(port)
        self.name = f"{host}:{self.port}"
        self.end_reason: StreamEnded | None = None
        self.memory_limit_bytes = int(memory_limit_bytes)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._buf = bytearray()
        self._proc: subprocess.Popen | None = None
        _probe(host, self.port, timeout_s)
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self._proc = subprocess.Popen(
            [sys.executable, str(_CHILD), host, str(self.port), str(os.getpid()), str(self.memory_limit_bytes)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
            start_new_session=True,  # Ctrl-C at the terminal reaches this process only
        )
        self._child = self._proc
        self._reading = False
        self._fd = self._proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        try:
            kind, body = self._message(deadline=time.monotonic() + timeout_s + 10)
            if kind != b"H":
                raise self._failure(kind, body, "before describing its stream")
            desc = json.loads(body)
            if desc["width"] < 0:
                raise SourceError(f"DV stream {self.name}: the event stream does not state its resolution")
            self.width, self.height = check_sensor_size(desc["width"], desc["height"], f"DV stream {self.name}")
            self.camera = desc.get("camera") or None
        except BaseException:
            self.close()
            raise

    # -- the pipe ---------------------------------------------------------------------

    def _fill(self, need: int, deadline: float | None) -> bool:
        """Read until ``need`` bytes are buffered; False at end of pipe. Raises on timeout."""
        while len(self._buf) < need:
            if self._stop.is_set():
                raise _Closed
            if deadline is not None and time.monotonic() > deadline:
                raise SourceError(f"DV stream {self.name}: no stream description within the time allowed")
            ready, _, _ = select.select([self._fd], [], [], self.poll_s)
            if not ready:
                continue
            try:
                chunk = os.read(self._fd, max(need - len(self._buf), 1 << 20))
            except BlockingIOError:
                continue
            if not chunk:
                if self._stop.is_set():
                    raise _Closed
                return False
            self._buf += chunk
        return True

    def _message(self, deadline: float | None = None) -> tuple[bytes, bytes]:
        """The next message from the child; (b'', b'') when the pipe ended."""
        if not self._fill(5, deadline):
            return b"", b""
        kind = bytes(self._buf[:1])
        (n,) = struct.unpack_from("<I", self._buf, 1)
        if kind not in (b"H", b"E", b"X", b"F") or n > _MAX_MESSAGE:
            raise SourceError(f"DV stream {self.name}: internal: the reader process sent a malformed message")
        if not self._fill(5 + n, deadline):
            return b"", b""
        body = bytes(self._buf[5 : 5 + n])
        del self._buf[: 5 + n]
        return kind, body

    def _failure(self, kind: bytes, body: bytes, when: str = "") -> SourceError:
        """The one-line error for a child that failed (F message) or died."""
        if kind == b"F":
            return SourceError(f"DV stream {self.name}: {body.decode('utf-8', 'replace')}")
        if kind == b"X":
            return StreamEnded(f"DV stream {self.name}: {body.decode('utf-8', 'replace')}")
        proc = self._child
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        self._stderr.seek(0)
        err = self._stderr.read()[-4000:].decode("utf-8", "replace")
        what = next((ln.strip() for ln in err.splitlines() if "what()" in ln or "terminate called" in ln), "")
        if "what()" in err:
            what = err.split("what():", 1)[1].strip().splitlines()[0]
        what = "".join(ch if ch.isprintable() and ord(ch) < 0x7F else "?" for ch in what)[:160]
        if code < 0:
            why = f"the stream reader crashed ({_signal_name(code)}{': ' + what if what else ''})"
            if code == -signal.SIGABRT or "bad_alloc" in err:
                why += (
                    "; the server sent data that is not a valid DV stream, or declared a packet larger "
                    f"than the {self.memory_limit_bytes >> 20} MiB memory limit"
                )
        else:
            why = f"the stream reader stopped (exit status {code}{': ' + what if what else ''})"
        return SourceError(f"DV stream {self.name}: {why}{' ' + when if when else ''}")

    # -- Source -----------------------------------------------------------------------

    def batches(self) -> Iterator[np.ndarray]:
        if self._proc is None:
            return
        self._stop.clear()
        self._reading = True
        try:
            while self._proc is not None:
                kind, body = self._message()
                if kind == b"E":
                    if len(body) % EVENT_DTYPE.itemsize:
                        raise SourceError(f"DV stream {self.name}: internal: a partial event record from the reader")
                    yield np.frombuffer(body, EVENT_DTYPE).copy()
                    continue
                if self._stop.is_set():
                    return
                err = self._failure(kind, body)
                if isinstance(err, StreamEnded):
                    self.end_reason = err
                    self.close()
                    return
                self.close()
                raise err
        except _Closed:
            return
        finally:
            self._reading = False
            if self._proc is None:
                self._release()

    def _release(self) -> None:
        for f in (self._child.stdout, self._stderr):
            if not f.closed:
                f.close()

    def close(self) -> None:
        """Stop streaming and end the reader process (from any thread)."""
        self._stop.set()
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if not self._reading:
            self._release()  # else batches() releases the pipe when it notices the stop


class _Closed(Exception):
    """close() was called while waiting on the pipe."""

"""The DV network event stream (a DV ``NetworkWriter`` / DV software TCP output).

The stream is decoded here by the project's own AEDAT4 packet codec
(:class:`eventcore.aedat.aedat4.StreamDecoder`), not dv-processing's ``NetworkReader``,
which aborts the process on garbage (with decoded packets still queued), allocates what a
peer declares and blocks holding the GIL on a silent server. Every whole packet that
arrived before a fault is handed on; the fault then ends the stream with one
:class:`SourceError` naming ``host:port``. The socket is only ever waited on with a
timeout, so ``close()`` (from any thread, e.g. a ``--seconds`` timer), Ctrl-C and SIGTERM
always work.

Example::

    with NetworkSource("127.0.0.1", 7777) as net:
        for batch in net.batches(): ...
        print(net.end_reason)       # set when the writer went away
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np

from app.sources.base import Source
from eventcore.aedat.aedat4 import StreamDecoder
from eventcore.errors import SourceError, StreamEnded

_READ = 1 << 20


class NetworkSource(Source):
    """Events from a DV TCP stream server at ``host:port``.

    When the server goes away the stream ends: :meth:`batches` returns and ``end_reason``
    holds a :class:`StreamEnded` saying why. When the stream breaks (garbage, a packet larger
    than the caps), :meth:`batches` first yields every whole packet received, then raises a
    :class:`SourceError`.
    """

    is_live = True
    poll_s = 0.05

    def __init__(self, host: str, port: int, timeout_s: float = 3.0) -> None:
        super().__init__()
        self.host, self.port = host, int(port)
        self.name = f"{host}:{self.port}"
        self.end_reason: StreamEnded | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._decoder = StreamDecoder(f"DV stream {self.name}")
        self._sock = self._connect(timeout_s)
        try:
            self._read_header(timeout_s)
        except BaseException:
            self.close()
            raise
        d = self._decoder
        self.width, self.height, self.camera = d.width, d.height, d.camera

    def _connect(self, timeout_s: float) -> socket.socket:
        where = f"DV stream {self.name}"
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout_s)
        except ConnectionRefusedError:
            raise SourceError(f"{where}: connection refused (is the DV output running?)") from None
        except socket.timeout:
            raise SourceError(f"{where}: no answer within {timeout_s:g} s") from None
        except OSError as exc:
            raise SourceError(f"{where}: cannot connect ({exc.strerror or exc})") from None
        sock.setblocking(False)
        return sock

    def _recv(self) -> bytes | None:
        """Bytes that arrived within ``poll_s`` (b'' at the end of the stream, None when none did)."""
        ready, _, _ = select.select([self._sock], [], [], self.poll_s)
        if not ready:
            return None
        try:
            return self._sock.recv(_READ)
        except BlockingIOError:
            return None
        except OSError as exc:
            if self._stop.is_set():
                raise _Closed from None
            raise StreamEnded(f"DV stream {self.name}: the connection broke ({exc.strerror or exc})") from None

    def _read_header(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self._decoder.header is None:
            if self._stop.is_set():
                raise SourceError(f"DV stream {self.name}: closed before the stream started")
            if time.monotonic() > deadline:
                raise SourceError(f"DV stream {self.name}: no answer within {timeout_s:g} s")
            data = self._recv()
            if data == b"":
                raise SourceError(f"DV stream {self.name}: the server closed the connection "
                                  f"before describing its stream")
            if data:
                self._decoder.push(data)

    def batches(self) -> Iterator[np.ndarray]:
        self._stop.clear()
        try:
            yield from self._decoder.feed(b"")  # packets that arrived with the header
            while not self._stop.is_set():
                with self._lock:
                    if self._sock is None:
                        return
                    data = self._recv()
                if data is None:
                    continue
                if data == b"":
                    raise StreamEnded(f"DV stream {self.name}: the server closed the connection")
                yield from self._decoder.feed(data)
        except StreamEnded as ended:
            self.end_reason = ended
        except _Closed:
            pass
        except SourceError:
            self.close()
            raise
        finally:
            if self._stop.is_set() or self.end_reason is not None:
                self.close()

    def close(self) -> None:
        """Stop streaming and close the connection (from any thread)."""
        self._stop.set()
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


class _Closed(Exception):
    """close() was called while waiting on the socket."""

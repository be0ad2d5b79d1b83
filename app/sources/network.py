"""The DV network event stream (a DV ``NetworkWriter`` / DV software TCP output).

``dv.io.NetworkReader``'s constructor blocks while holding the GIL until the server sends
its stream header, which would freeze the whole app on a silent server; so the address is
first probed with a plain socket (refused, timeout, or not a DV stream are all clear
errors). ``getNextEventBatch`` does not block: it returns None when nothing is new.

Example::

    with NetworkSource("127.0.0.1", 7777) as net:
        for batch in net.batches(): ...
        print(net.end_reason)       # set when the writer went away
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import dv_processing as dv
import numpy as np

from app.events import as_events
from app.sources.dv import dv_error_message
from app.sources.base import Source
from app.sources.errors import SourceError, StreamEnded

IDLE_SLEEP_S = 0.001
_HEADER_ID = b"IOHE"  # identifier of the header a DV server sends first (after size and root offset)


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


class NetworkSource(Source):
    """Events from a DV TCP stream server at ``host:port``.

    When the server goes away the stream ends: :meth:`batches` returns and ``end_reason``
    holds a :class:`StreamEnded` saying why.
    """

    is_live = True

    def __init__(self, host: str, port: int, timeout_s: float = 3.0) -> None:
        super().__init__()
        self.host, self.port = host, int(port)
        self.name = f"{host}:{self.port}"
        _probe(host, self.port, timeout_s)
        try:
            self._reader: dv.io.NetworkReader | None = dv.io.NetworkReader(host, self.port)
        except RuntimeError as exc:
            raise SourceError(f"DV stream {self.name}: cannot connect ({dv_error_message(exc)})") from None
        resolution = self._reader.getEventResolution() if self._reader.isEventStreamAvailable() else None
        if resolution is None:
            kind = self._reader.getStreamDefinition().getTypeDescription() or "another data type"
            self._reader = None
            raise SourceError(f"DV stream {self.name}: sends {kind}, not events")
        self.width, self.height = int(resolution[0]), int(resolution[1])
        self.camera = self._reader.getCameraName() or None
        self.end_reason: StreamEnded | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def _next(self):
        """The next EventStore or None; raises StreamEnded when the connection is gone."""
        with self._lock:
            if self._reader is None:
                return None
            try:
                store = self._reader.getNextEventBatch()
                if store is None and not self._reader.isRunning():
                    raise StreamEnded(f"DV stream {self.name}: the server closed the connection")
                return store
            except RuntimeError as exc:
                raise StreamEnded(f"DV stream {self.name}: {dv_error_message(exc)}") from None

    def batches(self) -> Iterator[np.ndarray]:
        self._stop.clear()
        while not self._stop.is_set():
            try:
                store = self._next()
            except StreamEnded as ended:
                self.end_reason = ended
                self.close()
                return
            if self._reader is None:
                return
            if store is None or len(store) == 0:
                time.sleep(IDLE_SLEEP_S)
                continue
            yield as_events(store.numpy())

    def close(self) -> None:
        """Stop streaming and disconnect (always close readers before their writer)."""
        self._stop.set()
        with self._lock:
            self._reader = None

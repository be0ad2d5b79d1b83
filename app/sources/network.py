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
import time

import dv_processing as dv

from app.sources.dv import PolledSource, dv_error_message
from eventcore.errors import SourceError, StreamEnded

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


class NetworkSource(PolledSource):
    """Events from a DV TCP stream server at ``host:port``.

    When the server goes away the stream ends: :meth:`batches` returns and ``end_reason``
    holds a :class:`StreamEnded` saying why.
    """

    def __init__(self, host: str, port: int, timeout_s: float = 3.0) -> None:
        super().__init__()
        self.host, self.port = host, int(port)
        self.name = f"{host}:{self.port}"
        _probe(host, self.port, timeout_s)
        try:
            reader = dv.io.NetworkReader(host, self.port)
        except RuntimeError as exc:
            raise SourceError(f"DV stream {self.name}: cannot connect ({dv_error_message(exc)})") from None
        resolution = reader.getEventResolution() if reader.isEventStreamAvailable() else None
        if resolution is None:
            kind = reader.getStreamDefinition().getTypeDescription() or "another data type"
            del reader
            raise SourceError(f"DV stream {self.name}: sends {kind}, not events")
        self.width, self.height = int(resolution[0]), int(resolution[1])
        self.camera = reader.getCameraName() or None
        self._device = reader

    def _poll(self, reader):
        try:
            store = reader.getNextEventBatch()
            if store is None and not reader.isRunning():
                raise StreamEnded(f"DV stream {self.name}: the server closed the connection")
            return store
        except RuntimeError as exc:
            raise StreamEnded(f"DV stream {self.name}: {dv_error_message(exc)}") from None

"""The child process that reads a DV network stream with dv-processing (run by NetworkSource).

dv-processing's ``NetworkReader`` aborts the whole process (``std::length_error``) on a peer
that sends garbage, allocates whatever a peer declares, and blocks holding the GIL while it
waits for a header. So it runs here, alone, under an address-space limit, and hands the
events to its parent over stdout as messages: one byte of kind, a uint32 length, then the
body. Kinds: ``H`` the stream's JSON description, ``E`` raw ``EVENT_DTYPE`` records, ``X``
the stream ended normally (text), ``F`` a failure dv-processing reported (text). Whatever
kills this process (abort, segfault, memory limit), the parent has every message written
before it, and reports the rest as one error.

Standalone on purpose: it imports only the standard library, numpy and dv-processing, so it
starts quickly and needs no import path. Usage (by the parent)::

    python network_child.py HOST PORT PARENT_PID MEMORY_LIMIT_BYTES
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import struct
import sys
import time

MAX_MESSAGE = 16 << 20  # event messages are split to at most this many bytes


def _send(kind: bytes, body) -> None:
    data = kind + struct.pack("<I", len(body)) + bytes(body)
    view = memoryview(data)
    while view:
        n = os.write(1, view)
        view = view[n:]


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the kernel kills us when the parent dies
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(3)


def main(argv: list[str]) -> int:
    host, port, parent, limit = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import dv_processing as dv  # noqa: E402 (after the limit, so the import counts too)
    import numpy as np  # noqa: E402

    try:
        reader = dv.io.NetworkReader(host, port)
    except (RuntimeError, MemoryError) as exc:
        _send(b"F", f"cannot connect ({_first_line(exc)})".encode())
        return 0
    if not reader.isEventStreamAvailable():
        kind = reader.getStreamDefinition().getTypeDescription() or "another data type"
        _send(b"F", f"sends {kind}, not events".encode())
        return 0
    resolution = reader.getEventResolution()
    desc = {"width": int(resolution[0]) if resolution is not None else -1,
            "height": int(resolution[1]) if resolution is not None else -1,
            "camera": reader.getCameraName() or None}
    _send(b"H", json.dumps(desc).encode())
    try:
        while True:
            store = reader.getNextEventBatch()
            if store is None:
                if not reader.isRunning():
                    _send(b"X", b"the server closed the connection")
                    return 0
                time.sleep(0.001)
                continue
            if len(store) == 0:
                continue
            raw = np.ascontiguousarray(store.numpy()).view(np.uint8).reshape(-1)
            for i in range(0, len(raw), MAX_MESSAGE):
                _send(b"E", raw[i : i + MAX_MESSAGE])
    except (RuntimeError, MemoryError) as exc:
        _send(b"F", _first_line(exc).encode())
    except BrokenPipeError:
        pass  # the parent closed the stream
    return 0


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).split("Stacktrace")[0].splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith("/")] or lines or [type(exc).__name__]
    return " ".join(useful).replace(" - Error info:", ";")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

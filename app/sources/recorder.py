"""Record event batches to AEDAT4 while any source streams: fast, and never losing what was written.

The file is written with the format layer's AEDAT4 codec (:mod:`eventcore.aedat.aedat4`), not by dv-processing, whose
writer builds its ``EventStore`` event by event (about 7 M events/s), buffers 64 KiB that a
kill loses, and aborts the process on a full disk. Here:

- :meth:`Recorder.write` only queues the batch (no copy unless timestamps must be shifted);
  a background thread compresses (LZ4 frames, as DV writes them, or zstd) and appends one
  packet at least every ``FLUSH_S`` (0.25 s), so the capture thread never waits on the
  disk, and a kill (even SIGKILL) loses at most the last 0.25 s of events (plus what the
  operating system had not yet written, on a power cut).
- The header is written first and the packet index is never needed (dataTablePosition
  stays -1: readers walk the packets), so the file is valid after every packet.
- A write error (a full disk, a file size limit) truncates the file back to its last whole
  packet, closes it, and becomes one :class:`SourceError` ("disk full after N events ..."),
  raised by the next :meth:`write` or :meth:`close` and kept in ``error``.

In the GUI (``raise_errors=False``) the stream and the view go on after such an error; the
window sees ``error`` and stops the recording with the message.

Example::

    with Recorder("take1.aedat4", src.width, src.height, camera=src.camera) as rec:
        for batch in record(src.batches(), rec):
            ...                                  # the stream goes on as usual
    write_aedat4("demo.aedat4", events, 128, 128)  # one shot
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from eventcore.aedat.aedat4 import compress_packet, concat_events, file_header
from eventcore.aedat.common import MAX_SENSOR
from eventcore.errors import SourceError
from eventcore.events import EVENT_DTYPE

COMPRESSIONS = ("lz4", "lz4_high", "zstd", "zstd_high", "none")
FLUSH_S = 0.25
_PACKET_EVENTS = 1 << 17  # events per packet at most (16 B each: 2 MiB before compression)
_MAX_PENDING = 1 << 22  # beyond this many queued events, write() flushes itself (backpressure)


_POOL = None


def _pool():
    """Threads that compress packets in parallel (shared by all recorders)."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="aedat4-compress")
    return _POOL


class Recorder:
    """Writes event batches to one AEDAT4 file (event stream only).

    ``camera`` names the sensor in the file (default "gesture-app"). Timestamps that go
    backwards (the source was seeked or looped) are shifted forward so the file stays in
    time order, as the recording of what was seen.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, camera: str | None = None,
                 compression: str = "lz4", raise_errors: bool = True) -> None:
        if not (0 < int(width) <= MAX_SENSOR and 0 < int(height) <= MAX_SENSOR):
            raise ValueError(f"sensor size must be 1-{MAX_SENSOR} a side, not {width}x{height}")
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}; not {compression!r}")
        self.path = Path(path)
        if self.path.is_dir():
            raise SourceError(f"{self.path}: is a folder; give a file name ending in .aedat4")
        if self.path.suffix != ".aedat4":
            raise SourceError(f"{self.path.name}: a recording's file name must end in .aedat4")
        if not self.path.parent.is_dir():
            raise SourceError(f"{self.path}: the folder {self.path.parent} does not exist")
        self.width, self.height = int(width), int(height)
        self.camera = camera or "gesture-app"
        self.compression = compression
        self.events_written = 0  # accepted by write()
        self.events_flushed = 0  # in whole packets on disk
        self.error: SourceError | None = None
        self.raise_errors = raise_errors  # False: a failed recording only sets ``error`` (the GUI polls it)
        self._first_us: int | None = None
        self._last_us: int | None = None
        self._offset_us = 0
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._pending_since = 0.0
        self._lock = threading.Lock()  # the queue
        self._io = threading.Lock()  # the file
        self._reported = False
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as err:
            raise SourceError(f"{self.path}: cannot create the recording ({err.strerror})") from None
        self._size = 0
        header = file_header(self.camera, self.width, self.height, compression)
        if (why := self._write_all(header)) is not None:
            os.close(self._fd)
            self._fd = None
            try:
                os.unlink(self.path)  # nothing of value in it: leave no empty file behind
            except OSError:
                pass
            raise SourceError(f"{self.path}: {why}: not even the file header fits; no file was written")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flusher, name=f"recorder {self.path.name}", daemon=True)
        self._thread.start()

    @property
    def elapsed_us(self) -> int:
        """Event time covered so far (last written timestamp minus the first)."""
        if self._first_us is None:
            return 0
        return self._last_us - self._first_us

    @property
    def closed(self) -> bool:
        return self._fd is None

    def write(self, batch: np.ndarray) -> None:
        """Queue a batch (EVENT_DTYPE, non-decreasing timestamps); raises the recording's error, if any.

        With ``raise_errors=False``, a failed recording ignores further batches instead.
        """
        self._raise_error()
        if self.error is not None:
            return
        if self._fd is None:
            raise ValueError(f"{self.path.name}: the recorder is closed")
        if batch.dtype != EVENT_DTYPE:
            raise TypeError(f"batch must be EVENT_DTYPE, not {batch.dtype}")
        if len(batch) == 0:
            return
        t = batch["timestamp"]
        if len(t) > 1 and np.any(t[1:] < t[:-1]):
            raise ValueError(f"{self.path.name}: event timestamps must be non-decreasing within a batch")
        t_first = int(t[0]) + self._offset_us
        if self._last_us is not None and t_first < self._last_us:
            self._offset_us += self._last_us - t_first
        if self._offset_us:
            batch = batch.copy()
            batch["timestamp"] += self._offset_us
        if self._first_us is None:
            self._first_us = int(batch["timestamp"][0])
        self._last_us = int(batch["timestamp"][-1])
        with self._lock:
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append(batch)
            self._pending_n += len(batch)
            full = self._pending_n >= _MAX_PENDING
        self.events_written += len(batch)
        if full:
            self.flush()
            self._raise_error()

    def flush(self) -> None:
        """Compress and append everything queued (whole packets); errors go to ``error``."""
        with self._io:
            with self._lock:
                parts, self._pending, self._pending_n = self._pending, [], 0
            if not parts or self._fd is None:
                return
            events = parts[0] if len(parts) == 1 else concat_events(parts)
            chunks = [events[i : i + _PACKET_EVENTS] for i in range(0, len(events), _PACKET_EVENTS)]
            if len(chunks) > 1:  # LZ4 and zstd release the GIL: compress on both cores
                packets = _pool().map(lambda c: compress_packet(0, c, self.compression), chunks)
            else:
                packets = (compress_packet(0, c, self.compression) for c in chunks)
            for part, packet in zip(chunks, packets):
                if not self._append(packet):
                    self._fail()
                    return
                self.events_flushed += len(part)

    def _write_all(self, data) -> str | None:
        """Write all of ``data``; on an error cut the file back to its last whole packet and say why."""
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError as err:
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass
            if err.errno == errno.ENOSPC:
                return "disk full"
            if err.errno == errno.EFBIG:
                return "file size limit reached"
            return f"cannot write ({err.strerror})"
        self._size += len(data)
        return None

    def _append(self, data) -> bool:
        """Append a packet; on an error set ``error`` (the file stays readable up to its last whole packet)."""
        why = self._write_all(data)
        if why is not None:
            self.error = SourceError(
                f"{self.path}: {why} after {self.events_flushed} events; the recording is closed and "
                f"readable up to there"
            )
        return why is None

    def _fail(self) -> None:
        """After a write error: drop the queue, close the file (the caller holds ``_io``)."""
        with self._lock:
            self._pending, self._pending_n = [], 0
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _raise_error(self) -> None:
        if self.error is not None and not self._reported and self.raise_errors:
            self._reported = True
            raise self.error

    def _flusher(self) -> None:
        while not self._stop.wait(0.05):
            with self._lock:
                due = self._pending and time.monotonic() - self._pending_since >= FLUSH_S
            if due:
                self.flush()
            if self._fd is None:
                return

    def close(self) -> None:
        """Flush and close the file; safe to call twice. Raises the recording's error if not yet raised."""
        if getattr(self, "_stop", None) is None:
            return
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()
        with self._io:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        self._raise_error()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            try:
                self.close()
            except SourceError:
                pass  # the exception in flight says what went wrong first

    def __del__(self) -> None:
        try:
            if self._fd is not None:
                self._stop.set()
                self.flush()
                os.close(self._fd)
                self._fd = None
        except Exception:
            pass


def record(batches: Iterable[np.ndarray], recorder: Recorder) -> Iterator[np.ndarray]:
    """Pass ``batches`` through unchanged, writing each to ``recorder`` on the way."""
    for batch in batches:
        recorder.write(batch)
        yield batch


def write_aedat4(
    path: str | os.PathLike, events: np.ndarray, width: int, height: int, camera: str | None = None,
    compression: str = "lz4",
) -> None:
    """Write ``events`` (EVENT_DTYPE, time-sorted) as one AEDAT4 file."""
    with Recorder(path, width, height, camera, compression) as rec:
        rec.write(events)

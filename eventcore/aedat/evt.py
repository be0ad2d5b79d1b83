"""Prophesee EVT 2.0, EVT 3.0 and DAT event words decoded a chunk at a time (EVT 2.0 and
EVT 3.0 word by word in one compiled numba pass, as the state machines they are; DAT with numpy).

Each codec turns a run of words into ``EVENT_DTYPE`` events and keeps, in ``state`` (a tuple
of ints), everything the next word depends on: a file or stream can be cut anywhere between
words, each piece decoded in turn, and the events are those of one decode of the whole. A
reader that saved ``state`` at a piece's start decodes that piece again alone (random access).
:meth:`WordCodec.feed` takes bytes cut anywhere, words included (a stream's reads).

Semantics (equal to the libraries on well-formed files; tests compare them):

- EVT 3.0 (16-bit words) as Prophesee's reference decoder (OpenEB, and the ``evt3`` package
  that reproduces it): words before the first TIME_HIGH are skipped; TIME_HIGH sets the time
  base (a wrap of its 12 bits is a jump back by nearly the whole range) and the time;
  TIME_LOW sets the time to base + low; ADDR_Y sets y; ADDR_X is one event; VECT_BASE_X sets
  the vector x and polarity; VECT_12 / VECT_8 are up to 12 / 8 events at x, x+1, ... and
  advance x by 12 / 8. Time may go backwards; the reader sorts.
- EVT 2.0 (32-bit words) as faery: TIME_HIGH holds bits 6-33 of the time (a decrease is a
  wrap of 2^34 us); CD_OFF / CD_ON hold the low 6 bits, x and y; time never goes backwards
  (a running maximum, over CD and trigger words).
- DAT (64-bit records: 32-bit time, then x, y, polarity; DAT 1 and 2 layouts) as faery: a drop
  of more than 2^31 us from the previous record is a wrap of 2^32 (faery compares with the
  running time instead: the same on any file whose time goes forward); time never goes backwards.

``t0`` (the header's ``% t0``) is added to every timestamp. Events outside ``width`` x
``height`` are dropped and counted in ``dropped``; ``max_x`` / ``max_y`` are the largest kept.

Example::

    codec = Evt3Codec(width=1280, height=720)
    a = codec.feed(data[:1001]); b = codec.feed(data[1001:])   # = one decode of data
"""

from __future__ import annotations

import numpy as np

from eventcore.events import empty_events

class WordCodec:
    """A stateful decoder of fixed-size little-endian words into events (see the module docstring)."""

    word_dtype: np.dtype = np.dtype("<u2")

    def __init__(self, width: int = 1 << 15, height: int = 1 << 15, t0: int = 0) -> None:
        self.width, self.height, self.t0 = int(width), int(height), int(t0)
        self.state: tuple[int, ...] = self.initial_state()
        self.dropped = 0
        self.max_x = self.max_y = -1
        self._rest = b""

    def initial_state(self) -> tuple[int, ...]:
        """The state before the first word."""
        return ()

    def decode(self, words: np.ndarray) -> np.ndarray:
        """The events of ``words`` (this codec's word dtype), continuing from ``state``, which moves on."""
        t, x, y, p = self._decode(np.asarray(words, self.word_dtype))
        keep = (x >= 0) & (x < self.width) & (y >= 0) & (y < self.height)
        n = int(np.count_nonzero(keep))
        out = empty_events(n)
        if n < len(keep):
            self.dropped += len(keep) - n
            t, x, y, p = t[keep], x[keep], y[keep], p[keep]
        out["timestamp"][...] = t
        if self.t0:
            out["timestamp"] += self.t0
        out["x"][...] = x
        out["y"][...] = y
        out["polarity"][...] = p
        if n:
            self.max_x, self.max_y = max(self.max_x, int(x.max())), max(self.max_y, int(y.max()))
        return out

    def feed(self, data: bytes) -> np.ndarray:
        """The events of the whole words in ``data`` after the bytes kept from the last feed."""
        buf = self._rest + bytes(data)
        size = self.word_dtype.itemsize
        whole = len(buf) - len(buf) % size
        self._rest = buf[whole:]
        return self.decode(np.frombuffer(buf, self.word_dtype, whole // size))

    def _decode(self, words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(t without t0, x, y, polarity) columns of ``words``' events, in order; moves ``state`` on."""
        raise NotImplementedError


_EMPTY = (np.empty(0, np.int64),) * 4

class _CompiledCodec(WordCodec):
    """A codec whose ``kernel`` (a name in :mod:`eventcore.aedat.compiled`) decodes words in
    order straight into events, in compiled code."""

    kernel = ""

    def capacity(self, w: np.ndarray) -> int:
        """An upper bound on the events of ``w``."""
        raise NotImplementedError

    def decode(self, words: np.ndarray) -> np.ndarray:
        w = np.asarray(words, self.word_dtype)
        cap = self.capacity(w)
        out = empty_events(cap)
        state = np.array(self.state, np.int64)
        from eventcore.aedat import compiled

        kernel = getattr(compiled, self.kernel)
        stats = np.array([self.dropped, self.max_x, self.max_y], np.int64)
        n = kernel(w, state, self.width, self.height, self.t0, out, stats)
        self.state = tuple(int(v) for v in state)
        self.dropped, self.max_x, self.max_y = (int(v) for v in stats)
        return out[:n] if 2 * n > cap else out[:n].copy()


class Evt3Codec(_CompiledCodec):
    """EVT 3.0 in one compiled pass (numba): state = (started, time base, time, loops,
    last TIME_HIGH << 12, y, vector x, vector polarity)."""

    word_dtype = np.dtype("<u2")

    def initial_state(self) -> tuple[int, ...]:
        return (0, 0, 0, 0, 0, 0, 0, 0)

    kernel = "evt3_kernel"

    def capacity(self, w: np.ndarray) -> int:
        from eventcore.aedat import compiled

        return compiled.evt3_events(w)


class Evt2Codec(_CompiledCodec):
    """EVT 2.0 in one compiled pass (numba): state = (last TIME_HIGH << 6, wrap offset, running time)."""

    word_dtype = np.dtype("<u4")
    kernel = "evt2_kernel"

    def initial_state(self) -> tuple[int, ...]:
        return (0, 0, 0)

    def capacity(self, w: np.ndarray) -> int:
        return len(w)


class DatCodec(WordCodec):
    """DAT 1 / 2 records: state = (last raw time, wrap offset, running time)."""

    word_dtype = np.dtype("<u8")

    def __init__(self, width: int = 1 << 15, height: int = 1 << 15, t0: int = 0, version: int = 2) -> None:
        super().__init__(width, height, t0)
        # (x shift, x mask, y shift, y mask, polarity shift) of the layout
        self._layout = (32, 0x1FF, 41, 0xFF, 49) if version == 1 else (32, 0x3FFF, 46, 0x3FFF, 60)

    def initial_state(self) -> tuple[int, ...]:
        return (-1, 0, 0)

    def _decode(self, w: np.ndarray):
        prev_raw, offset, t_run = self.state
        if not len(w):
            return _EMPTY
        raw = (w & 0xFFFFFFFF).astype(np.int64)
        prev = np.empty_like(raw)
        prev[0] = raw[0] if prev_raw < 0 else prev_raw
        prev[1:] = raw[:-1]
        offsets = offset + (np.cumsum(prev - raw > 1 << 31) << 32)
        t = np.maximum.accumulate(np.concatenate([[t_run], raw + offsets]))[1:]
        self.state = (int(raw[-1]), int(offsets[-1]), int(t[-1]))
        xs, xm, ys, ym, ps = self._layout
        return t, (w >> xs) & xm, (w >> ys) & ym, ((w >> ps) & 0xF) != 0


def codec_for(fmt: str, width: int, height: int, t0: int = 0, dat_version: int = 2) -> WordCodec:
    """The codec of a Prophesee format ("evt2.0", "evt3.0", "dat")."""
    if fmt == "evt3.0":
        return Evt3Codec(width, height, t0)
    if fmt == "evt2.0":
        return Evt2Codec(width, height, t0)
    if fmt == "dat":
        return DatCodec(width, height, t0, dat_version)
    raise ValueError(f"no word codec for {fmt}")


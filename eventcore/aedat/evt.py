"""Prophesee EVT 2.0, EVT 3.0 and DAT event words decoded with numpy, a chunk at a time.

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

_BITS = np.arange(12, dtype=np.uint16)


def _counts(mask: np.ndarray) -> np.ndarray:
    """For each position, how many ``mask`` positions are at or before it (int64)."""
    return np.cumsum(mask, dtype=np.int64)


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

# EVT 3.0 word types (bits 12-15)
_ADDR_Y, _ADDR_X, _VECT_BASE_X, _VECT_12, _VECT_8, _TIME_LOW, _TIME_HIGH = 0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8
_MAX_BASE = ((1 << 12) - 1) << 12
_TIME_LOOP = _MAX_BASE + (1 << 12)
_LOOP_THRESHOLD = 10 << 12


class Evt3Codec(WordCodec):
    """EVT 3.0: state = (started, time base, time, loops, last TIME_HIGH << 12, y, vector x, vector polarity)."""

    word_dtype = np.dtype("<u2")

    def initial_state(self) -> tuple[int, ...]:
        return (0, 0, 0, 0, 0, 0, 0, 0)

    def _decode(self, w: np.ndarray):
        started, base, time, loops, prev_high, y0, bx0, vpol0 = self.state
        if not started:
            first = np.flatnonzero((w >> 12) == _TIME_HIGH)
            if not first.size:
                return _EMPTY
            base = time = prev_high = (int(w[first[0]]) & 0xFFF) << 12
            started = 1
            w = w[first[0] + 1:]
        typ = w >> 12
        val = w & 0xFFF

        # time: each TIME_HIGH's base (wraps counted), each time word's time, then each word's time
        is_th = typ == _TIME_HIGH
        high = val[is_th].astype(np.int64) << 12
        prev = np.empty_like(high)
        if len(high):
            prev[0] = prev_high
            prev[1:] = high[:-1]
        loop_n = loops + np.cumsum((prev - high) >= _MAX_BASE - _LOOP_THRESHOLD)
        bases = np.concatenate([[base], high + loop_n * _TIME_LOOP])
        is_time = is_th | (typ == _TIME_LOW)
        ts = np.flatnonzero(is_time)
        base_at = bases[_counts(is_th[ts])]
        times = np.concatenate([[time], np.where(is_th[ts], base_at, base_at + val[ts])])

        # each event word's time and y; vectors: their x (set by VECT_BASE_X, advanced by each
        # vector) and polarity
        is_y = typ == _ADDR_Y
        ys = np.concatenate([[y0], val[is_y] & 0x7FF])
        ib = np.flatnonzero(typ == _VECT_BASE_X)
        bxs = np.concatenate([[bx0], val[ib] & 0x7FF]).astype(np.int64)
        pols = np.concatenate([[vpol0], (val[ib] >> 11) & 1])
        e = np.flatnonzero((typ == _ADDR_X) | (typ == _VECT_12) | (typ == _VECT_8))
        et, ev = typ[e], val[e]
        t = times[np.cumsum(is_time, dtype=np.int32)[e]]
        y = ys[np.cumsum(is_y, dtype=np.int32)[e]]
        x = (ev & 0x7FF).astype(np.int64)
        pol = (ev >> 11) & 1
        iv = np.flatnonzero(et != _ADDR_X)
        vw = e[iv]
        step = np.where(et[iv] == _VECT_12, 12, 8)
        advanced = np.concatenate([[0], np.cumsum(step)])  # x advance of the vectors before each
        bx_from = np.concatenate([[0], advanced[np.searchsorted(vw, ib)]])  # the advance at each VECT_BASE_X
        if len(iv):  # one event per set bit of a vector (in word order, then bit order)
            kb = np.searchsorted(ib, vw)
            mask = np.where(et[iv] == _VECT_12, ev[iv], ev[iv] & 0xFF)
            vrows, bits = np.nonzero((mask[:, None] >> _BITS) & 1)
            counts = np.ones(len(e), np.int64)
            counts[iv] = np.bincount(vrows, minlength=len(iv))
            rows = np.repeat(np.arange(len(e)), counts)
            out_vec = np.flatnonzero(et[rows] != _ADDR_X)
            t, y, x, pol = t[rows], y[rows], x[rows], pol[rows]
            x[out_vec] = (bxs[kb] + advanced[:-1] - bx_from[kb])[vrows] + bits
            pol[out_vec] = pols[kb][vrows]

        self.state = (started, int(bases[-1]), int(times[-1]), int(loop_n[-1]) if len(high) else loops,
                      int(high[-1]) if len(high) else prev_high, int(ys[-1]),
                      int(bxs[-1] + advanced[-1] - bx_from[-1]), int(pols[-1]))
        return t, x, y, pol


class Evt2Codec(WordCodec):
    """EVT 2.0: state = (last TIME_HIGH << 6, wrap offset, running time)."""

    word_dtype = np.dtype("<u4")

    def initial_state(self) -> tuple[int, ...]:
        return (0, 0, 0)

    def _decode(self, w: np.ndarray):
        prev_high, offset, t_run = self.state
        typ = w >> 28
        is_th = typ == 0x8
        high = (w[is_th] & 0x0FFFFFFF).astype(np.int64) << 6
        prev = np.empty_like(high)
        if len(high):
            prev[0] = prev_high
            prev[1:] = high[:-1]
        offsets = offset + (np.cumsum(high < prev) << 34)
        highs = np.concatenate([[prev_high + offset], high + offsets])
        timed = np.flatnonzero((typ <= 0x1) | (typ == 0xA))  # CD events and triggers move the time
        t = highs[_counts(is_th)[timed]] + ((w[timed] >> 22) & 0x3F)
        t = np.maximum.accumulate(np.concatenate([[t_run], t]))
        if len(high):
            prev_high, offset = int(high[-1]), int(offsets[-1])
        self.state = (prev_high, offset, int(t[-1]))
        cd = typ[timed] <= 0x1
        words = w[timed][cd]
        return t[1:][cd], (words >> 11) & 0x7FF, words & 0x7FF, words >> 28


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


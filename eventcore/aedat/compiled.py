"""The format layer's compiled decoders (numba): formats whose words are a state machine, or whose
fields numpy would unpack in many strided passes, decoded in one pass straight into events.

Imported on first use only (``from eventcore.aedat import compiled`` inside the decoders), so that
reading the formats decoded with numpy alone (AEDAT4, AEDAT 2.0, DAT, HDF5) never loads numba and
LLVM (about 130 MB of memory). Each kernel is compiled once and kept in numba's cache
(``__pycache__``); a process loads it in about 0.5 s the first time.
"""

from __future__ import annotations

import numba
import numpy as np

# ---- AEDAT 3.1 polarity packets (see eventcore.aedat.aedat3) ---------------------------------


@numba.njit(cache=True, nogil=True)
def u32le(raw, i):
    """The little-endian uint32 at byte ``i`` (any alignment: other packets may end off a word)."""
    return (np.int64(raw[i]) | (np.int64(raw[i + 1]) << 8) | (np.int64(raw[i + 2]) << 16)
            | (np.int64(raw[i + 3]) << 24))


@numba.njit(cache=True, nogil=True)
def aedat3_polarity(raw, offsets, counts, overflows, width, height, prev_t, out):
    """One pass over the packets' 8-byte events: fields into ``out``, checks on the way."""
    n = 0
    invalid = 0
    back = -1
    outside = -1
    max_x = -1
    max_y = -1
    last = prev_t
    for s in range(len(counts)):
        i = offsets[s]
        high = overflows[s] << 31
        for _ in range(counts[s]):
            d = u32le(raw, i)
            t = u32le(raw, i + 4) | high
            i += 8
            x = (d >> 17) & 0x7FFF
            y = (d >> 2) & 0x7FFF
            if (d & 1) == 0:
                invalid += 1
            if t < last and back < 0:
                back = n
            last = t
            if x > max_x:
                max_x = x
            if y > max_y:
                max_y = y
            if width >= 0 and outside < 0 and (x >= width or y >= height):
                outside = n
            e = out[n]
            e.timestamp = t
            e.x = x
            e.y = y
            e.polarity = (d >> 1) & 1
            n += 1
    return invalid, back, outside, max_x, max_y


# ---- Prophesee EVT 3.0 and 2.0 (see eventcore.aedat.evt) ---------------------------------------

# EVT 3.0 word types (bits 12-15)
_ADDR_Y, _ADDR_X, _VECT_BASE_X, _VECT_12, _VECT_8, _TIME_LOW, _TIME_HIGH = 0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8
_MAX_BASE = ((1 << 12) - 1) << 12
_TIME_LOOP = _MAX_BASE + (1 << 12)
_LOOP_THRESHOLD = 10 << 12


@numba.njit(cache=True, nogil=True, inline="always")
def _emit(out, n, t, x, y, p, width, height, stats):
    """Write event ``n`` if it lies on the ``width`` x ``height`` sensor (then return n + 1), else
    count it dropped; ``stats``: (dropped, max x, max y) so far."""
    if x >= width or y >= height:
        stats[0] += 1
        return n
    e = out[n]
    e.timestamp = t
    e.x = x
    e.y = y
    e.polarity = p
    stats[1] = max(stats[1], x)
    stats[2] = max(stats[2], y)
    return n + 1


@numba.njit(cache=True, nogil=True)
def evt3_kernel(w, state, width, height, t0, out, stats):
    """EVT 3.0 words decoded in order into ``out`` (events outside the sensor dropped, counted in
    ``stats``), moving ``state`` (see :class:`~eventcore.aedat.evt.Evt3Codec`) on; returns the events written."""
    started, base, time, loops, prev_high, y, bx, vpol = state
    n = 0
    for i in range(len(w)):
        word = np.int64(w[i])
        typ = word >> 12
        val = word & 0xFFF
        if not started:
            if typ == _TIME_HIGH:
                base = time = prev_high = val << 12
                started = 1
            continue
        if typ == _TIME_HIGH:
            high = val << 12
            if prev_high - high >= _MAX_BASE - _LOOP_THRESHOLD:
                loops += 1
            base = time = high + loops * _TIME_LOOP
            prev_high = high
        elif typ == _TIME_LOW:
            time = base + val
        elif typ == _ADDR_Y:
            y = val & 0x7FF
        elif typ == _VECT_BASE_X:
            bx = val & 0x7FF
            vpol = (val >> 11) & 1
        elif typ == _ADDR_X or typ == _VECT_12 or typ == _VECT_8:
            if typ == _ADDR_X:
                bits, mask, x0, pol = 1, 1, val & 0x7FF, (val >> 11) & 1
            else:  # one event per set bit, at x, x+1, ...
                bits, mask, x0, pol = (12 if typ == _VECT_12 else 8), val, bx, vpol
                bx += bits
            for b in range(bits):
                if (mask >> b) & 1:
                    n = _emit(out, n, time + t0, x0 + b, y, pol, width, height, stats)
    state[:] = (started, base, time, loops, prev_high, y, bx, vpol)
    return n


@numba.njit(cache=True, nogil=True)
def evt3_events(w) -> int:
    """Events that EVT 3.0 words ``w`` hold, before any is dropped (one a set vector bit)."""
    n = 0
    for i in range(len(w)):
        typ = w[i] >> 12
        if typ == _ADDR_X:
            n += 1
        elif typ == _VECT_12 or typ == _VECT_8:
            bits = w[i] & (0xFFF if typ == _VECT_12 else 0xFF)
            while bits:
                bits &= bits - 1
                n += 1
    return n


@numba.njit(cache=True, nogil=True)
def evt2_kernel(w, state, width, height, t0, out, stats):
    """EVT 2.0 words decoded in order into ``out`` (events outside the sensor dropped, counted in
    ``stats``), moving ``state`` (see :class:`~eventcore.aedat.evt.Evt2Codec`) on; returns the events written."""
    prev_high, offset, t_run = state
    n = 0
    for i in range(len(w)):
        word = np.int64(w[i])
        typ = word >> 28
        if typ == 0x8:
            high = (word & 0x0FFFFFFF) << 6
            if high < prev_high:
                offset += 1 << 34
            prev_high = high
        elif typ <= 0x1 or typ == 0xA:  # CD events and triggers move the time
            t_run = max(t_run, prev_high + offset + ((word >> 22) & 0x3F))
            if typ <= 0x1:
                n = _emit(out, n, t_run + t0, (word >> 11) & 0x7FF, word & 0x7FF, typ, width, height, stats)
    state[:] = (prev_high, offset, t_run)
    return n

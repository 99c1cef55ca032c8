"""A vectorised kernel over UTF-8 bytes that never materialises words and releases the GIL.

A word starts at every byte that is not whitespace and follows one that is (or starts the text),
so the count is ``count_nonzero(ws[i-1] & ~ws[i])`` over a whitespace mask ``ws``. Getting there at
memory speed, exactly for all of Unicode:

* Blocks of about ``BLOCK_BYTES`` (cut on character boundaries) with preallocated ``out=``
  buffers: temporaries stay in cache and memory is bounded by the block, not the input. Each call
  borrows its own set of buffers from a small pool (``ScratchPool``), so threads counting at once
  never share one and the fresh threads of each ``threads``-executor call reuse warm buffers. One
  bit (was the last byte whitespace?) crosses from block to block.
* ASCII blocks (``max() < 0x80``, one fast reduction) need no UTF-8 validation and only the
  ``a <= 32`` test; the control bytes ``0x00-0x08`` and ``0x0E-0x1B``, which are ``<= 32`` but not
  whitespace, are ruled out by a subtraction and two reductions, and handled by an exact table
  when present.
* Other blocks are validated with whole-array byte-class arithmetic (every continuation byte where a
  lead byte asks for one and nowhere else; no ``F5-FF``), plus sparse checks of the few leads that
  restrict their second byte (overlong forms, surrogates, beyond U+10FFFF) or are never valid
  (``C0``, ``C1``), found in the same sparse search as the whitespace leads. Only
  the multi-byte whitespace characters need more than ``a <= 32``; they all start with ``C2``,
  ``E1``, ``E2`` or ``E3`` (none takes four bytes), so their candidates are found sparsely and
  looked up by their bytes in a table.
* When validation fails, CPython's own decoder is run from that block on to name the first bad
  byte exactly as ``bytes.decode`` would.
* ``str`` input is encoded block by block (never a full-size encoded copy); the encoding is valid
  by construction, so only the whitespace work remains.

Every heavy step is a numpy ufunc, reduction, ``flatnonzero`` or fancy index, all of which release
the GIL.
"""

from __future__ import annotations

import codecs
import ctypes
import mmap
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from wordcount.errors import InvalidUTF8Error
from wordcount.text import WHITESPACE

#: Bytes per block: big enough that per-call overhead is small, small enough to stay in cache.
BLOCK_BYTES = 1 << 20

# _FAST_LESS: numpy (2.x, x86) compares a uint8 array with a scalar a third faster as
# ``np.greater(k, a)`` than as ``np.less(a, k)`` or ``np.less_equal(a, k - 1)`` (measured on 1 MiB:
# 25 us against 37 us), so the ``a <= k`` tests of the hot path are written that way.

# Exact ASCII whitespace, for the rare blocks holding control bytes that ``a <= 32`` would misread.
_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[ord(c) for c in WHITESPACE if ord(c) < 0x80]] = True
assert {c.encode()[0] for c in WHITESPACE if ord(c) >= 0x80} == {0xC2, 0xE1, 0xE2, 0xE3}
# Leads that matter (see _Leads): 1 = C2 (two-byte whitespace), 2 = E1-E3 (three-byte
# whitespace), 3 = E0, ED, F0, F4 (second byte restricted), 4 = C0, C1 (never valid).
_LEAD_KIND = np.zeros(256, dtype=np.uint8)
_LEAD_KIND[0xC2] = 1
_LEAD_KIND[0xE1:0xE4] = 2
_LEAD_KIND[[0xE0, 0xED, 0xF0, 0xF4]] = 3
_LEAD_KIND[[0xC0, 0xC1]] = 4
# Second bytes that make a C2 lead whitespace: U+0085 and U+00A0.
_C2_SPACE = np.zeros(256, dtype=bool)
_C2_SPACE[[0x85, 0xA0]] = True
# Three-byte whitespace by ``(lead & 3) << 12 | (second byte & 3F) << 6 | third byte & 3F`` for
# leads E1-E3 (a flat table: one fancy index instead of three).
_WS3_SPACE = np.zeros(4 << 12, dtype=bool)
for _c in WHITESPACE:
    if len(_c.encode()) == 3:
        _b = _c.encode()
        _WS3_SPACE[(_b[0] & 3) << 12 | (_b[1] & 0x3F) << 6 | _b[2] & 0x3F] = True


#: The tracemalloc domain numpy reports its own arrays' memory in (``NPY_TRACE_DOMAIN``).
_NUMPY_TRACE_DOMAIN = 389047


def _trace(memory: np.ndarray) -> None:
    """Report ``memory`` (numpy did not allocate it) to tracemalloc as numpy does its arrays',
    until it is freed, so allocation counts include the scratch buffers; free if not tracing."""
    api = ctypes.pythonapi
    address = memory.ctypes.data
    if api.PyTraceMalloc_Track(_NUMPY_TRACE_DOMAIN, ctypes.c_size_t(address),
                               ctypes.c_size_t(memory.nbytes)) == 0:
        weakref.finalize(memory, api.PyTraceMalloc_Untrack, _NUMPY_TRACE_DOMAIN,
                         ctypes.c_size_t(address))


class _Buffers:
    """Scratch arrays reused by every block of a call (``out=`` targets), grown when a block is
    larger than any before.

    They live in one anonymous ``mmap`` rather than on the heap: freed, the pages go straight
    back to the OS, whereas glibc keeps a thread's freed heap resident in that thread's arena for
    the next thread, where a memory measurement would not see it allocated again.
    """

    def __init__(self) -> None:
        self.size = 0
        self.nbytes = 0
        self.ensure(64)

    def ensure(self, size: int) -> None:
        if size > self.size:
            # Room for whole 64-bit words (_sparse_positions), in whole pages: blocks cut on
            # character boundaries differ by a few bytes, and should not each grow the buffers.
            padded = -(-(size + 8) // mmap.PAGESIZE) * mmap.PAGESIZE
            self.size = padded - 8
            for name in ("ws", "flag", "flag2", "byte", "words"):  # free the old ones first
                vars(self).pop(name, None)
            # MAP_PRIVATE: mmap's default for anonymous memory is MAP_SHARED, which would share
            # a forked worker's buffers with its parent's and its siblings'.
            raw = mmap.mmap(-1, 4 * padded + padded // 8, flags=mmap.MAP_PRIVATE)
            memory = np.frombuffer(raw, dtype=np.uint8)
            _trace(memory)
            parts = [memory[i * padded : (i + 1) * padded] for i in range(4)]
            self.ws = parts[0].view(bool)  # whitespace mask
            self.flag = parts[1].view(bool)  # word starts; validation temporaries
            self.flag2 = parts[2].view(bool)
            self.byte = parts[3]  # shifted bytes
            self.words = memory[4 * padded :].view(bool)  # 64-bit words of a mask with hits
            self.nbytes = memory.nbytes


class ScratchPool:
    """Scratch buffers lent to one call at a time and kept for the next (at most ``keep`` sets).

    Threads counting at once never share a set. Kept sets spare later calls, and the fresh threads
    of every ``threads``-executor call, from allocating and page-faulting megabytes anew: without
    them one thread counted 8 MiB 1.5 times slower here. What the pool keeps is the kernel's
    working memory all the same, so ``release`` frees it (``wordcount.kernels``'s
    ``release_working_memory`` calls it before a memory measurement).
    """

    def __init__(self, keep: int = 4) -> None:
        self._keep = keep
        self._free: list[_Buffers] = []
        self._lock = threading.Lock()

    @contextmanager
    def lend(self) -> Iterator[_Buffers]:
        with self._lock:
            buf = self._free.pop() if self._free else None
        buf = buf or _Buffers()
        try:
            yield buf
        finally:
            with self._lock:
                if len(self._free) < self._keep:
                    self._free.append(buf)

    @property
    def nbytes(self) -> int:
        """Bytes of the kept buffers (allocated; pages never written are not resident)."""
        with self._lock:
            return sum(b.nbytes for b in self._free)

    def release(self) -> int:
        """Free the kept buffers; returns the bytes they held."""
        with self._lock:
            freed = sum(b.nbytes for b in self._free)
            self._free.clear()
        return freed


#: The pool ``count_numpy`` borrows from unless given one.
SCRATCH = ScratchPool()


_EIGHT = np.arange(8, dtype=np.intp)
_ZERO64 = np.uint64(0)  # a uint64 scalar: a Python 0 takes a slower loop against uint64
_LITTLE_ENDIAN = sys.byteorder == "little"


def _sparse_positions(mask: np.ndarray, n: int, buf: _Buffers) -> np.ndarray:
    """``flatnonzero(mask[:n])`` (in any order) for a sparse mask, about twice as fast.

    ``flatnonzero`` pays a mispredicted branch per hit over the whole mask; here the mask is read
    as 64-bit words, only the nonzero words are visited, and a word holding one hit (the usual
    case) gives its position from the exponent of its value as a float: a power of 256.
    ``mask`` must have room for ``n`` rounded up to a multiple of 8.
    """
    if not _LITTLE_ENDIAN:
        return np.flatnonzero(mask[:n])
    size = (n + 7) // 8
    mask[n : size * 8] = False
    words = mask[: size * 8].view(np.uint64)
    hot_words = buf.words[:size]
    np.not_equal(words, _ZERO64, out=hot_words)
    hot = np.flatnonzero(hot_words)
    value = words[hot]
    several = (value & (value - np.uint64(1))) != 0
    if several.any():  # words with two hits or more: look at each of their bytes
        crowded = hot[several]
        cand = (crowded[:, None] * 8 + _EIGHT).ravel()
        hot, value = hot[~several], value[~several]
        return np.concatenate([(hot << 3) + ((np.frexp(value.astype(np.float64))[1] - 1) >> 3),
                               cand[mask[cand]]])
    return (hot << 3) + ((np.frexp(value.astype(np.float64))[1] - 1) >> 3)


class _Leads:
    """Where the block's multi-byte characters that matter start: ``c2``, the only two-byte
    whitespace lead; ``ws3``, the three-byte whitespace leads ``E1-E3``; ``special``, the leads
    that restrict their second byte (``E0``, ``ED``, ``F0``, ``F4``: overlong forms, surrogates,
    code points past U+10FFFF); ``overlong``, whether ``C0`` or ``C1`` (never valid) occurs: the
    range test ``C0-C2`` costs no more than ``== C2`` and spares validation a pass. One sparse
    search finds them all; it costs per hit, and these leads are rare even in text full of
    accented, Greek, Cyrillic or CJK letters."""

    def __init__(self, a: np.ndarray, top: int, buf: _Buffers) -> None:
        n = a.size
        sub, mask, other = buf.byte[:n], buf.flag[:n], buf.ws[:n]
        # E0-E3 and ED in three passes: (x ^ 5) + 0x1C (mod 256) sends E0, E1, E2, E3, ED to
        # 1, 0, 3, 2, 4 and every other byte above 4.
        np.bitwise_xor(a, 5, out=sub)
        np.add(sub, 0x1C, out=sub)
        np.greater(5, sub, out=mask)  # sub <= 4 (_FAST_LESS)
        np.subtract(a, 0xC0, out=sub)
        np.greater(0xC3 - 0xC0, sub, out=other)  # C0, C1, C2
        np.logical_or(mask, other, out=mask)
        for lead in (0xF0, 0xF4) if top >= 0xF0 else ():
            np.equal(sub, lead - 0xC0, out=other)
            np.logical_or(mask, other, out=mask)
        pos = _sparse_positions(buf.flag, n, buf)
        kind = _LEAD_KIND[a[pos]]
        self.c2 = pos[kind == 1]
        self.ws3 = pos[kind == 2]
        self.special = pos[kind == 3]
        self.overlong = bool((kind == 4).any())


def _valid_multibyte(a: np.ndarray, top: int, buf: _Buffers, leads: _Leads) -> bool:
    """Whether the non-ASCII block ``a`` (whole characters; largest byte ``top``) is valid UTF-8.

    Every byte ``10xxxxxx`` must be the continuation some earlier lead asks for: one after a lead
    ``>= C0``, two after ``>= E0``, three after ``>= F0``; and every lead's continuations must be
    there. Leads ``C0``, ``C1`` and ``F5-FF`` never occur; three-byte characters must not encode
    less than U+0800 (overlong) or a surrogate, four-byte ones nothing below U+10000 or past
    U+10FFFF: only leads ``E0``, ``ED``, ``F0`` and ``F4`` need their second byte checked.
    Run after :class:`_Leads` and before :func:`_space_mask` (they share scratch buffers).
    """
    n = a.size
    if top >= 0xF5:
        return False
    if int(a[-1]) >= 0xC0 or (n > 1 and int(a[-2]) >= 0xE0) or (n > 2 and int(a[-3]) >= 0xF0):
        return False  # a character cut off by the end of the block
    if leads.overlong:  # C0 or C1: overlong two-byte forms
        return False
    if leads.special.size:
        lead, second = a[leads.special], a[leads.special + 1]
        if (((lead == 0xE0) & (second < 0xA0)) | ((lead == 0xED) & (second >= 0xA0))
                | ((lead == 0xF0) & (second < 0x90)) | ((lead == 0xF4) & (second >= 0x90))).any():
            return False
    cont, need, longer = buf.flag[:n], buf.ws[:n], buf.flag2[:n]  # ws is rebuilt afterwards
    np.less(a.view(np.int8), -64, out=cont)  # 0x80-0xBF
    # ``need[i]``: some lead before ``i`` asks for a continuation at ``i``.
    np.greater_equal(a[:-1], 0xC0, out=need[1:])
    need[0] = False
    for lead, gap in ((0xE0, 2), *(((0xF0, 3),) if top >= 0xF0 else ())):
        np.greater_equal(a[:-gap], lead, out=longer[gap:])
        np.logical_or(need[gap:], longer[gap:], out=need[gap:])
    whole = n // 8 * 8  # compare eight bytes at a time, then the rest
    return bool(np.array_equal(cont[:whole].view(np.uint64), need[:whole].view(np.uint64))
                and np.array_equal(cont[whole:], need[whole:]))


def _space_mask(a: np.ndarray, buf: _Buffers, leads: _Leads | None) -> np.ndarray:
    """Whitespace mask of block ``a`` (valid UTF-8, whole characters) in ``buf.ws``.

    ``leads`` is ``None`` for an ASCII block.
    """
    n = a.size
    ws = buf.ws[:n]
    sub = buf.byte[:n]
    np.subtract(a, 0x0E, out=sub)
    if int(a.min()) < 0x09 or int(sub.min()) < 0x0E:  # control bytes 00-08 or 0E-1B present
        np.take(_ASCII_SPACE, a, out=ws)
    else:
        np.greater(0x21, a, out=ws)  # a <= 0x20 (_FAST_LESS)
    if leads is None:
        return ws
    # Multi-byte whitespace: U+0085 and U+00A0 after C2, the rest three bytes long.
    if leads.c2.size:
        hit = leads.c2[_C2_SPACE[a[leads.c2 + 1]]]
        ws[hit] = True
        ws[hit + 1] = True
    if leads.ws3.size:
        at = leads.ws3
        key = (a[at] & 3).astype(np.intp) << 12
        key |= (a[at + 1] & 0x3F).astype(np.intp) << 6
        key |= a[at + 2] & 0x3F
        hit = at[_WS3_SPACE[key]]
        ws[hit] = True
        ws[hit + 1] = True
        ws[hit + 2] = True
    return ws


def _count_block(a: np.ndarray, prev_space: bool, buf: _Buffers,
                 leads: _Leads | None) -> tuple[int, bool]:
    """Words starting in block ``a`` given whether the byte before it was whitespace."""
    ws = _space_mask(a, buf, leads)
    starts = buf.flag[: a.size - 1]
    np.less(ws[1:], ws[:-1], out=starts)  # ws[i-1] and not ws[i]
    words = int(np.count_nonzero(starts)) + int(prev_space and not ws[0])
    return words, bool(ws[-1])


def _cut(a: np.ndarray, pos: int, stop: int) -> int:
    """A block end near ``stop`` on a character boundary: back over at most three continuation
    bytes, or forward past them when the block would otherwise be empty (tiny blocks)."""
    n = a.size
    if stop >= n:
        return n
    cut = stop
    while cut > pos and cut > stop - 3 and (int(a[cut]) & 0xC0) == 0x80:
        cut -= 1
    if cut > pos and (int(a[cut]) & 0xC0) != 0x80:
        return cut
    cut = stop
    while cut < n and cut < stop + 3 and (int(a[cut]) & 0xC0) == 0x80:
        cut += 1
    return cut


def _first_error(mv: memoryview, pos: int, end: int, block: int) -> tuple[int, str] | None:
    """CPython's verdict on ``mv[pos:end]``: the first bad byte's offset from ``pos`` and the reason
    ``bytes.decode`` gives, or ``None`` if it is valid. Decodes block by block (bounded memory)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    done = 0  # bytes handed to the decoder so far, relative to pos
    step = max(block, 4)
    while True:
        piece = bytes(mv[pos + done : min(pos + done + step, end)])  # also if not contiguous
        final = pos + done + len(piece) >= end
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(piece, final)
        except UnicodeDecodeError as exc:
            return done - pending + exc.start, exc.reason
        done += len(piece)
        if final:
            return None


def _count_bytes(data: object, start: int, end: int, block: int, scratch: ScratchPool
                 ) -> tuple[int, tuple[int, str] | None]:
    """The count of UTF-8 ``data[start:end]``, or the first error (offset from ``start``, reason).

    Returns the error rather than raising it so that no frame holding a view of ``data`` outlives
    the call inside a traceback (a live view would stop the caller closing an ``mmap``).
    """
    mv = memoryview(data)  # type: ignore[arg-type]
    a_all = np.asarray(mv)
    if a_all.dtype != np.uint8:
        a_all = a_all.view(np.uint8)
    a_all = a_all[start:end]
    with scratch.lend() as buf:
        return _count_array(a_all, mv, start, block, buf)


def _count_array(a_all: np.ndarray, mv: memoryview, start: int, block: int, buf: _Buffers
                 ) -> tuple[int, tuple[int, str] | None]:
    """:func:`_count_bytes` over the array ``a_all`` (``mv[start:]`` as bytes) with ``buf``."""
    words, prev_space, pos = 0, True, 0
    n = a_all.size
    while pos < n:
        stop = _cut(a_all, pos, pos + block)
        a = a_all[pos:stop]
        buf.ensure(a.size)
        top = int(a.max())
        leads = None
        if top >= 0x80:
            leads = _Leads(a, top, buf)
            if not _valid_multibyte(a, top, buf, leads):
                bad = _first_error(mv, start + pos, start + n, block)
                if bad is not None:
                    return words, (pos + bad[0], bad[1])
        w, prev_space = _count_block(a, prev_space, buf, leads)
        words += w
        pos = stop
    return words, None


def _count_str(data: str, start: int, end: int, block: int, scratch: ScratchPool) -> int:
    """The count of ``data[start:end]``, encoding ``block`` code points at a time."""
    words, prev_space = 0, True
    ascii_text = data.isascii()  # O(1) for str: a flag of the object
    with scratch.lend() as buf:
        for pos in range(start, end, block):
            raw = data[pos : min(pos + block, end)].encode("utf-8", "surrogatepass")
            a = np.frombuffer(raw, dtype=np.uint8)
            buf.ensure(a.size)
            top = 0 if ascii_text else int(a.max())
            leads = _Leads(a, top, buf) if top >= 0x80 else None
            w, prev_space = _count_block(a, prev_space, buf, leads)
            words += w
    return words


def count_numpy(data: str | bytes | bytearray | memoryview, start: int = 0,
                end: int | None = None, *, block: int = BLOCK_BYTES,
                scratch: ScratchPool | None = None) -> int:
    """Count words exactly as ``str.split()`` would, block by block over UTF-8 bytes.

    ``block`` (bytes, or code points for ``str``) sets the memory used; tests make it tiny so that
    block boundaries fall everywhere. ``scratch`` lends the block buffers (default ``SCRATCH``,
    kept between calls; a fresh ``ScratchPool()`` makes the call allocate its own). Invalid UTF-8
    raises ``InvalidUTF8Error`` naming the first bad byte's offset from ``start``.
    """
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValueError(f"block must be a positive int, got {block!r}")
    start, end, _ = slice(start, end).indices(len(data))
    if end <= start:
        return 0
    scratch = SCRATCH if scratch is None else scratch
    if isinstance(data, str):
        return _count_str(data, start, end, block, scratch)
    words, error = _count_bytes(data, start, end, block, scratch)
    if error is not None:
        raise InvalidUTF8Error(*error)
    return words

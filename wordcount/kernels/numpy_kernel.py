"""A vectorised kernel over UTF-8 bytes that never materialises words.

A word starts at every byte that is not part of a whitespace character and follows one that is
(or starts the text). The text is processed in cache-sized blocks cut on character boundaries,
carrying one bit (was the previous byte whitespace?) from block to block; numpy releases the GIL
for the heavy work, so threads running this kernel run in parallel.
"""

from __future__ import annotations

import numpy as np

from wordcount.text import WHITESPACE, validate_utf8

#: Bytes per block: small enough for the temporaries to stay in cache.
BLOCK_BYTES = 1 << 20

_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[ord(c) for c in WHITESPACE if ord(c) < 0x80]] = True
# The multi-byte whitespace characters' encodings, grouped by length.
_MULTI = [ch.encode("utf-8") for ch in WHITESPACE if ord(ch) >= 0x80]


def _space_mask(a: np.ndarray) -> np.ndarray:
    """Boolean mask: is byte ``i`` part of a whitespace character? ``a`` holds whole characters."""
    ws = _ASCII_SPACE[a]
    if a.size and a.max() >= 0xC2:
        padded = np.concatenate([a, np.zeros(2, dtype=np.uint8)])
        for seq in _MULTI:
            hit = padded[: a.size] == seq[0]
            for k in range(1, len(seq)):
                hit &= padded[k : a.size + k] == seq[k]
            where = np.flatnonzero(hit)
            for k in range(len(seq)):
                ws[where + k] = True
    return ws


def _count_block(a: np.ndarray, prev_space: bool) -> tuple[int, bool]:
    """Words starting in ``a`` given whether the byte before it was whitespace."""
    if a.size == 0:
        return 0, prev_space
    ws = _space_mask(a)
    starts = int(np.count_nonzero(~ws[1:] & ws[:-1]) + int(prev_space and not ws[0]))
    return starts, bool(ws[-1])


def _char_boundary(a: np.ndarray, pos: int) -> int:
    """Move ``pos`` back to the start of the UTF-8 character it falls in (at most 3 bytes)."""
    for _ in range(3):
        if pos <= 0 or pos >= a.size or (a[pos] & 0xC0) != 0x80:
            break
        pos -= 1
    return pos


def count_numpy(data: str | bytes | bytearray | memoryview, start: int = 0,
                end: int | None = None, *, block: int = BLOCK_BYTES) -> int:
    """Count words exactly as ``str.split()`` would, block by block over UTF-8 bytes."""
    end = len(data) if end is None else end
    words, prev_space = 0, True
    if isinstance(data, str):
        # Encode block by block: never a full-size encoded copy of the text.
        for pos in range(start, end, block):
            raw = data[pos : min(pos + block, end)].encode("utf-8", "surrogatepass")
            n, prev_space = _count_block(np.frombuffer(raw, dtype=np.uint8), prev_space)
            words += n
        return words
    validate_utf8(data, start, end)
    a = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start) if end > start \
        else np.zeros(0, dtype=np.uint8)
    pos = 0
    while pos < a.size:
        stop = _char_boundary(a, min(pos + block, a.size))
        if stop <= pos:
            stop = min(pos + block, a.size)
        n, prev_space = _count_block(a[pos:stop], prev_space)
        words += n
        pos = stop
    return words

"""Input checking and chunking at whitespace (UTF-8 validation is the kernels' job, per chunk).

A word is what ``str.split()`` splits out, so a chunk boundary is only ever placed just before a
whitespace character: the word counts of the pieces then add up exactly to the count of the whole,
whatever the number of chunks.
"""

from __future__ import annotations

import itertools
import re

#: The 29 code points for which ``str.isspace()`` is true (and so ``str.split()`` splits on).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

# For str, ``\s`` is exactly ``str.isspace`` (checked over every code point in the tests).
_STR_SPACE = re.compile(r"\s")
# For UTF-8 bytes: every whitespace character's encoding. In valid UTF-8 these sequences only occur
# as whole characters, so a match always starts on a character boundary.
_UTF8_SPACE = re.compile(
    b"|".join(re.escape(ch.encode("utf-8")) for ch in sorted(WHITESPACE, key=len))
)

#: ``str``, or UTF-8 in ``bytes``, ``bytearray``, ``memoryview`` or ``mmap.mmap``.
Text = str | bytes | bytearray | memoryview


def check_text(text: object) -> None:
    """Raise ``TypeError`` unless ``text`` is ``str`` or a bytes-like object (``bytes``,
    ``bytearray``, ``mmap``, a contiguous byte ``memoryview``) holding UTF-8."""
    if isinstance(text, str | bytes):
        return
    try:
        view = memoryview(text)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"text must be str or UTF-8 bytes, not {type(text).__name__}") from None
    with view:
        if view.ndim != 1 or view.itemsize != 1 or not view.c_contiguous:
            raise TypeError("a bytes-like text must be one-dimensional, contiguous bytes")


def chunk_spans(text: Text, chunks: int) -> list[tuple[int, int]]:
    """Split ``text`` into at most ``chunks`` non-empty ``(start, end)`` spans cut at whitespace.

    Nominal cuts at ``i * n / chunks`` move forward to the next whitespace character, so no word is
    ever cut in two; cuts that collide (more chunks than words, long words) merge, so fewer spans
    than asked for may come back. An empty text gives one empty span so callers always count once.
    """
    if chunks < 1:
        raise ValueError(f"chunks must be at least 1, got {chunks}")
    n = len(text)
    pattern = _STR_SPACE if isinstance(text, str) else _UTF8_SPACE
    cuts = [0]
    for i in range(1, chunks):
        nominal = max(i * n // chunks, cuts[-1])
        if nominal >= n:
            break
        match = pattern.search(text, nominal)
        cut = match.start() if match else n
        if cut > cuts[-1]:
            cuts.append(cut)
    cuts.append(n)
    spans = [(a, b) for a, b in itertools.pairwise(cuts) if b > a]
    return spans or [(0, n)]


def block_spans(text: Text, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """``(start, end)`` cut into consecutive spans of about ``size`` (at least), each cut moved
    forward to the next whitespace character like ``chunk_spans``' cuts, so their counts add up.

    Lets a worker that cannot be interrupted from outside (a subinterpreter) count its chunk in
    pieces and look for a request to stop between them.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    pattern = _STR_SPACE if isinstance(text, str) else _UTF8_SPACE
    cuts = [start]
    while end - cuts[-1] > size:
        match = pattern.search(text, cuts[-1] + size, end)
        if match is None:
            break
        cuts.append(match.start())
    cuts.append(end)
    return list(itertools.pairwise(cuts))

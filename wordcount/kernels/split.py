"""The classic kernel: ``len(chunk.split())``.

It materialises a list of word objects (about 8 bytes allocated per byte of text), and holds the
GIL throughout: the baseline every other strategy is measured against.
"""

from __future__ import annotations

from wordcount.errors import InvalidUTF8Error


def count_split(data: str | bytes | bytearray | memoryview, start: int = 0,
                end: int | None = None) -> int:
    """Count words the way ``len(text.split())`` does, decoding UTF-8 bytes first."""
    end = len(data) if end is None else end
    if isinstance(data, str):
        chunk = data if (start, end) == (0, len(data)) else data[start:end]
        return len(chunk.split())
    try:
        return len(str(memoryview(data)[start:end], "utf-8").split())
    except UnicodeDecodeError as exc:
        raise InvalidUTF8Error(exc.start, exc.reason) from None

"""Chunking at whitespace (``chunk_spans``) and the whitespace facts it relies on.

No word may be cut or counted twice, whatever the number of chunks: every interior cut must sit
just before a whitespace character, so the pieces' word counts add up to the whole's. Checked with
hypothesis over Unicode texts, for ``str`` (offsets in code points) and UTF-8 ``bytes`` (offsets in
bytes), with more chunks than words included.
"""

from __future__ import annotations

import itertools
import re
import sys

import pytest
from helpers import texts
from hypothesis import given, settings
from hypothesis import strategies as st

from wordcount.text import _UTF8_SPACE, WHITESPACE, chunk_spans


def test_whitespace_is_exactly_what_str_split_splits_on() -> None:
    spaces = [chr(cp) for cp in range(sys.maxunicode + 1) if chr(cp).isspace()]
    assert "".join(spaces) == WHITESPACE
    assert len(WHITESPACE) == 29
    for ch in WHITESPACE:
        assert f"a{ch}b".split() == ["a", "b"], hex(ord(ch))
    for ch in "\u200b\ufeff\u180e":
        assert len(f"a{ch}b".split()) == 1


def test_re_s_is_str_isspace_over_every_code_point() -> None:
    """The str chunker finds whitespace with ``\\s``: it must agree with ``str.isspace``."""
    pattern = re.compile(r"\s")
    disagree = [cp for cp in range(sys.maxunicode + 1)
                if bool(pattern.match(chr(cp))) != chr(cp).isspace()]
    assert disagree == []


def test_utf8_whitespace_matches_start_on_character_boundaries() -> None:
    """The bytes chunker's matches are whole characters: every whitespace encoding starts with
    an ASCII or a lead byte, never a continuation byte, and the pattern matches each entire."""
    for ch in WHITESPACE:
        raw = ch.encode()
        assert raw[0] < 0x80 or raw[0] >= 0xC0
        match = _UTF8_SPACE.match(raw)
        assert match is not None and match.end() == len(raw), hex(ord(ch))
    non_space = "".join(chr(cp) for cp in range(0x3100) if not chr(cp).isspace()
                        and not 0xD800 <= cp <= 0xDFFF)
    assert _UTF8_SPACE.search(non_space.encode()) is None


def check_spans(data: str | bytes, chunks: int) -> list[tuple[int, int]]:
    """``chunk_spans`` obeys its contract on ``data``; returns the spans."""
    spans = chunk_spans(data, chunks)
    n = len(data)
    assert 1 <= len(spans) <= chunks
    if n == 0:
        assert spans == [(0, 0)]
        return spans
    assert spans[0][0] == 0 and spans[-1][1] == n
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end == start
    for start, end in spans:
        assert start < end
    for _, cut in spans[:-1]:
        if isinstance(data, str):
            assert data[cut].isspace(), (cut, data[cut])
        else:
            data[:cut].decode()  # raises unless the cut falls between whole characters
            assert data[cut:].decode()[0].isspace(), cut
    whole = data if isinstance(data, str) else data.decode()
    pieces = [data[a:b] if isinstance(data, str) else data[a:b].decode() for a, b in spans]
    assert sum(len(p.split()) for p in pieces) == len(whole.split())
    return spans


@given(text=texts(), chunks=st.integers(1, 12))
@settings(max_examples=400, deadline=None)
def test_spans_str(text: str, chunks: int) -> None:
    check_spans(text, chunks)


@given(text=texts(), chunks=st.integers(1, 12))
@settings(max_examples=400, deadline=None)
def test_spans_utf8_bytes(text: str, chunks: int) -> None:
    check_spans(text.encode(), chunks)


@given(text=texts(max_tokens=8), extra=st.integers(0, 20))
@settings(max_examples=100, deadline=None)
def test_more_chunks_than_words(text: str, extra: int) -> None:
    """Asking for more chunks than there are characters merges the surplus cuts."""
    check_spans(text, len(text) + 1 + extra)
    check_spans(text.encode(), len(text.encode()) + 1 + extra)


@pytest.mark.parametrize("chunks", [1, 2, 3, 7])
def test_long_word_is_never_cut(chunks: int) -> None:
    text = "x" * 100 + " y"
    assert chunk_spans(text, chunks) == ([(0, 102)] if chunks == 1 else [(0, 100), (100, 102)])
    assert chunk_spans("x" * 50, chunks) == [(0, 50)]


def test_cut_moves_to_the_next_whitespace() -> None:
    # nominal cut at 5 falls inside "bbbbbb"; it moves to the space after it, at index 10
    assert chunk_spans("aaa bbbbbb ccc", 2) == [(0, 10), (10, 14)]
    data = "aaa\u3000bbbbbb\u2029ccc".encode()
    assert chunk_spans(data, 2) == [(0, data.index("\u2029".encode())),
                                    (data.index("\u2029".encode()), len(data))]


def test_chunks_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        chunk_spans("a b", 0)

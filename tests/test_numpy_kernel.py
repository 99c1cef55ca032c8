"""The numpy kernel equals ``len(text.split())`` exactly, wherever its block boundaries fall.

The exactness tests run over the native kernel too (where it was built), whose SIMD blocks are
fixed at 64 bytes: ``block`` does not apply to it. ``tests/test_native.py`` has its own.
"""

from __future__ import annotations

import mmap
import threading
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wcbench import corpus
from wordcount.errors import InvalidUTF8Error
from wordcount.kernels import release_working_memory
from wordcount.kernels.native_kernel import UNAVAILABLE, count_native
from wordcount.kernels.numpy_kernel import BLOCK_BYTES, count_numpy
from wordcount.text import WHITESPACE


def native(data: object, start: int = 0, end: int | None = None, *, block: int = 0) -> int:
    """The native kernel with the numpy kernel's signature (``block`` ignored)."""
    assert count_native is not None
    return count_native(data, start, end)


#: Kernels the exactness tests hold for.
KERNELS = [
    pytest.param(count_numpy, id="numpy"),
    pytest.param(native, id="native", marks=pytest.mark.skipif(
        count_native is None, reason=f"native kernel not built: {UNAVAILABLE}")),
]
exact = pytest.mark.parametrize("kernel", KERNELS)

# Characters chosen to stress the kernel: every whitespace code point, the look-alikes that are NOT
# whitespace (U+200B, U+FEFF, U+180E), control bytes that are not whitespace but sort below the
# space, characters sharing lead bytes with multi-byte whitespace (U+00A1 after C2, U+2010 and
# U+20AC after E2, U+3001 after E3, U+1681 after E1), other 2-, 3- and 4-byte characters.
TRICKY = [
    *WHITESPACE, "\u200b", "\ufeff", "\u180e", "\x00", "\x08", "\x0e", "\x1b", "\x7f",
    "\u00a1", "\u00bf", "\u2010", "\u20ac", "\u202a", "\u2060", "\u3001", "\u1681", "\u0080",
    "é", "ж", "中", "語", "\U0001f600", "\U0010ffff", "a", "b", "Z", "1", ".",
]
chars = st.one_of(st.sampled_from(TRICKY), st.characters(codec="utf-8"))
texts = st.lists(chars, max_size=60).map("".join)
blocks = st.integers(min_value=1, max_value=16)


def expected(text: str) -> int:
    return len(text.split())


def views(kernel, raw: bytes) -> list[bytes | memoryview]:
    """``raw``, and for the numpy kernel a strided view of it too (the native kernel, like the
    API, takes contiguous bytes only)."""
    return [raw, strided(raw)] if kernel is count_numpy else [raw]


def strided(raw: bytes) -> memoryview:
    """A non-contiguous view holding ``raw``: every other byte of a larger buffer."""
    buffer = bytearray(2 * len(raw))
    buffer[::2] = raw
    return memoryview(buffer)[::2]


@exact
@settings(max_examples=300, deadline=None)
@given(text=texts, block=blocks)
def test_str_bytes_bytearray_memoryview_equal_str_split(kernel, text: str, block: int) -> None:
    raw = text.encode("utf-8")
    want = expected(text)
    for data in (text, bytearray(raw), memoryview(raw), *views(kernel, raw)):
        got = kernel(data, block=block)
        assert type(got) is int
        assert got == want, (type(data).__name__, block)


@exact
@settings(max_examples=200, deadline=None)
@given(text=texts, block=blocks, data=st.data())
def test_sub_ranges_on_character_boundaries(kernel, text: str, block: int,
                                            data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, len(text)))
    want = expected(text[i:j])
    assert kernel(text, i, j, block=block) == want
    # The same range in bytes: offsets of the i-th and j-th characters.
    start, end = len(text[:i].encode()), len(text[:j].encode())
    assert kernel(text.encode(), start, end, block=block) == want


@exact
@settings(max_examples=100, deadline=None)
@given(text=st.lists(st.one_of(chars, st.sampled_from(["\ud800", "\udfff"])), max_size=40)
       .map("".join), block=blocks)
def test_str_with_lone_surrogates(kernel, text: str, block: int) -> None:
    """A ``str`` may hold surrogates that UTF-8 cannot; ``str.split`` treats them as letters."""
    assert kernel(text, block=block) == expected(text)


@pytest.mark.parametrize("text", ["", " ", "\u3000\u2028\x1c\x85\xa0\t\n", WHITESPACE * 3])
@pytest.mark.parametrize("block", [1, 2, 3, 7, BLOCK_BYTES])
@exact
def test_empty_and_whitespace_only(kernel, text: str, block: int) -> None:
    assert kernel(text, block=block) == 0
    assert kernel(text.encode(), block=block) == 0


@pytest.mark.parametrize("text,words", [
    ("a\u200bb", 1), ("a\ufeffb", 1), ("a\u180eb", 1), ("a\u0085b", 2), ("a\x1cb\x1fc", 3),
    ("a\x00b\x0ec\x1bd", 1), ("a\u00a0b\u2003c\u3000d\u2028e", 5), ("\u00a1\u2010\u3001", 1),
])
@exact
def test_whitespace_and_look_alikes(kernel, text: str, words: int) -> None:
    assert expected(text) == words
    for block in (1, 2, 3, 4, 5, BLOCK_BYTES):
        assert kernel(text, block=block) == words
        assert kernel(text.encode(), block=block) == words


BAD_PIECES = [
    b"\x80", b"\xbf", b"\xc2", b"\xe2\x80", b"\xf0\x9f\x98", b"\xc0\xaf", b"\xc1\xbf",
    b"\xe0\x80\xaf", b"\xe0\x9f\xbf", b"\xf0\x80\x80\xaf", b"\xf0\x8f\xbf\xbf", b"\xed\xa0\x80",
    b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8", b"\xfe", b"\xff",
    b"\xe2\x28\xa1", b"\xc2\x41",
]
GOOD_PIECES = [b"a", b" ", b"\n", b"\xc2\xa0", b"\xe2\x80\x83", b"\xe3\x80\x80", b"\xed\x9f\xbf",
               b"\xf0\x9f\x98\x80", b"\xf4\x8f\xbf\xbf", b"\xe0\xa0\x80", b"\xc3\xa9"]


def check_matches_decoder(raw: bytes, block: int, start: int = 0, kernel=count_numpy) -> None:
    try:
        want = expected(raw[start:].decode("utf-8"))
    except UnicodeDecodeError as exc:
        for data in views(kernel, raw):
            with pytest.raises(InvalidUTF8Error) as caught:
                kernel(data, start, block=block)
            assert (caught.value.offset, caught.value.reason) == (exc.start, exc.reason)
            assert isinstance(caught.value, ValueError)
    else:
        for data in views(kernel, raw):
            assert kernel(data, start, block=block) == want


@exact
@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(GOOD_PIECES + BAD_PIECES), max_size=12), block=blocks)
def test_invalid_utf8_names_the_first_bad_byte_like_the_decoder(kernel, pieces: list[bytes],
                                                                 block: int) -> None:
    check_matches_decoder(b"".join(pieces), block, kernel=kernel)


@pytest.mark.parametrize("bad", BAD_PIECES)
@pytest.mark.parametrize("prefix", [0, 1, 2, 3, 5, 8])
@pytest.mark.parametrize("block", [1, 2, 3, 4, 6, 8, 1024])
@exact
def test_each_invalid_sequence_at_every_block_position(kernel, bad: bytes, prefix: int,
                                                       block: int) -> None:
    """Bad bytes placed so that they straddle or end a block, after valid ASCII or 3-byte text."""
    check_matches_decoder(b"x" * prefix + bad + b" tail", block, kernel=kernel)
    check_matches_decoder("中" .encode() * prefix + bad, block, kernel=kernel)


@exact
def test_error_offset_is_relative_to_start(kernel) -> None:
    raw = b"abc def \xff ghi"
    with pytest.raises(InvalidUTF8Error) as caught:
        kernel(raw, 4, block=2)
    assert caught.value.offset == 4
    assert kernel(raw, 0, 8) == 2  # the bad byte lies outside this range


@exact
def test_invalid_utf8_late_in_a_large_input(kernel) -> None:
    raw = corpus.generate(3 << 20, "unicode") + b"\xe2\x82" + b" end"
    with pytest.raises(InvalidUTF8Error) as caught:
        kernel(raw, block=1 << 16)
    assert caught.value.offset == 3 << 20


@pytest.mark.parametrize("bad", [b"\xc0", b"\xc1", b"\xc0\x80", b"\xc1\xbf", b"\xc0\xc0\xc2"])
@pytest.mark.parametrize("at", [0, 1, 7, 8, 9, (1 << 20) - 3, (1 << 20) + 5])
@exact
def test_c0_c1_anywhere_in_a_large_non_ascii_block(kernel, bad: bytes, at: int) -> None:
    """``C0`` and ``C1`` (never valid) are found by the sparse lead search, alone or packed into
    one 64-bit word with other hits, among whitespace leads (``C2``, ``E1-E3``)."""
    raw = corpus.generate(2 << 20, "unicode", seed=3)
    cut = raw.rfind(b" ", 0, at + 1) + 1 if at else 0  # on a character boundary
    check_matches_decoder(raw[:cut] + bad + b"\xc2\xa0 x" + raw[cut:], BLOCK_BYTES, kernel=kernel)


@pytest.mark.parametrize("flavour", corpus.FLAVOURS)
@pytest.mark.parametrize("block", [1000, 4093, 1 << 16, BLOCK_BYTES])
@exact
def test_corpus_counts_exactly(kernel, flavour: str, block: int) -> None:
    raw = corpus.generate(1 << 20, flavour, seed=7)
    text = raw.decode()
    want = expected(text)
    assert kernel(raw, block=block) == want
    assert kernel(text, block=block) == want


@exact
def test_mmap_input_and_closing_it_after_an_error(kernel, tmp_path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes("one two\u3000three \xff".encode() + b"\xff")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert kernel(m, 0, len(m) - 1, block=3) == 4
        with pytest.raises(InvalidUTF8Error):
            kernel(m, block=3)
    # Leaving the with-block closed the map: no view of it outlived the call.


def test_threads_counting_at_once_share_no_buffers() -> None:
    texts = [corpus.generate(300_000 + 1000 * i, corpus.FLAVOURS[i % 2], seed=i)
             for i in range(4)]
    want = [expected(t.decode()) for t in texts]
    results: dict[int, list[int]] = {}

    def work(i: int) -> None:
        results[i] = [count_numpy(texts[i], block=b) for b in (4093, 65536, 999_983)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: [want[i]] * 3 for i in range(4)}


@pytest.mark.parametrize("flavour", corpus.FLAVOURS)
@pytest.mark.parametrize("as_str", [False, True])
def test_memory_is_bounded_by_the_block_not_the_input(flavour: str, as_str: bool) -> None:
    raw = corpus.generate(4 << 20, flavour)
    data = raw.decode() if as_str else raw
    block = 1 << 14
    counts: list[int] = []
    worker = threading.Thread(target=lambda: counts.append(count_numpy(data, block=block)))
    release_working_memory()  # so the call allocates (and tracemalloc sees) its scratch buffers
    tracemalloc.start()
    try:
        worker.start()
        worker.join()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert counts == [expected(raw.decode())]
    # Scratch buffers and an encoded str block are a few blocks (4 bytes per code point at most).
    assert peak < 24 * block, peak
    assert peak < len(raw) // 8


@pytest.mark.parametrize("block", [0, -1, 1.5, True])
def test_bad_block_raises(block: object) -> None:
    with pytest.raises(ValueError):
        count_numpy("a b", block=block)  # type: ignore[arg-type]


def test_default_range_and_slicing_semantics() -> None:
    text = "alpha beta gamma delta"
    assert count_numpy(text) == 4
    assert count_numpy(text, 6) == 3
    assert count_numpy(text, 6, 10) == 1
    assert count_numpy(text, 10, 6) == 0
    assert count_numpy(text.encode(), 0, None) == 4

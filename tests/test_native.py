"""The native kernel: exact on every path its CPU can run, in place, and without the GIL.

Every test runs over each instruction set of ``_native.ISAS`` (AVX-512, AVX2, SSE2 and plain C on
x86-64, as far as the CPU has them), so the fallbacks are checked on a machine that would never
pick them. They are skipped only when the extension could not be built, with the reason; with
``CI`` or ``WORDCOUNT_REQUIRE_NATIVE`` set (``make test`` sets the latter) a missing extension is a
failure instead.
"""

from __future__ import annotations

import itertools
import mmap
import os
import pickle
import subprocess
import sys
import threading
import tracemalloc
from multiprocessing import shared_memory

import pytest
from helpers import utf8_verdict as expected
from hypothesis import given, settings
from hypothesis import strategies as st

from wcbench import corpus
from wordcount.errors import InvalidUTF8Error
from wordcount.kernels import native_kernel
from wordcount.text import WHITESPACE, chunk_spans

REQUIRED = bool(os.environ.get("CI") or os.environ.get("WORDCOUNT_REQUIRE_NATIVE"))
needs_native = pytest.mark.skipif(native_kernel.count_native is None,
                                  reason=f"native kernel not built: {native_kernel.UNAVAILABLE}")
ISAS = native_kernel.ISAS or ("unavailable",)

MULTIBYTE_SPACES = [c for c in WHITESPACE if ord(c) >= 0x80]
#: Not whitespace, but sharing a lead byte (and often a second) with multi-byte whitespace.
NEIGHBOURS = ["\u0084", "\u0086", "\u009f", "\u00a1", "\u00bf", "\u1681", "\u167f", "\u1f80",
              "\u200b", "\u200c", "\u2010", "\u2027", "\u202a", "\u202e", "\u2030", "\u205e",
              "\u2060", "\u2f80", "\u3001", "\u3080", "\u180e", "\ufeff", "\u0100",
              # bytes equal to a pattern's but for the top two bits of its first one (the AVX-512
              # lookups index by the low six): A1-A3 or 82 inside a longer character
              "\U00021680", "\U00022000", "\U0002200a", "\U00022028", "\U0002205f",
              "\U00023000", "\u1085", "\u10a0", "\U00010085"]
#: Filler words: ASCII (blocks take the ASCII path), 2-, 3- and 4-byte characters (they do not).
FILLERS = ["a", "é", "中", "\U0001f600"]
BAD_PIECES = [b"\x80", b"\xbf", b"\xc2", b"\xe2\x80", b"\xf0\x9f\x98", b"\xc0\xaf", b"\xc1\xbf",
              b"\xe0\x80\xaf", b"\xe0\x9f\xbf", b"\xf0\x80\x80\xaf", b"\xf0\x8f\xbf\xbf",
              b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8",
              b"\xfe", b"\xff", b"\xe2\x28\xa1", b"\xc2\x41", b"\xe1\x9a", b"\xe3\x80"]


def count(isa: str, data: object, start: int | None = None, end: int | None = None) -> int:
    from wordcount.kernels import _native

    return _native.count_isa(isa, data, start, end)


def verdict(isa: str, data: object, start: int | None = None,
            end: int | None = None) -> int | tuple[int, str]:
    try:
        return count(isa, data, start, end)
    except InvalidUTF8Error as exc:
        return exc.offset, exc.reason


def test_native_kernel_is_built_where_required() -> None:
    """Where a build is expected (CI, ``make test``), a missing extension fails; elsewhere the
    kernel's absence is reported as a skip with the reason."""
    if native_kernel.count_native is None:
        if REQUIRED:
            pytest.fail(f"the native kernel is required here but {native_kernel.UNAVAILABLE}")
        pytest.skip(f"native kernel not built: {native_kernel.UNAVAILABLE}")
    import wordcount

    assert "native" in wordcount.KERNELS
    assert native_kernel.ISA in native_kernel.ISAS


def test_without_the_extension_the_package_works_and_says_why() -> None:
    """A fresh interpreter where the extension cannot be imported (as where it was not built)."""
    probe = """
import sys
sys.modules["wordcount.kernels._native"] = None  # what an unbuilt extension looks like
import wordcount
assert "native" not in wordcount.KERNELS, wordcount.KERNELS
assert wordcount.count_words("a b\\u3000c", kernel="numpy") == 3
try:
    wordcount.count_words("a b", kernel="native")
except ValueError as exc:
    print(exc)
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    message = result.stdout.strip()
    assert message.startswith("kernel 'native' is not available in this install: its C "
                              "extension was not built"), message
    assert "choose one of: split, numpy" in message


@needs_native
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("filler", FILLERS)
def test_every_multibyte_separator_at_every_alignment(isa: str, filler: str) -> None:
    """Each multi-byte whitespace character and each look-alike, at every byte offset of a
    64-byte block (first, middle and last block, and straddling them), in str and bytes, whole
    and cut into chunks as the executors cut them."""
    for ch, pad, width in itertools.product(MULTIBYTE_SPACES + NEIGHBOURS, range(3), (1, 7)):
        for at in range(0, 140, 1 if pad == 0 else 5):
            head = "b" * (at % 3 if filler != "a" else 0) + filler * (at // len(filler.encode()))
            text = head + ch + filler * width + "z" * pad + " " + filler * (40 + pad)
            raw = text.encode()
            want = len(text.split())
            assert count(isa, raw) == want, (ch, at, pad)
            assert count(isa, text) == want, (ch, at, pad)
            cut = len(head.encode())  # the separator right at a range's start, and at its end
            assert count(isa, raw, cut) == len(raw[cut:].decode().split()), (ch, at)
            assert count(isa, raw, 0, cut + len(ch.encode())) == len((head + ch).split()), (ch, at)
            for chunks in (2, 3):
                spans = chunk_spans(raw, chunks)
                assert sum(count(isa, raw, a, b) for a, b in spans) == want, (ch, at, chunks)


@needs_native
@pytest.mark.parametrize("isa", ISAS)
def test_runs_of_separators_across_block_boundaries(isa: str) -> None:
    for ch, run, at in itertools.product(MULTIBYTE_SPACES, (2, 5), range(40, 140, 3)):
        text = "x" * at + ch * run + "y" + "é" * 30 + ch + "w"
        assert count(isa, text.encode()) == len(text.split()) == count(isa, text)


def _boundary(raw: bytes, at: int) -> int:
    while raw[at] & 0xC0 == 0x80:
        at -= 1
    return at


@needs_native
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("filler", FILLERS)
def test_separators_and_errors_deep_in_a_long_text(isa: str, filler: str) -> None:
    """Past the first 4 KiB the loops run without copies or bounds checks (AVX-512 two blocks a
    turn, from the first 64-byte boundary on): each separator, look-alike and invalid piece at
    every offset of two blocks there, the text starting at several alignments."""
    unit = (filler + " " + filler * 2 + "\n").encode()
    base = unit * (12000 // len(unit))
    for piece in [c.encode() for c in MULTIBYTE_SPACES + NEIGHBOURS] + BAD_PIECES:
        for at in range(8192, 8192 + 132, 1 if len(piece) > 1 else 3):
            cut = _boundary(base, at)
            raw = base[:cut] + piece + base[cut:]
            want = expected(raw)
            for shift in (0, 1, 31):
                assert verdict(isa, b"x" * shift + raw, shift) == want, (piece, at, shift)


@needs_native
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("bad", BAD_PIECES)
def test_invalid_utf8_at_every_alignment_like_the_decoder(isa: str, bad: bytes) -> None:
    for filler, at in itertools.product(("a", "é", "中 "), range(0, 140, 1)):
        head = (filler * 70).encode()[:at]
        head = head.decode("utf-8", "ignore").encode()  # back to a character boundary
        for raw in (head + bad, head + bad + b" tail" * 20, head + b" " + bad + "中".encode()):
            assert verdict(isa, raw) == expected(raw), (raw, len(head))


@needs_native
@pytest.mark.parametrize("isa", ISAS)
@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.one_of(st.sampled_from(BAD_PIECES), st.text(max_size=8).map(str.encode),
                                 st.sampled_from([c.encode() for c in WHITESPACE + "é中"])),
                       max_size=40),
       start=st.integers(0, 4))
def test_random_bytes_equal_the_decoder(isa: str, pieces: list[bytes], start: int) -> None:
    raw = b"".join(pieces)
    assert verdict(isa, raw, start) == expected(raw[start:])
    assert verdict(isa, bytearray(raw), start) == expected(raw[start:])


@needs_native
@pytest.mark.parametrize("isa", ISAS)
@settings(max_examples=300, deadline=None)
@given(text=st.text(st.one_of(st.sampled_from(WHITESPACE + "".join(NEIGHBOURS) + "ab"),
                              st.characters()), max_size=200),
       data=st.data())
def test_str_of_every_kind_equals_str_split(isa: str, text: str, data: st.DataObject) -> None:
    """Latin-1, UCS-2 and UCS-4 storage (lone surrogates included), any sub-range."""
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, len(text)))
    assert count(isa, text) == len(text.split())
    assert count(isa, text, i, j) == len(text[i:j].split())
    wide = text + "\U0001f600"  # the same text stored four bytes a code point
    assert count(isa, wide, i, j) == len(text[i:j].split())


@needs_native
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("flavour", corpus.FLAVOURS)
def test_corpus_in_chunks(isa: str, flavour: str) -> None:
    raw = corpus.generate(1 << 20, flavour, seed=11)
    text = raw.decode()
    want = len(text.split())
    assert count(isa, raw) == want == count(isa, text)
    for chunks in (2, 7):
        assert sum(count(isa, raw, a, b) for a, b in chunk_spans(raw, chunks)) == want
        assert sum(count(isa, text, a, b) for a, b in chunk_spans(text, chunks)) == want


@needs_native
def test_slicing_semantics_and_argument_errors() -> None:
    count_native = native_kernel.count_native
    text = "alpha beta gamma delta"
    assert count_native(text) == 4
    assert count_native(text, 6) == 3
    assert count_native(text, 6, 10) == 1
    assert count_native(text, 10, 6) == 0
    assert count_native(text, -5) == 1
    assert count_native(text.encode(), 0, None) == 4
    assert count_native(text.encode(), end=10**30) == 4
    with pytest.raises(TypeError):
        count_native(text, 1.5)
    with pytest.raises(TypeError):
        count_native(12)
    with pytest.raises(TypeError, match="contiguous"):
        count_native(memoryview(text.encode())[::2])
    assert pickle.loads(pickle.dumps(count_native)) is count_native
    with pytest.raises(InvalidUTF8Error) as caught:
        count_native(b"abc def \xff ghi", 4)
    assert (caught.value.offset, caught.value.reason) == (4, "invalid start byte")


@needs_native
def test_mmap_and_shared_memory_in_place(tmp_path) -> None:
    raw = corpus.generate(300_000, "unicode", seed=5)
    want = len(raw.decode().split())
    path = tmp_path / "t.txt"
    path.write_bytes(raw + b"\xff")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert native_kernel.count_native(m, 0, len(raw)) == want
        with pytest.raises(InvalidUTF8Error):
            native_kernel.count_native(m)
    # Leaving the with-block closed the map: no buffer export outlived the calls.
    shm = shared_memory.SharedMemory(create=True, size=len(raw))
    try:
        shm.buf[: len(raw)] = raw
        assert native_kernel.count_native(shm.buf, 0, len(raw)) == want
    finally:
        shm.close()
        shm.unlink()


@needs_native
@pytest.mark.parametrize("as_str", [False, True])
def test_counts_in_place_without_allocating(as_str: bool) -> None:
    """No copy and no encoding of a ``str`` (tracemalloc sees every Python allocation)."""
    raw = corpus.generate(4 << 20, "unicode")
    data = raw.decode() if as_str else raw
    tracemalloc.start()
    try:
        native_kernel.count_native(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4096, peak


@needs_native
def test_releases_the_gil_while_counting() -> None:
    """With a switch interval of an hour, a thread that holds the GIL keeps it: the main thread
    can only run while the counting thread is inside the kernel if the kernel released it."""
    raw = corpus.generate(8 << 20, "ascii")
    rounds, done = 200, []
    started = threading.Event()

    def counter() -> None:
        started.set()
        for _ in range(rounds):
            native_kernel.count_native(raw)
            done.append(1)

    old = sys.getswitchinterval()
    sys.setswitchinterval(3600)
    try:
        worker = threading.Thread(target=counter)
        worker.start()
        started.wait()
        finished_when_main_ran = len(done)  # the main thread runs again here
        worker.join()
    finally:
        sys.setswitchinterval(old)
    assert finished_when_main_ran < rounds

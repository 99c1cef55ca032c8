"""The native kernel across its blocks, on every instruction set the CPU runs, and its read limit.

The SIMD kernels work on 32- and 64-byte blocks and carry state from one to the next (a
character's bytes in two blocks, a word start taken back when its first byte turns out to begin
a whitespace character that ends in the next block). These properties put every whitespace code
point, its look-alikes and every kind of invalid UTF-8 at any offset of the first few blocks,
under any chunk cut, and compare with ``str.split`` and ``bytes.decode``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
from helpers import utf8_verdict as expected
from hypothesis import given, settings
from hypothesis import strategies as st

from wordcount import bandwidth
from wordcount.errors import InvalidUTF8Error
from wordcount.kernels import native_kernel
from wordcount.text import WHITESPACE, chunk_spans

needs_native = pytest.mark.skipif(native_kernel.count_native is None,
                                  reason=f"native kernel not built: {native_kernel.UNAVAILABLE}")
ISAS = native_kernel.ISAS or ("unavailable",)

#: Not whitespace: zero-width and format characters, and code points sharing one or two bytes
#: with a whitespace character's encoding.
LOOKALIKES = "\u200b\ufeff\u180e\u2060\u200c\u200d\u0084\u0086\u00a1\u1681\u169a\u2010\u200f" \
             "\u2027\u202a\u202e\u2030\u205e\u2060\u3001\u3080\u0100\u0180\u1f80\ue000\uff0c"
LETTERS = "az\u00e9\u0436\u05d0\u0627\u4e2d\uac00\U0001f600\U0010fffd"
#: Invalid UTF-8 of each kind bytes.decode names: stray continuations, truncated sequences,
#: overlongs, surrogates, above U+10FFFF, bytes that never occur.
BAD = [b"\x80", b"\xbf", b"\xc2", b"\xe2\x80", b"\xe3\x80", b"\xe1\x9a", b"\xf0\x9f\x98",
       b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xf0\x80\x80\x80",
       b"\xf0\x8f\xbf\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80",
       b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xfe", b"\xff", b"\xc2\x20",
       b"\xe2\x80\x20", b"\xe2\x20\x80", b"\xc2\xa0\xa0", b"\xe3\x80\x80\x80"]

symbols = st.sampled_from(WHITESPACE + LOOKALIKES + LETTERS)
texts = st.lists(st.one_of(symbols, st.text(st.characters(codec="utf-8"), max_size=3)),
                 max_size=90).map("".join)
#: Padding before the interesting part, so it lands at every offset of a 64-byte block.
pads = st.tuples(st.integers(0, 130), st.sampled_from("a \u00e9\u4e2d"))


def count(isa: str, data: object, start: int | None = None, end: int | None = None) -> int:
    from wordcount.kernels import _native

    return _native.count_isa(isa, data, start, end)


def verdict(isa: str, raw: bytes) -> int | tuple[int, str]:
    try:
        return count(isa, raw)
    except InvalidUTF8Error as exc:
        return exc.offset, exc.reason


@needs_native
@settings(max_examples=1500, deadline=None)
@given(pad=pads, body=texts, chunks=st.integers(1, 5))
def test_any_text_at_any_offset_on_every_isa(pad: tuple[int, str], body: str,
                                             chunks: int) -> None:
    width, filler = pad
    text = filler * width + body
    raw = text.encode()
    want = len(text.split())
    spans = chunk_spans(raw, chunks)
    str_spans = chunk_spans(text, chunks)
    for isa in ISAS:
        assert count(isa, raw) == want, isa
        assert count(isa, text) == want, isa
        assert sum(count(isa, raw, a, b) for a, b in spans) == want, isa
        assert sum(count(isa, text, a, b) for a, b in str_spans) == want, isa


@needs_native
@settings(max_examples=1500, deadline=None)
@given(pad=pads, head=texts, bad=st.sampled_from(BAD), tail=texts,
       cut=st.integers(0, 4))
def test_invalid_utf8_anywhere_on_every_isa(pad: tuple[int, str], head: str, bad: bytes,
                                            tail: str, cut: int) -> None:
    """The first bad byte and the reason, as bytes.decode gives them, wherever the bad bytes
    fall in a block, also when the text ends inside them."""
    width, filler = pad
    raw = (filler * width + head).encode() + bad + tail.encode()
    raw = raw[: len(raw) - cut] if cut and len(raw) > cut else raw
    want = expected(raw)
    for isa in ISAS:
        assert verdict(isa, raw) == want, isa


@needs_native
@pytest.mark.parametrize("isa", ISAS)
def test_whitespace_pairs_straddling_every_block_boundary(isa: str) -> None:
    """Each ordered pair of whitespace characters (and one with a look-alike) placed so that the
    first, the second or both cut a 64-byte block boundary, after a word and after a space."""
    multi = [c for c in WHITESPACE if ord(c) >= 0x80] + [" ", "\u200b", "\u3001"]
    for first in multi:
        for second in multi:
            for lead in ("x", " ", "\u00e9"):
                for shift in range(58, 66):
                    text = "y" * (shift - len(lead.encode())) + lead + first + second + "z é"
                    assert count(isa, text.encode()) == len(text.split()), (first, second, shift)
                    assert count(isa, text) == len(text.split()), (first, second, shift)


def test_the_isa_can_be_forced_for_the_whole_process() -> None:
    """WORDCOUNT_NATIVE_ISA caps the instruction set every count uses (tests and benchmarks of a
    lower level); a name the CPU cannot run warns and keeps the best."""
    if native_kernel.count_native is None:
        pytest.skip(f"native kernel not built: {native_kernel.UNAVAILABLE}")
    probe = ("import warnings; warnings.simplefilter('always')\n"
             "from wordcount.kernels import _native; print(_native.ISA)")
    for isa in native_kernel.ISAS:
        env = {**os.environ, "WORDCOUNT_NATIVE_ISA": isa}
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                             text=True, timeout=60, check=True)
        assert out.stdout.strip() == isa
    env = {**os.environ, "WORDCOUNT_NATIVE_ISA": "mmx"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == native_kernel.ISA
    assert "WORDCOUNT_NATIVE_ISA=mmx is not an instruction set" in out.stderr


@needs_native
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_read_rounds_reads_any_buffer(threads: int) -> None:
    from wordcount.kernels import _native

    data = bytes(range(256)) * 4099
    for view in (b"", b"x", data[:63], data[:65], memoryview(data)[1:], bytearray(data)):
        times = _native.read_rounds(view, threads, 3)
        assert len(times) == 3 and all(t >= 0 for t in times)
    with pytest.raises(ValueError):
        _native.read_rounds(data, 0)
    with pytest.raises(TypeError):
        _native.read_rounds("text")


def test_read_limit_labels_cache_and_memory(tmp_path) -> None:
    data = bytes(1 << 16)
    small = bandwidth.read_limit(data, threads=2, rounds=3, llc=1 << 20)
    assert (small.nbytes, small.threads, small.level) == (1 << 16, 2, "cache")
    assert small.seconds <= small.median_seconds and small.gb_per_s > 0
    assert small.method == (bandwidth.NATIVE if native_kernel.count_native else
                            bandwidth.FALLBACK)
    assert bandwidth.read_limit(data, rounds=1, llc=1 << 16).level == "memory"
    assert small.label.startswith("cache read, 2 threads")
    # the cache's size as sysfs gives it: the highest level that is not an instruction cache
    for i, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"),
                                             (2, "Unified", "1024K"), (3, "Unified", "32768K")]):
        index = tmp_path / f"index{i}"
        index.mkdir()
        (index / "level").write_text(f"{level}\n")
        (index / "type").write_text(f"{kind}\n")
        (index / "size").write_text(f"{size}\n")
    assert bandwidth.last_level_cache(tmp_path) == 32 << 20
    assert bandwidth.last_level_cache(tmp_path / "missing") is None
    assert bandwidth.level_of(1 << 30, llc=None) in ("cache", "memory")


def test_read_limit_without_the_extension_is_numpy_labelled_as_fallback() -> None:
    probe = """
import sys
sys.modules["wordcount.kernels._native"] = None
from wordcount import bandwidth
limit = bandwidth.read_limit(bytes(1 << 20), threads=2, rounds=2)
print(limit.method == bandwidth.FALLBACK, "fallback" in limit.label, limit.gb_per_s > 0)
"""
    with warnings.catch_warnings():
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             timeout=60, check=True)
    assert out.stdout.split() == ["True", "True", "True"]

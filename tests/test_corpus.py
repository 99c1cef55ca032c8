"""The benchmark corpus: deterministic, exactly sized, valid UTF-8, realistic, cached."""

from __future__ import annotations

import collections
import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wcbench import corpus

SMALL = 200_000


@pytest.fixture(scope="module")
def unicode_text() -> str:
    return corpus.generate(1 << 20, "unicode").decode("utf-8")


@pytest.fixture(scope="module")
def ascii_text() -> str:
    return corpus.generate(1 << 20, "ascii").decode("utf-8")


@pytest.mark.parametrize("flavour", corpus.FLAVOURS)
def test_same_seed_same_bytes_other_seed_differs(flavour: str) -> None:
    first = corpus.generate(SMALL, flavour, seed=3)
    assert corpus.generate(SMALL, flavour, seed=3) == first
    assert corpus.generate(SMALL, flavour, seed=4) != first
    assert corpus.generate(SMALL, flavour, seed=3) != corpus.generate(SMALL, "ascii", seed=5)


@pytest.mark.parametrize("flavour", corpus.FLAVOURS)
@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 1000, 4097, 65_537])
def test_exact_size_and_valid_utf8(flavour: str, size: int) -> None:
    data = corpus.generate(size, flavour)
    assert isinstance(data, bytes)
    assert len(data) == size
    data.decode("utf-8")  # raises if a character was cut


def test_size_falling_inside_a_multibyte_character_is_padded_not_cut() -> None:
    data = corpus.generate(SMALL, "unicode")
    inside = [m.start() + 1 for m in re.finditer(rb"[\xc2-\xf4]", data[:50_000])][:5]
    assert inside, "the unicode corpus should hold multi-byte characters"
    for size in inside:
        cut = corpus.generate(size, "unicode")
        assert len(cut) == size
        assert cut.decode("utf-8").endswith("\n")


def test_corpus_larger_than_the_word_pool_is_exact_and_valid() -> None:
    size = corpus._POOL + (1 << 20) + 3
    data = corpus.generate(size, "unicode")
    assert len(data) == size
    text = data.decode("utf-8")
    assert "\u3000" in text[corpus._POOL :]
    assert data.startswith(corpus.generate(1 << 20, "unicode")[:-100])


def test_ascii_flavour_is_ascii_words_and_lines(ascii_text: str) -> None:
    assert ascii_text.isascii()
    words = ascii_text.split()
    lines = ascii_text.splitlines()
    assert 10 <= len(words) / len(lines) <= 15
    assert len(words) == len(ascii_text.encode().split())  # nothing bytes.split() misreads
    assert set(",.;:!?)") <= set(ascii_text)


def test_unicode_flavour_has_separators_lookalikes_and_non_ascii_words(unicode_text: str) -> None:
    for ch in ("\u00a0", "\u2003", "\u3000", "\u2028", "\u200b", "\ufeff"):
        assert ch in unicode_text, f"U+{ord(ch):04X} missing"
    words = unicode_text.split()
    non_ascii = sum(not w.isascii() for w in words) / len(words)
    assert 0.05 <= non_ascii <= 0.2
    scripts = {"greek": "[α-ω]", "cyrillic": "[а-я]", "cjk": "[\u4e00-\u9fff]", "accents": "[é-ü]"}
    for name, pattern in scripts.items():
        assert re.search(pattern, unicode_text), name
    # The look-alikes stay inside words: str.split() never splits on them.
    assert any("\u200b" in w and len(w) > 1 for w in words)
    # A kernel that only knows ASCII whitespace gets this text wrong.
    assert len(unicode_text.encode().split()) < len(words)


@pytest.mark.parametrize("flavour", corpus.FLAVOURS)
def test_word_lengths_and_zipf_frequencies(flavour: str, ascii_text: str,
                                           unicode_text: str) -> None:
    text = ascii_text if flavour == "ascii" else unicode_text
    words = [w.rstrip(",.;:!?)") for w in text.split()]
    lengths = np.array([len(w) for w in words])
    assert 4.5 <= lengths.mean() <= 7
    assert lengths.min() >= 1 and lengths.max() <= 12
    assert len(np.unique(lengths)) >= 8  # varied, not a constant
    freq = np.array(sorted(collections.Counter(words).values(), reverse=True), dtype=float)
    assert len(freq) > 5000  # a large vocabulary is in use
    ranks = np.arange(10, 1000)
    slope = np.polyfit(np.log(ranks + 1), np.log(freq[ranks]), 1)[0]
    assert -1.4 <= slope <= -0.7, slope  # Zipf: frequency about 1 / rank


def test_cache_is_written_once_and_read_back(tmp_path, monkeypatch) -> None:
    path = corpus.cached_path(50_000, "unicode", seed=2, cache_dir=tmp_path)
    assert path.parent == tmp_path
    assert path.read_bytes() == corpus.generate(50_000, "unicode", seed=2)
    for part in ("unicode", "50000", "seed2", f"v{corpus.GENERATOR_VERSION}"):
        assert part in path.name
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left

    def no_generation(*args: object) -> None:
        raise AssertionError("a cache hit must not generate")

    monkeypatch.setattr(corpus, "_iter_chunks", no_generation)
    assert corpus.cached_path(50_000, "unicode", seed=2, cache_dir=tmp_path) == path
    assert corpus.load(50_000, "unicode", seed=2, cache_dir=tmp_path) == path.read_bytes()


def test_cache_keys_differ_by_parameter(tmp_path) -> None:
    paths = {
        corpus.cached_path(1000, "ascii", 0, tmp_path),
        corpus.cached_path(1001, "ascii", 0, tmp_path),
        corpus.cached_path(1000, "unicode", 0, tmp_path),
        corpus.cached_path(1000, "ascii", 1, tmp_path),
    }
    assert len(paths) == 4


def test_truncated_cache_file_is_regenerated(tmp_path) -> None:
    path = corpus.cached_path(10_000, "ascii", 0, tmp_path)
    path.write_bytes(b"partial")
    assert corpus.load(10_000, "ascii", 0, tmp_path) == corpus.generate(10_000, "ascii", 0)


@pytest.mark.parametrize(("size", "flavour", "seed"), [
    (-1, "ascii", 0), (1.5, "ascii", 0), ("10", "ascii", 0), (True, "ascii", 0),
    (10, "latin1", 0), (10, "ASCII", 0), (10, "ascii", -1), (10, "ascii", 1.0),
])
def test_bad_arguments_raise_value_error(size: object, flavour: str, seed: object,
                                         tmp_path) -> None:
    with pytest.raises(ValueError):
        corpus.generate(size, flavour, seed)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        corpus.cached_path(size, flavour, seed, tmp_path)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("text", "expected"), [
    ("1000", 1000), ("0", 0), ("1B", 1), ("500kB", 500_000), ("500KB", 500_000),
    ("1KiB", 1024), ("1MiB", 1 << 20), ("64MiB", 64 << 20), ("1GiB", 1 << 30),
    ("2MB", 2_000_000), ("1GB", 10**9), ("64M", 64 << 20), ("4k", 4096), ("1.5KiB", 1536),
    (" 64 MiB ", 64 << 20), ("0.5MB", 500_000), ("64mib", 64 << 20),
])
def test_parse_size(text: str, expected: int) -> None:
    assert corpus.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MiB", "-1", "1e6", "64 XB", "1.0001kB", "0.3B", "1..2",
                                  "12 34"])
def test_parse_size_errors_say_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        corpus.parse_size(text)


@pytest.mark.parametrize(("n", "expected"), [
    (67108864, "64MiB"), (1 << 30, "1GiB"), (500_000, "500kB"), (1024, "1KiB"), (1000, "1kB"),
    (1234, "1234B"), (0, "0B"), (3 << 20, "3MiB"),
])
def test_format_size(n: int, expected: str) -> None:
    assert corpus.format_size(n) == expected


@given(st.integers(min_value=0, max_value=1 << 50))
def test_format_then_parse_round_trips(n: int) -> None:
    assert corpus.parse_size(corpus.format_size(n)) == n


@pytest.mark.parametrize("n", [-1, 1.5, True])
def test_format_size_rejects_non_sizes(n: object) -> None:
    with pytest.raises(ValueError):
        corpus.format_size(n)  # type: ignore[arg-type]


def test_load_holds_the_text_once(tmp_path) -> None:
    # The scale matrix loads up to 8 GiB: reading it must not pass through a second buffer.
    size = 16 << 20
    corpus.cached_path(size, "ascii", 0, tmp_path)
    tracemalloc.start()
    try:
        data = corpus.load(size, "ascii", 0, tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) == size
    assert size <= peak < size + (1 << 20), peak

"""Every kernel x executor x worker count (1..8) x start method gives exactly ``len(text.split())``.

Texts are Unicode, built by hypothesis from words and runs of all 29 whitespace code points, with
look-alikes that are not whitespace (U+200B, U+FEFF, U+180E...), plus empty and whitespace-only
texts; inputs are ``str`` and UTF-8 in ``bytes``, ``bytearray`` and ``memoryview``. Some byte
inputs carry invalid UTF-8 at a drawn place: then every combination must raise
``InvalidUTF8Error`` naming the same first offset as ``bytes.decode``.

Starting processes is slow (about 0.2 s each under spawn), so the many examples run in process
(kernels over chunk spans, the serial and threads executors) and each process executor and start
method gets a smaller number of examples of its own.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator

import pytest
from helpers import PROCESS_GRID, texts
from hypothesis import example, given, settings
from hypothesis import strategies as st

import wordcount
from wordcount import InvalidUTF8Error
from wordcount.executors import PROCESS_EXECUTORS, REFUSED, refusal
from wordcount.kernels import KERNEL_FUNCTIONS
from wordcount.text import WHITESPACE, chunk_spans

KINDS = ("str", "bytes", "bytearray", "memoryview")
#: Invalid UTF-8: stray continuation, impossible byte, truncated 2/3/4-byte characters, an
#: encoded surrogate, an overlong encoding, a code point beyond U+10FFFF.
BAD_UTF8 = (b"\x80", b"\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc0\xaf",
            b"\xf4\x90\x80\x80")
#: Examples per start method (each starts up to 8 processes; fork is cheap, spawn is not).
EXAMPLES = {"fork": 30, "forkserver": 10, "spawn": 8, None: 12}
#: Bad bytes in the 4th and 5th of five chunks (spans (59, 80) and (80, 99)): the chunk with the
#: later one may well report first, yet the call must name the earlier.
LATE_BAD_BYTES = b"a " * 33 + b"\xe2\x80" + b" b" * 8 + b"\xff" + b" c" * 7


def as_kind(text: str, kind: str) -> str | bytes | bytearray | memoryview:
    raw = text.encode()
    return {"str": text, "bytes": raw, "bytearray": bytearray(raw),
            "memoryview": memoryview(raw)}[kind]


def expected(data: str | bytes | bytearray | memoryview) -> int | InvalidUTF8Error:
    """What every combination must return (a count) or raise (the first bad byte's offset)."""
    if isinstance(data, str):
        return len(data.split())
    try:
        return len(bytes(data).decode("utf-8").split())
    except UnicodeDecodeError as exc:
        return InvalidUTF8Error(exc.start, exc.reason)


@st.composite
def inputs(draw: st.DrawFn, busy: bool = False) -> str | bytes | bytearray | memoryview:
    """A text in one of ``KINDS``; byte kinds sometimes with invalid UTF-8 inserted (anywhere,
    even inside a character), once or twice. ``busy``: texts of enough words for several chunks
    (the edge cases are then given as explicit examples)."""
    text = draw(texts(min_tokens=12, max_tokens=60, edge_cases=False) if busy else texts())
    kind = draw(st.sampled_from(KINDS))
    if kind == "str" or not draw(st.booleans()):
        return as_kind(text, kind)
    raw = text.encode()
    for _ in range(draw(st.integers(1, 2))):
        pos = draw(st.integers(0, len(raw)))
        raw = raw[:pos] + draw(st.sampled_from(BAD_UTF8)) + raw[pos:]
    return {"bytes": raw, "bytearray": bytearray(raw), "memoryview": memoryview(raw)}[kind]


def check(data: str | bytes | bytearray | memoryview, **how: object) -> None:
    """``count_words(data, **how)`` returns or raises what ``expected(data)`` says."""
    want = expected(data)
    if isinstance(want, InvalidUTF8Error):
        with pytest.raises(InvalidUTF8Error) as info:
            wordcount.count_words(data, **how)  # type: ignore[arg-type]
        assert info.value.offset == want.offset, (info.value, want)
    else:
        assert wordcount.count_words(data, **how) == want  # type: ignore[arg-type]


# --- in process: many examples ----------------------------------------------------------------


@given(data=inputs(), chunks=st.integers(1, 8))
@settings(max_examples=300, deadline=None)
def test_kernels_over_chunk_spans(data: str | bytes | bytearray | memoryview,
                                  chunks: int) -> None:
    """Each kernel over each span of ``chunk_spans``, as the executors call it, adds up exactly;
    a bad byte is reported relative to the span's start."""
    want = expected(data)
    spans = chunk_spans(data, chunks)
    for name, kernel in KERNEL_FUNCTIONS.items():
        if not isinstance(want, InvalidUTF8Error):
            assert kernel(data) == want, name
            assert sum(kernel(data, a, b) for a, b in spans) == want, name
            continue
        offsets = []
        for a, b in spans:
            try:
                kernel(data, a, b)
            except InvalidUTF8Error as exc:
                offsets.append(a + exc.offset)
        assert min(offsets) == want.offset, name


@example(data=LATE_BAD_BYTES, workers=5, kernel=wordcount.KERNELS[0], executor="threads")
@example(data=LATE_BAD_BYTES, workers=5, kernel=wordcount.KERNELS[-1], executor="threads")
@given(data=st.one_of(inputs(), inputs(busy=True)), workers=st.integers(1, 8),
       kernel=st.sampled_from(wordcount.KERNELS), executor=st.sampled_from(["serial", "threads"]))
@settings(max_examples=400, deadline=None)
def test_in_process_executors(data: str | bytes | bytearray | memoryview, workers: int,
                              kernel: str, executor: str) -> None:
    check(data, kernel=kernel, executor=executor, workers=1 if executor == "serial" else workers)


# --- worker processes: fewer examples per executor and start method --------------------------

#: Process executors under each start method, then executors of optional engines (Dask), which
#: take no start method.
WORKER_GRID = PROCESS_GRID + [
    (ex, None) for ex in wordcount.EXECUTORS
    if ex not in PROCESS_EXECUTORS and ex not in ("serial", "threads")
]


@pytest.fixture(scope="module")
def engines_closed() -> Iterator[None]:
    """Close the clusters optional engines keep for the life of the process (Dask's local one)
    after this module, so that no later test finds their worker processes in the tree."""
    yield
    dask_executor = sys.modules.get("wordcount.executors.dask_executor")
    if dask_executor is not None:
        dask_executor.close()


def kernels_for(executor: str) -> list[str]:
    """The kernels ``executor`` runs: all but those it refuses by design (numpy in
    subinterpreters; ``test_refused_kernels_are_refused`` checks the refusal itself)."""
    return [k for k in wordcount.KERNELS if refusal(k, executor) is None]


def _worker_test(executor: str, method: str | None) -> Callable[[], None]:
    """A hypothesis test of one executor and start method, with its own number of examples and
    the edge cases (empty, whitespace only, look-alikes only, bad byte in the last chunk) first."""
    kernels = kernels_for(executor)

    @example(data="", workers=8, kernel=kernels[0])
    @example(data=WHITESPACE.encode(), workers=8, kernel=kernels[-1])
    @example(data="\u200b\ufeff\u180e " * 20, workers=3, kernel=kernels[-1])
    @example(data=LATE_BAD_BYTES, workers=5, kernel=kernels[0])
    @given(data=inputs(busy=True), workers=st.integers(1, 8), kernel=st.sampled_from(kernels))
    @settings(max_examples=EXAMPLES[method], deadline=None)
    def run(data: str | bytes | bytearray | memoryview, workers: int, kernel: str) -> None:
        check(data, kernel=kernel, executor=executor, workers=workers, start_method=method)

    return run


@pytest.mark.parametrize(("executor", "method"), WORKER_GRID)
def test_worker_executors(engines_closed: None, executor: str, method: str | None) -> None:
    _worker_test(executor, method)()


@pytest.mark.parametrize(("kernel", "executor"),
                         [pair for pair in REFUSED if pair[1] in wordcount.EXECUTORS] or [
                             pytest.param(None, None, marks=pytest.mark.skip(
                                 reason="no executor of this Python refuses a kernel"))])
def test_refused_kernels_are_refused(kernel: str, executor: str) -> None:
    """What the property tests leave out is refused up front, with its reason."""
    with pytest.raises(ValueError, match=re.escape(REFUSED[(kernel, executor)])):
        wordcount.count_words("a b c", kernel=kernel, executor=executor, workers=2)

"""The ``interpreters`` executor: isolated subinterpreters (Python 3.13+), held to every promise.

Exact counts (hypothesis, split and native, str and bytes, 1-4 workers), invalid UTF-8 named by
its offset in the whole text, a raising kernel reported as ``WorkerError`` naming the chunk while
the others stop, Ctrl-C, numpy refused before any interpreter exists, and the memory figures
(the caller's peak holds the interpreters' allocations; what each interpreter's thread touched
is reported per chunk; copied bytes exact). After every test no interpreter but the main one is
left (``list_ids``). The CLI's signals are in ``test_interpreters_cli.py``.

These need a Python that has subinterpreters (3.13+); ``test_interpreters_elsewhere`` runs this
file and the CLI's under every such CPython the machine has.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import helpers
import interp_kernels
import pytest
from holding_kernel import MIB, holding_kernel
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_properties import LATE_BAD_BYTES, check, inputs

import wordcount
from wcbench.machine import gil_enabled
from wordcount import InvalidUTF8Error, WorkerError
from wordcount.executors import _subinterpreters as sub
from wordcount.measure import Measurement
from wordcount.transfer import TransferMeter

if "interpreters" not in wordcount.EXECUTORS:
    pytest.skip(f"this Python has none: {sub.UNAVAILABLE}; test_interpreters_elsewhere runs "
                "this file where one is", allow_module_level=True)
KERNELS = [k for k in ("split", "native") if k in wordcount.KERNELS]
REQUIRE_NATIVE = bool(os.environ.get("CI") or os.environ.get("WORDCOUNT_REQUIRE_NATIVE"))
#: Liveness bound for a call that must stop early (the work it abandons would take far longer).
LIVENESS_SECONDS = 10.0


@pytest.fixture(autouse=True)
def no_interpreter_left() -> Iterator[None]:
    """Every test ends with the main interpreter alone."""
    yield
    assert sub.list_ids() == [sub.main_id()], "subinterpreters left open"


def test_native_is_there_where_required() -> None:
    if REQUIRE_NATIVE:
        assert "native" in KERNELS, wordcount.kernels.native_kernel.UNAVAILABLE


# --- exact counts ---------------------------------------------------------------------------


@example(data=LATE_BAD_BYTES, workers=4, kernel="split")
@example(data="", workers=4, kernel=KERNELS[-1])
@example(data="\u200b\ufeff\u180e \u3000x\U0001f600 " * 20, workers=3, kernel=KERNELS[-1])
@given(data=st.one_of(inputs(), inputs(busy=True)), workers=st.integers(1, 4),
       kernel=st.sampled_from(KERNELS))
@settings(max_examples=40, deadline=None)
def test_exact(data: str | bytes | bytearray | memoryview, workers: int, kernel: str) -> None:
    """Every kind of text (str, bytes, bytearray, memoryview), invalid UTF-8 included."""
    check(data, kernel=kernel, executor="interpreters", workers=workers)
    assert sub.list_ids() == [sub.main_id()]


@pytest.mark.parametrize("kernel", KERNELS)
def test_blocks_add_up(monkeypatch: pytest.MonkeyPatch, kernel: str) -> None:
    """Chunks counted in many blocks (cut at whitespace) add up; a bad byte deep in a later
    block is named by its offset in the whole text."""
    from wordcount.executors import interpreters

    monkeypatch.setattr(interpreters, "BLOCK_BYTES", 5)
    text = "ein\u2003Wort\u00a0mehr\tund x " * 50
    for data in (text, text.encode()):
        check(data, kernel=kernel, executor="interpreters", workers=3)
    bad = text.encode() + b"\xe2\x80" + text.encode()
    with pytest.raises(InvalidUTF8Error) as info:
        wordcount.count_words(bad, kernel=kernel, executor="interpreters", workers=2)
    assert info.value.offset == len(text.encode())


# --- refusals and failures ------------------------------------------------------------------


def test_numpy_refused_before_any_interpreter_starts() -> None:
    """Refused by name, with the reason; no interpreter was created (ids are never reused, so
    one created and destroyed inside the call would show as a gap)."""
    before = sub.create()
    sub.destroy(before)
    with pytest.raises(ValueError, match=r"numpy.*subinterpreter.*numpy/numpy#24755"):
        wordcount.count_words(b"a b c", kernel="numpy", executor="interpreters", workers=2)
    after = sub.create()
    sub.destroy(after)
    assert after == before + 1


def test_a_kernel_numpy_underneath_fails_as_a_worker_error() -> None:
    """A kernel that imports numpy inside the interpreter: the import error, named by chunk."""
    from measurement_kernels import meeting_numpy_kernel

    with pytest.raises(WorkerError, match=r"worker for chunk \d+ failed \(subinterpreter \d+\)"
                                          r".*ImportError") as info:
        wordcount.count_report("a b c d", kernel=meeting_numpy_kernel, executor="interpreters",
                               workers=2)
    assert "subinterpreters" in str(info.value)


@pytest.mark.parametrize("executor", ["interpreters", "interpreter-pool"])
def test_raising_kernel_names_the_chunk_and_stops_the_others(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, executor: str) -> None:
    """The first chunk raises in its first block; the other two have a thousand blocks of work
    each and must stop at their next one rather than finish."""
    from wordcount.executors import interpreters

    monkeypatch.setattr(interpreters, "BLOCK_BYTES", 4)
    monkeypatch.setenv(helpers.READY_DIR_ENV, str(tmp_path))
    text = helpers.RAISE_WORD + " word" * 3000
    t0 = time.monotonic()
    with pytest.raises(WorkerError, match=r"worker for chunk 0 failed.*RuntimeError.*on purpose"):
        wordcount.count_report(text, kernel=interp_kernels.raise_or_nap_kernel,
                               executor=executor, workers=3)
    assert time.monotonic() - t0 < LIVENESS_SECONDS
    assert helpers.kernels_running(tmp_path) < 2000 / 2  # the others stopped early


def test_a_kernel_not_importable_is_refused() -> None:
    with pytest.raises(ValueError, match="importable"):
        wordcount.count_report("a b", kernel=lambda d, s=0, e=None: 0, executor="interpreters",
                               workers=2)


@pytest.mark.parametrize("executor", ["interpreters", "interpreter-pool"])
def test_ctrl_c_stops_every_interpreter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        executor: str) -> None:
    """SIGINT once every chunk's kernel runs: KeyboardInterrupt, promptly, nothing left (the
    pool closed too)."""
    from wordcount.executors import interpreters

    monkeypatch.setattr(interpreters, "BLOCK_BYTES", 4)
    monkeypatch.setenv(helpers.READY_DIR_ENV, str(tmp_path))
    main = threading.main_thread().ident

    def interrupt() -> None:
        if helpers.wait_for(lambda: helpers.kernels_running(tmp_path) >= 3, timeout=30):
            signal.pthread_kill(main, signal.SIGINT)  # type: ignore[arg-type]

    sender = threading.Thread(target=interrupt, daemon=True)
    sender.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        wordcount.count_report("word " * 3000, kernel=interp_kernels.napping_kernel,
                               executor=executor, workers=3)
    sender.join()
    assert time.monotonic() - t0 < LIVENESS_SECONDS


# --- memory -----------------------------------------------------------------------------------

ALLOC_MIB = 64
TOLERANCE = 0.10


def _held(mib: int, directory: Path) -> tuple:
    """Two chunks each holding ``mib`` MiB at the same moment: the memory figures of one call,
    and the per-interpreter figures of a second one, probed."""
    from test_memory import hold_until_seen

    from wcbench.memory import TreeSampler, measure_memory

    def text(where: Path) -> str:
        where.mkdir(parents=True)
        return " ".join([f"{mib}@{where}"] * 2)

    measured = directory / "measured"
    words = text(measured)
    sampler = TreeSampler(os.getpid())
    with hold_until_seen(measured, 2, sampler):
        figures = measure_memory(words, kernel=holding_kernel, executor="interpreters",
                                 workers=2, sampler=sampler)
    probed = directory / "probed"
    words = text(probed)
    with TreeSampler(os.getpid()) as sampler, hold_until_seen(probed, 2, sampler):
        report = wordcount.count_report(words, kernel=holding_kernel, executor="interpreters",
                                        workers=2, measure=Measurement(probe=True))
    return figures, report


def test_the_caller_s_peak_holds_the_interpreters_allocations(tmp_path: Path) -> None:
    """The interpreters live in the caller's process: its peak (and the tree's, the same
    process) grows by what they hold at once; each chunk's interpreter reports the pages its
    thread first touched, the known block included."""
    base, base_report = _held(0, tmp_path / "base")
    loaded, report = _held(ALLOC_MIB, tmp_path / "loaded")
    want = 2 * ALLOC_MIB * MIB
    for measured, baseline in ((loaded.peak_parent_bytes, base.peak_parent_bytes),
                               (loaded.peak_tree_bytes, base.peak_tree_bytes)):
        assert abs(measured - baseline - want) <= TOLERANCE * want, (measured, baseline)
    assert loaded.peak_workers_bytes == 0
    assert loaded.copied_bytes == len(f"{ALLOC_MIB}@{tmp_path / 'loaded' / 'measured'}") * 2 + 1
    for chunk, chunk0 in zip(report.chunks, base_report.chunks, strict=True):
        mem, mem0 = chunk.interpreter, chunk0.interpreter
        grown = mem.faulted_bytes - mem0.faulted_bytes
        assert abs(grown - ALLOC_MIB * MIB) <= TOLERANCE * ALLOC_MIB * MIB, (mem, mem0)
        assert chunk.pid == os.getpid()


@pytest.mark.parametrize("kernel", KERNELS)
def test_bytes_are_shared_not_copied(kernel: str) -> None:
    """32 MiB of bytes in two interpreters: nothing copied; with ``native`` the caller's peak
    grows by the interpreters' own cost (a tiny text's call) and far less than the text more.
    (``split`` holds its decoded chunks and word lists: measured, not judged here.)"""
    from wcbench.memory import measure_memory

    text = b"lorem ipsum dolor sit amet " * (32 * MIB // 27)
    tiny = measure_memory(b"lorem ipsum", kernel=kernel, executor="interpreters", workers=2)
    figures = measure_memory(text, kernel=kernel, executor="interpreters", workers=2)
    assert figures.count == len(text.split())
    assert figures.copied_bytes == tiny.copied_bytes == 0
    # On a free-threaded build mimalloc keeps pages between calls, and an interpreter's start-up
    # there moved the caller's growth by 0-22 MiB whatever the text's size (1-64 MiB, 3.13.15t):
    # the growth is judged on GIL builds only (docs/free-threaded.md).
    if kernel == "native" and gil_enabled():
        assert figures.peak_parent_bytes - tiny.peak_parent_bytes < len(text) / 8, \
            (figures, tiny)


def test_str_copies_counted_exactly() -> None:
    """A str chunk crosses as CPython's copy: its code points at 1, 2 or 4 bytes each."""
    from wordcount.text import chunk_spans

    text = "ascii words here " * 500 + "Straße\u3000und " * 500 + "emoji \U0001f600 " * 300
    meter = TransferMeter()
    report = wordcount.count_report(text, kernel=KERNELS[0], executor="interpreters",
                                    workers=3, measure=Measurement(meter=meter))
    assert report.count == len(text.split())

    def width(s: str) -> int:
        top = max(map(ord, s))
        return 1 if top < 0x100 else 2 if top < 0x10000 else 4

    spans = chunk_spans(text, 3)
    assert meter.bytes == sum(width(text[a:b]) * (b - a) for a, b in spans)
    assert meter.messages == len(spans)


def test_tracemalloc_cannot_load_in_a_subinterpreter() -> None:
    """Why no per-interpreter Python allocation figure is given: tracemalloc refuses to load
    there (CPython 3.13), and the main interpreter's tracemalloc sees every interpreter's
    allocations mixed, without telling which made them."""
    interp = sub.create()
    try:
        failure = sub.run(interp, "import tracemalloc")
    finally:
        sub.destroy(interp)
    if sys.version_info < (3, 14):
        assert failure is not None and "subinterpreters" in failure.message

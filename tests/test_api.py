"""The public API: names, reports, accepted inputs and every argument error.

Bad arguments are refused before any worker starts, with the built-in exception a caller expects
(``ValueError`` listing the valid names, ``TypeError`` for a wrong type); invalid UTF-8 is an
``InvalidUTF8Error`` (a ``ValueError``) naming the same first byte offset whatever the kernel,
executor, worker count and start method, including when the bad byte lies in a later chunk.
"""

from __future__ import annotations

import array
import mmap
import os
from pathlib import Path

import helpers
import pytest
from helpers import PROCESS_GRID, Audit

import wordcount
from wordcount import InvalidUTF8Error, WorkerError, count_report, count_words
from wordcount.executors import PROCESS_EXECUTORS, START_METHODS, default_start_method
from wordcount.kernels import count_split
from wordcount.measure import Measurement

TEXT = "Portez ce vieux whisky\u2003au juge blond qui fume\n\t\u3000sur son île\u00a0intérieure"
#: Bad bytes in the 4th and 5th of five chunks; the first is at ``FIRST_BAD``.
BAD = b"a " * 33 + b"\xe2\x80" + b" b" * 8 + b"\xff" + b" c" * 7
FIRST_BAD = BAD.index(b"\xe2\x80")
IN_PROCESS = [e for e in wordcount.EXECUTORS if e in ("serial", "threads")]
NO_START_METHOD = [e for e in wordcount.EXECUTORS if e not in PROCESS_EXECUTORS]


def test_names() -> None:
    assert wordcount.KERNELS in {("split", "numpy"), ("split", "numpy", "native")}  # if built
    assert {"serial", "threads", "processes", "process-pool", "shared-memory"} <= \
        set(wordcount.EXECUTORS)
    assert set(START_METHODS) <= {"fork", "spawn", "forkserver"} and START_METHODS
    assert issubclass(InvalidUTF8Error, ValueError)
    assert issubclass(WorkerError, RuntimeError)


@pytest.mark.parametrize("kernel", wordcount.KERNELS)
@pytest.mark.parametrize("executor", IN_PROCESS)
def test_counts_and_input_types(kernel: str, executor: str) -> None:
    raw = TEXT.encode()
    workers = 1 if executor == "serial" else 3
    for data in (TEXT, raw, bytearray(raw), memoryview(raw)):
        n = count_words(data, kernel=kernel, executor=executor, workers=workers)
        assert type(n) is int and n == len(TEXT.split())


@pytest.mark.parametrize("executor", ["serial", "threads", "processes", "shared-memory"])
def test_memory_mapped_file(tmp_path: Path, executor: str) -> None:
    """What the CLI passes for a file: an ``mmap``."""
    path = tmp_path / "t.txt"
    path.write_bytes(TEXT.encode())
    workers = 1 if executor == "serial" else 2
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for kernel in wordcount.KERNELS:
            assert count_words(mm, kernel=kernel, executor=executor,  # type: ignore[arg-type]
                               workers=workers) == len(TEXT.split())


@pytest.mark.parametrize(("executor", "method"), [*PROCESS_GRID, ("threads", None)])
def test_report(executor: str, method: str | None) -> None:
    report = count_report(TEXT * 5, kernel="numpy", executor=executor, workers=4,
                          start_method=method, measure=Measurement(probe=True))
    assert report.count == len((TEXT * 5).split())
    assert (report.kernel, report.executor, report.workers, report.start_method) == \
        ("numpy", executor, 4, method)
    assert 1 <= len(report.chunks) <= 4
    assert [c.index for c in report.chunks] == list(range(len(report.chunks)))
    assert sum(c.count for c in report.chunks) == report.count
    pids = {c.pid for c in report.chunks}
    if executor == "threads":
        assert pids == {os.getpid()} and report.worker_memory() == {}
    else:
        assert os.getpid() not in pids
        memory = report.worker_memory()
        assert set(memory) == pids
        assert all(m.peak_rss_bytes >= m.private_bytes > 0 for m in memory.values())


def test_report_resolves_the_default_start_method() -> None:
    report = count_report(TEXT, executor="processes", workers=2)
    assert report.start_method == default_start_method()
    assert count_report(TEXT).start_method is None


def test_report_takes_a_kernel_function() -> None:
    report = count_report(TEXT, kernel=count_split, executor="threads", workers=2)
    assert (report.count, report.kernel) == (len(TEXT.split()), "count_split")


def test_lone_surrogate(audit: Audit) -> None:
    """A ``str`` may hold a lone surrogate; ``str.split`` counts it as a letter, and so does
    every executor, except shared memory, which must encode the text and says why it cannot.
    The refusal comes after the block was created (while it is filled), so /dev/shm is listed
    before and after: polling might miss so short-lived a block, a listing cannot."""
    text = "a \ud800b c"
    for kernel in wordcount.KERNELS:
        assert count_words(text, kernel=kernel, executor="threads", workers=3) == 3
        assert count_words(text, kernel=kernel, executor="processes", workers=3) == 3
    long_text = "a " * (16 << 20) + "\ud800"
    blocks_before = {n for n in os.listdir("/dev/shm") if n.startswith("psm_")}
    with pytest.raises(ValueError, match=f"lone surrogate at index {len(long_text) - 1}"):
        count_words(long_text, executor="shared-memory", workers=2)
    audit.assert_clean()

    def new_blocks() -> set[str]:
        return {n for n in os.listdir("/dev/shm") if n.startswith("psm_")} - blocks_before

    # Another program's short-lived block may come and go meanwhile; a leaked one would stay.
    assert helpers.wait_for(lambda: not new_blocks(), 10.0), new_blocks()


# --- argument errors --------------------------------------------------------------------------


def _names_listed(exc: pytest.ExceptionInfo[BaseException], names: tuple[str, ...]) -> None:
    for name in names:
        assert name in str(exc.value), (name, str(exc.value))


def test_unknown_kernel() -> None:
    with pytest.raises(ValueError, match="unknown kernel 'nope'") as info:
        count_words(TEXT, kernel="nope")
    _names_listed(info, wordcount.KERNELS)


def test_unknown_executor() -> None:
    with pytest.raises(ValueError, match="unknown executor 'nope'") as info:
        count_words(TEXT, executor="nope")
    _names_listed(info, wordcount.EXECUTORS)


@pytest.mark.parametrize("executor", sorted(PROCESS_EXECUTORS))
def test_unknown_start_method(executor: str) -> None:
    with pytest.raises(ValueError, match="unknown start method 'nope'") as info:
        count_words(TEXT, executor=executor, workers=2, start_method="nope")
    _names_listed(info, START_METHODS)


@pytest.mark.parametrize("executor", NO_START_METHOD)
def test_start_method_for_an_executor_without_processes(executor: str) -> None:
    with pytest.raises(ValueError, match="takes no start_method"):
        count_words(TEXT, executor=executor, start_method=START_METHODS[0])


@pytest.mark.parametrize("workers", [2, 8])
def test_serial_runs_one_worker(workers: int) -> None:
    with pytest.raises(ValueError, match="serial executor runs one worker"):
        count_words(TEXT, executor="serial", workers=workers)


@pytest.mark.parametrize("executor", wordcount.EXECUTORS)
@pytest.mark.parametrize("workers", [0, -1])
def test_workers_below_one(executor: str, workers: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        count_words(TEXT, executor=executor, workers=workers)


@pytest.mark.parametrize("workers", [True, False, 2.0, "2", None])
def test_workers_not_an_int(workers: object) -> None:
    with pytest.raises(TypeError, match="workers must be an int"):
        count_words(TEXT, executor="threads", workers=workers)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [
    None, 42, ["a b"], 3.5, array.array("i", [1, 2]), memoryview(b"a b c d")[::2],
    memoryview(b"ab cd").cast("B", (1, 5)),
], ids=["None", "int", "list", "float", "int-array", "strided-view", "2d-view"])
@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_text_neither_str_nor_bytes(text: object, executor: str) -> None:
    with pytest.raises(TypeError,
                       match=r"text must be str or UTF-8 bytes|one-dimensional, contiguous bytes"):
        count_words(text, executor=executor)  # type: ignore[arg-type]


@pytest.mark.parametrize("arg", ["kernel", "executor", "start_method"])
def test_names_must_be_str(arg: str) -> None:
    kwargs: dict[str, object] = {"executor": "processes", "workers": 2, arg: 1}
    with pytest.raises(TypeError, match=f"{arg} must be a name"):
        count_words(TEXT, **kwargs)  # type: ignore[arg-type]


def test_count_words_takes_kernel_names_only() -> None:
    with pytest.raises(TypeError, match="kernel must be a name"):
        count_words(TEXT, kernel=count_split)  # type: ignore[arg-type]


# --- invalid UTF-8: the same first offset everywhere ------------------------------------------


def test_invalid_utf8_error_names_the_offset() -> None:
    with pytest.raises(InvalidUTF8Error) as info:
        count_words(b"ok \xff")
    assert info.value.offset == 3
    assert "byte offset 3" in str(info.value)


@pytest.mark.parametrize("kernel", wordcount.KERNELS)
@pytest.mark.parametrize("executor", IN_PROCESS)
def test_invalid_utf8_in_process_every_worker_count(kernel: str, executor: str) -> None:
    for workers in range(1, 9) if executor != "serial" else [1]:
        with pytest.raises(InvalidUTF8Error) as info:
            count_words(BAD, kernel=kernel, executor=executor, workers=workers)
        assert info.value.offset == FIRST_BAD, workers


@pytest.mark.parametrize("kernel", wordcount.KERNELS)
@pytest.mark.parametrize(("executor", "method"), PROCESS_GRID)
def test_invalid_utf8_in_a_later_chunk(kernel: str, executor: str, method: str) -> None:
    """Five chunks, bad bytes in the last two: the later chunk may report first."""
    with pytest.raises(InvalidUTF8Error) as info:
        count_words(BAD, kernel=kernel, executor=executor, workers=5, start_method=method)
    assert info.value.offset == FIRST_BAD

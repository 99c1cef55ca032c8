"""The ``interpreter-pool`` executor: subinterpreters made once and kept between calls.

Exact counts (hypothesis, split and native, every kind of text, 1-4 workers); the same
interpreters reused by the next call (their ids), grown on demand; nothing copied of a bytes
text and a ``str`` chunk's copy counted exactly; the caller's buffer given back after the call;
numpy refused before any interpreter exists; and every interpreter destroyed after a kernel's
error, invalid UTF-8, ``close()``, a fork and the process's exit (Ctrl-C is in
``test_interpreters``, the CLI's SIGTERM and SIGHUP in ``test_interpreters_cli``, for both
executors). Between calls the pool keeps one thread parked in each interpreter, and closes
them before a fork: a fork afterwards forks one thread (the fork guard of ``conftest`` fails any
test that does otherwise, and CPython's own warning too).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import helpers
import interp_kernels
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_properties import LATE_BAD_BYTES, check, inputs

import wordcount
from wordcount import InvalidUTF8Error, WorkerError
from wordcount.executors import _subinterpreters as sub
from wordcount.measure import Measurement
from wordcount.text import chunk_spans
from wordcount.transfer import TransferMeter

if "interpreter-pool" not in wordcount.EXECUTORS:
    pytest.skip(f"this Python has none: {sub.UNAVAILABLE}; test_interpreters_elsewhere runs "
                "this file where one is", allow_module_level=True)

from wordcount.executors import interpreter_pool

KERNELS = [k for k in ("split", "native") if k in wordcount.KERNELS]
POOL = "interpreter-pool"
LIVENESS_SECONDS = 10.0
TESTS_DIR = Path(__file__).parent


def _others() -> list[int]:
    """Ids of every interpreter but the main one."""
    return sorted(set(sub.list_ids()) - {sub.main_id()})


@pytest.fixture(autouse=True)
def closed_after() -> Iterator[None]:
    """Each test starts and ends with no pool; what it leaves open is closed, and nothing but
    the pool's own interpreters may have been left."""
    interpreter_pool.close()
    yield
    assert len(_others()) == interpreter_pool.size(), "interpreters left outside the pool"
    interpreter_pool.close()
    assert _others() == []


@example(data=LATE_BAD_BYTES, workers=4, kernel="split")
@example(data="", workers=4, kernel=KERNELS[-1])
@example(data="\u200b\ufeff\u180e \u3000x\U0001f600 " * 20, workers=3, kernel=KERNELS[-1])
@given(data=st.one_of(inputs(), inputs(busy=True)), workers=st.integers(1, 4),
       kernel=st.sampled_from(KERNELS))
@settings(max_examples=40, deadline=None)
def test_exact(data: str | bytes | bytearray | memoryview, workers: int, kernel: str) -> None:
    """Every kind of text, invalid UTF-8 included, over a pool kept from example to example
    (a failed call closes it; the next one makes a new one)."""
    check(data, kernel=kernel, executor=POOL, workers=workers)


def test_the_same_interpreters_serve_every_call() -> None:
    text = "a b c d e f g " * 1000
    assert wordcount.count_words(text, executor=POOL, workers=2) == len(text.split())
    first = _others()
    assert len(first) == 2 == interpreter_pool.size()
    for workers in (2, 1, 2):
        assert wordcount.count_words(text.encode(), kernel=KERNELS[-1], executor=POOL,
                                     workers=workers) == len(text.split())
    assert _others() == first  # none made, none destroyed
    wordcount.count_words(text, executor=POOL, workers=3)
    grown = _others()
    assert grown[:2] == first and len(grown) == 3  # grown, never shrunk


def _pool_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("wordcount-interp"))


def test_one_thread_per_interpreter_between_calls_none_after_close() -> None:
    """Each interpreter keeps the thread parked in it (no thread state made per call); the same
    threads serve the next call; ``close()`` joins them all."""
    wordcount.count_words("a b c " * 100, executor=POOL, workers=2)
    first = _pool_threads()
    assert len(first) == 2 == threading.active_count() - 1, first
    wordcount.count_words(b"a b c " * 100, kernel=KERNELS[-1], executor=POOL, workers=2)
    assert _pool_threads() == first
    interpreter_pool.close()
    assert threading.active_count() == 1, [t.name for t in threading.enumerate()]


def test_a_thread_that_left_its_interpreter_fails_the_call_not_hangs() -> None:
    """A pooled thread that is no longer in its interpreter (here: told to leave behind the
    pool's back) cannot count: the call fails naming it, and the pool is closed."""
    wordcount.count_words("a b c", executor=POOL, workers=2)
    worker = interpreter_pool._POOL.workers[1]
    interpreter_pool.sub.queue_put(worker.queue, None)
    os.write(worker.wake, b"x")
    worker.thread.join(LIVENESS_SECONDS)
    assert not worker.thread.is_alive()
    with pytest.raises(WorkerError, match="stopped before counting its chunk"):
        wordcount.count_words("a b c d", executor=POOL, workers=2)
    assert interpreter_pool.size() == 0 and _others() == []


@pytest.mark.parametrize("kernel", KERNELS)
def test_bytes_are_shared_not_copied_and_given_back(kernel: str) -> None:
    """A bytearray crosses as a view of the caller's buffer; once the call returns, nothing
    holds it any more: the caller may resize it."""
    text = bytearray(b"lorem ipsum dolor sit amet " * 40_000)
    meter = TransferMeter()
    for _ in range(2):
        report = wordcount.count_report(text, kernel=kernel, executor=POOL, workers=2,
                                        measure=Measurement(meter=meter))
        assert report.count == len(text.split())
    assert meter.bytes == 0
    text += b" more"  # BufferError if a view of it were still exported
    assert wordcount.count_words(text, kernel=kernel, executor=POOL, workers=2) == \
        len(text.split())


def test_str_copies_counted_exactly() -> None:
    text = "ascii words here " * 500 + "Straße\u3000und " * 500 + "emoji \U0001f600 " * 300
    meter = TransferMeter()
    report = wordcount.count_report(text, kernel="split", executor=POOL, workers=3,
                                    measure=Measurement(meter=meter))
    assert report.count == len(text.split())

    def width(s: str) -> int:
        top = max(map(ord, s))
        return 1 if top < 0x100 else 2 if top < 0x10000 else 4

    assert meter.bytes == sum(width(text[a:b]) * (b - a) for a, b in chunk_spans(text, 3))


def test_numpy_refused_before_any_interpreter_starts() -> None:
    with pytest.raises(ValueError, match=r"numpy.*subinterpreter.*numpy/numpy#24755"):
        wordcount.count_words(b"a b c", kernel="numpy", executor=POOL, workers=2)
    assert interpreter_pool.size() == 0 and _others() == []


def test_a_kernel_error_closes_the_pool() -> None:
    """A pool in use, then a call whose kernel raises: the error names the chunk, and no
    interpreter is kept whose state is in doubt (stopping the others early, and Ctrl-C, are
    ``test_interpreters``', for both executors)."""
    wordcount.count_words("a b c " * 10, executor=POOL, workers=3)
    assert interpreter_pool.size() == 3
    with pytest.raises(WorkerError, match=r"worker for chunk 0 failed.*RuntimeError.*on purpose"):
        wordcount.count_report(helpers.RAISE_WORD + " word" * 30,
                               kernel=interp_kernels.raise_or_nap_kernel, executor=POOL,
                               workers=3)
    assert interpreter_pool.size() == 0 and _others() == []


def test_invalid_utf8_closes_the_pool() -> None:
    data = b"word " * 100 + b"\xff" + b" more" * 100
    with pytest.raises(InvalidUTF8Error) as info:
        wordcount.count_words(data, executor=POOL, workers=2)
    assert info.value.offset == data.index(b"\xff")
    assert _others() == []
    assert wordcount.count_words(b"a b", executor=POOL, workers=2) == 2  # a new pool


@pytest.mark.parametrize("how", ["returns", "sys.exit(3)"])
def test_the_pool_is_closed_at_exit(tmp_path: Path, how: str) -> None:
    """A script that leaves its pool open: its interpreters are destroyed as it exits, quietly
    (the ids still existing are recorded by the last exit handler, registered first)."""
    left = tmp_path / "left.json"
    ending = "sys.exit(3)" if how != "returns" else "pass"
    code = (f"import atexit, json, sys\n"
            f"from wordcount.executors import _subinterpreters as sub\n"
            f"atexit.register(lambda: open({str(left)!r}, 'w').write(json.dumps(sub.list_ids())))\n"
            f"import wordcount\n"
            f"print(wordcount.count_words('a b c ' * 1000, executor={POOL!r}, workers=2))\n"
            f"{ending}\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert (result.returncode, result.stdout, result.stderr) == \
        (3 if how != "returns" else 0, "3000\n", "")
    assert len(eval(left.read_text())) == 1  # the main interpreter alone


def test_a_fork_closes_the_pool_first() -> None:
    """A child forked while subinterpreters exist crashes (CPython 3.13-3.15): the pool is closed
    before the fork, the child counts with a pool of its own, and the parent's next call makes a
    new one."""
    wordcount.count_words("a b c", executor=POOL, workers=2)
    assert interpreter_pool.size() == 2
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave at once
        try:
            count = wordcount.count_words("a b c d", executor=POOL, workers=2)
            os.write(write, f"{count} {interpreter_pool.size()}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        said = f.read()
    assert os.waitpid(pid, 0)[1] == 0
    assert said == "4 2"
    assert interpreter_pool.size() == 0 and _others() == []
    assert wordcount.count_words("a b", executor=POOL, workers=2) == 2


def test_a_fork_with_subinterpreters_alive_kills_the_child() -> None:
    """Why the pool closes before a fork, in CPython itself: one idle subinterpreter is enough
    for the forked child to die (SIGABRT on 3.13, SIGSEGV on 3.14 and 3.15)."""
    code = ("import os, sys\n"
            "from wordcount.executors import _subinterpreters as sub\n"
            "i = sub.create()\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    os._exit(0)\n"
            "print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
            "sub.destroy(i)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) in (-signal.SIGABRT, -signal.SIGSEGV), result.stdout

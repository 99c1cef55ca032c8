"""A worker that raises or is killed fails the call at once, and leaves nothing behind.

Every process executor under every start method: one chunk's worker fails (its kernel raises, or
it SIGKILLs itself) while the others sleep far longer than the test waits, so a call that waited
for them, or hung on a dead child, would miss the liveness bound. Afterwards no worker process of
the test is alive and no shared-memory block it mapped is left in /dev/shm.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
from multiprocessing import forkserver, resource_tracker

import helpers
import kernel_that_kills_its_importer
import pytest
from helpers import PROCESS_GRID, Audit

import wordcount
from wcbench import forkguard
from wordcount import WorkerError
from wordcount.executors import START_METHODS
from wordcount.executors._lifecycle import interrupts_deferred
from wordcount.executors._orphans import describe_end

#: Wall-clock bound for a failing call: a liveness check (the healthy workers sleep
#: ``helpers.SLEEP_SECONDS``), generous because two shared cores start spawn workers slowly.
LIVENESS_SECONDS = 20.0
assert LIVENESS_SECONDS < helpers.SLEEP_SECONDS / 2

WORKERS = 3
FILLER = "word " * 40


def _fail_promptly(text: str | bytes, kernel: object, executor: str, method: str,
                   match: str, audit: Audit,
                   during: contextlib.AbstractContextManager | None = None) -> WorkerError:
    t0 = time.monotonic()
    with during or contextlib.nullcontext(), pytest.raises(WorkerError, match=match) as info:
        wordcount.count_report(text, kernel=kernel, executor=executor, workers=WORKERS,
                               start_method=method)
    elapsed = time.monotonic() - t0
    assert elapsed < LIVENESS_SECONDS, f"the failing call took {elapsed:.1f} s"
    audit.assert_clean()
    if executor == "shared-memory":  # the leftover check above saw the block it checks for
        assert audit.shared_blocks()
    return info.value


@pytest.mark.parametrize(("executor", "method"), PROCESS_GRID)
def test_raising_worker(executor: str, method: str, audit: Audit) -> None:
    """The kernel raises in the last chunk; the error names the chunk and the exception."""
    err = _fail_promptly(FILLER + helpers.RAISE_WORD, helpers.raising_kernel, executor, method,
                         "raised on purpose", audit)
    assert "RuntimeError" in str(err)


@pytest.mark.parametrize(("executor", "method"), PROCESS_GRID)
def test_killed_worker(executor: str, method: str, audit: Audit) -> None:
    """The first chunk's worker is killed by SIGKILL (UTF-8 bytes input this time)."""
    text = (helpers.KILL_WORD + " " + FILLER).encode()
    _fail_promptly(text, helpers.killing_kernel, executor, method,
                   "killed by SIGKILL|pool worker died", audit)


@pytest.mark.parametrize("executor", sorted({ex for ex, _ in PROCESS_GRID}))
def test_worker_exiting_without_a_result(executor: str, audit: Audit) -> None:
    """A worker that ends with status 0 but never reports (``os._exit`` in a kernel)."""
    text = helpers.EXIT_WORD + " " + FILLER
    _fail_promptly(text, helpers.exiting_kernel, executor, START_METHODS[0],
                   "exited with status 0|pool worker died", audit)


@pytest.mark.parametrize("method", START_METHODS)
def test_killed_last_started_pool_worker(method: str, audit: Audit) -> None:
    """The pool starts one worker per submit and (CPython 3.11) its manager thread may not watch
    the last one started; that worker takes the last chunk here, and dies."""
    text = FILLER + helpers.KILL_WORD
    _fail_promptly(text, helpers.killing_kernel, "process-pool", method,
                   "killed by SIGKILL|pool worker died", audit)


#: Executors and start methods that pickle the task to a fresh interpreter.
PICKLING_GRID = [(ex, m) for ex, m in PROCESS_GRID if m != "fork"]


@pytest.mark.parametrize(("executor", "method"), PICKLING_GRID)
def test_worker_dying_while_its_chunk_is_sent(executor: str, method: str, audit: Audit) -> None:
    """Unpickling the task imports the kernel's module ahead of the 1 MiB chunk, and that import
    kills the worker: the parent is then half-way through writing a chunk far larger than a pipe
    holds (CPython's spawn launcher hung for ever here)."""
    text = "word " * ((2 << 20) // 5)
    err = _fail_promptly(text, kernel_that_kills_its_importer.count, executor, method,
                         "killed by SIGKILL", audit)
    assert re.search(r"worker.* \(pid \d+\) was killed by SIGKILL", str(err)), err


@pytest.mark.parametrize(("executor", "method"), PROCESS_GRID)
def test_worker_killed_as_soon_as_it_exists(executor: str, method: str, audit: Audit) -> None:
    """A real SIGKILL at the first sight of a worker: while it starts, receives or counts (the
    others sleep for a minute); the call fails at once, naming the process and the signal."""
    # The helpers must exist already: one starting now runs under pytest's command line until its
    # exec, and would look like a worker to the killer.
    resource_tracker.ensure_running()
    if method == "forkserver":
        forkserver.ensure_running()
    killer = helpers.FirstWorkerKiller(audit.before)
    err = _fail_promptly("a b c " * 40_000, helpers.sleepy_kernel, executor, method,
                         "killed by SIGKILL|being started", audit, during=killer)
    assert killer.killed
    if "killed by SIGKILL" in str(err):
        assert f"(pid {killer.killed})" in str(err), (killer.killed, err)
    else:  # killed before it read its start-up data: the fork server never gave its pid
        assert method == "forkserver", err


def test_forkserver_start_failure_is_described() -> None:
    """Under forkserver a worker killed before it reads its start-up data fails its ``start``
    itself (the parent never learns its pid): the error still says what happened."""
    err = describe_end("worker for chunk 1", None, None, False, "forkserver",
                       detail="BrokenPipeError(32, 'Broken pipe')")
    assert err == ("worker for chunk 1 died while it was being started, before it received its "
                   "chunk (BrokenPipeError(32, 'Broken pipe'))")


def test_raising_thread() -> None:
    """Threads cannot be stopped, so every chunk raises here; the call reports a WorkerError."""
    with pytest.raises(WorkerError, match="raised on purpose"):
        wordcount.count_report(" ".join([helpers.RAISE_WORD] * 3), kernel=helpers.raising_kernel,
                               executor="threads", workers=3)


def test_raising_serial_kernel_propagates() -> None:
    """Serial runs the kernel in the caller: its exception is the kernel's own, unwrapped."""
    with pytest.raises(RuntimeError, match="raised on purpose"):
        wordcount.count_report(helpers.RAISE_WORD, kernel=helpers.raising_kernel)


@pytest.mark.parametrize(("executor", "method"), PROCESS_GRID)
def test_healthy_call_leaves_nothing(executor: str, method: str, audit: Audit) -> None:
    """The normal path cleans up as well as the failing ones."""
    text = "déjà vu\u3000" * 50
    assert wordcount.count_words(text, executor=executor, workers=WORKERS,
                                 start_method=method) == len(text.split())
    audit.assert_clean()
    if executor == "shared-memory":
        assert audit.shared_blocks()


def test_ctrl_c_is_deferred_to_the_end_of_a_start_or_cleanup_block() -> None:
    """What keeps Ctrl-C from interrupting ``Process.start()`` half-way: inside the block a
    SIGINT is only recorded; it becomes ``KeyboardInterrupt`` when the block ends."""
    reached_end = False
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)  # a KeyboardInterrupt would come here, were the signal not held back
        reached_end = True
    assert reached_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.parametrize(("executor", "method"), PROCESS_GRID)
def test_process_executors_from_a_thread(executor: str, method: str, audit: Audit) -> None:
    """Signal handlers belong to the main thread; a count started elsewhere still works.

    Under fork it forks beside the main thread (waiting here): the hazard CPython warns about,
    which the fork guard notes; this test makes it on purpose, so it takes the notes itself."""
    text = "un deux\u2003trois " * 10
    box: list[object] = []
    worker = threading.Thread(target=lambda: box.append(wordcount.count_words(
        text, executor=executor, workers=2, start_method=method)))
    worker.start()
    worker.join(LIVENESS_SECONDS)
    assert box == [len(text.split())]
    noted = forkguard.take()
    assert bool(noted) == (method == "fork"), [n.describe() for n in noted]
    assert all(n.threads == ("MainThread",) for n in noted), [n.describe() for n in noted]

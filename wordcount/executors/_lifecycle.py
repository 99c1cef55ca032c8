"""Starting, watching and stopping worker processes: the plumbing every process executor shares.

``run_processes`` starts one process per task and collects one result from each, failing as soon as
a process dies without one; ``stop`` terminates and reaps; ``sigint_deferred`` keeps Ctrl-C from
landing half-way through starting or stopping children.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.process import BaseProcess

from wordcount.errors import InvalidUTF8Error, WorkerError
from wordcount.executors._task import ChunkResult, Task, describe_exit, first_error

#: How often the parent checks on its children while no result arrives (seconds).
POLL_SECONDS = 0.05
#: Grace for a child that exited cleanly to have its result read from the pipe (seconds).
LOST_RESULT_SECONDS = 2.0


def collect(results: mp.Queue, procs: Sequence[BaseProcess]) -> list[ChunkResult]:
    """One result per process, failing promptly when a process dies without one."""
    outcomes: dict[int, ChunkResult | Exception] = {}
    clean_exit_seen: dict[int, float] = {}
    waited = 0.0
    while len(outcomes) < len(procs):
        try:
            index, outcome = results.get(timeout=POLL_SECONDS)
        except queue.Empty:
            waited += POLL_SECONDS
        else:
            outcomes[index] = outcome
            if isinstance(outcome, Exception) and not isinstance(outcome, InvalidUTF8Error):
                break  # fail now; invalid UTF-8 waits for the others to report the first offset
            continue
        for i, p in enumerate(procs):
            if i in outcomes or p.exitcode is None:
                continue
            if p.exitcode != 0:
                _drain(results, outcomes)
                if i not in outcomes:
                    raise WorkerError(describe_exit(i, p.pid, p.exitcode))
            else:
                first_seen = clean_exit_seen.setdefault(i, waited)
                if waited - first_seen > LOST_RESULT_SECONDS:
                    raise WorkerError(describe_exit(i, p.pid, p.exitcode))
    errors = [o for o in outcomes.values() if isinstance(o, Exception)]
    if errors:
        raise first_error(errors)
    return sorted(outcomes.values(), key=lambda r: r.index)  # type: ignore[union-attr]


def _drain(results: mp.Queue, outcomes: dict[int, ChunkResult | Exception]) -> None:
    """Read what is already in the queue (a killed child may have sent its result first)."""
    while True:
        try:
            index, outcome = results.get(timeout=0.01)
        except queue.Empty:
            return
        outcomes[index] = outcome


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back while workers start or are stopped; it takes effect afterwards.

    ``Process.start()`` interrupted half-way leaves a child the parent holds no handle on (it
    lingers, or prints a traceback when it finds its parent gone), and an interrupted cleanup
    leaves workers running or a segment in /dev/shm. So, for the block, a SIGINT is only recorded
    (in the main thread's handler: the signal may land in any thread, numpy's included) and
    re-raised at the end, where it becomes ``KeyboardInterrupt`` as usual. The signal is also
    blocked in this thread: children inherit the mask, across spawn's ``exec`` too, so a Ctrl-C
    sent to the whole process group cannot interrupt them while they import; they then ignore
    SIGINT for good (``ignore_sigint``) and leave it to the parent.
    """
    held: list[int] = []
    in_main = threading.current_thread() is threading.main_thread()
    old_handler = signal.signal(signal.SIGINT, lambda signum, _frame: held.append(signum)) \
        if in_main else None
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)  # a pending SIGINT lands in `held`
        if in_main:
            signal.signal(signal.SIGINT, signal.SIG_DFL if old_handler is None else old_handler)
            if held:
                signal.raise_signal(signal.SIGINT)


def stop(procs: Sequence[BaseProcess]) -> None:
    """Terminate, then kill, then reap every started process; never leaves one running."""
    started = [p for p in procs if p.pid is not None]
    for p in started:
        if p.exitcode is None:
            p.terminate()
    for p in started:
        p.join(timeout=2.0)
        if p.exitcode is None:
            p.kill()
            p.join()


def run_processes(ctx: mp.context.BaseContext, tasks: Sequence[Task],
                  target: Callable[..., None]) -> list[ChunkResult]:
    """Start ``target(results_queue, task)`` in one process per task and collect the results."""
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(results, t), name=f"wordcount-{t.index}",
                         daemon=True) for t in tasks]
    try:
        with sigint_deferred():
            for p in procs:
                p.start()
        return collect(results, procs)
    finally:
        with sigint_deferred():
            stop(procs)
            results.close()
            results.cancel_join_thread()

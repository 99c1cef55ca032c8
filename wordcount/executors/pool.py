"""``concurrent.futures.ProcessPoolExecutor`` over the chunks: the modern standard-library way.

Every chunk is pickled through the pool's call queue whatever the start method, so it copies as
much as ``spawn`` does even under ``fork``. A worker that dies breaks the pool; the parent notices
at once, checking the workers itself as well as through the pool (see ``_wait``). On every exit
path the pool's processes are stopped before returning.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress

from wordcount.errors import InvalidUTF8Error, WorkerError
from wordcount.executors._lifecycle import POLL_SECONDS, sigint_deferred
from wordcount.executors._task import (
    ChunkResult,
    Task,
    chunk_copy,
    first_error,
    ignore_sigint,
    portable_error,
    run_task,
)
from wordcount.measure import Measurement
from wordcount.text import Text, chunk_spans


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel pending work, terminate the workers (the pool has no public way) and reap them."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.exitcode is None:
            p.terminate()
    for p in procs:
        p.join(timeout=2.0)
        if p.exitcode is None:
            p.kill()
            p.join()
    pool.shutdown(wait=True)


def _wait(pool: ProcessPoolExecutor, futures: list[Future], return_when: str) -> None:
    """``concurrent.futures.wait``, in short slices, raising ``WorkerError`` if a worker died.

    Two reasons not to block in one ``wait``: a Ctrl-C whose signal lands in another thread
    (numpy's, say) cannot wake it, so it would only take effect when a chunk finishes; and
    CPython 3.11's pool manager thread watches only the workers that existed when it last woke,
    so a worker started after that (the pool starts one per ``submit``) can die unnoticed until
    some other worker finishes. Pool workers never exit while the pool is open, so any exit
    status is a failure.
    """
    procs = list(pool._processes.values())  # private: the pool has no public handle on them
    while True:
        done, not_done = wait(futures, timeout=POLL_SECONDS, return_when=return_when)
        if not not_done or (return_when == FIRST_EXCEPTION and any(
                not f.cancelled() and f.exception() is not None for f in done)):
            return
        for p in procs:
            if p.exitcode is not None:
                how = (f"was killed by signal {-p.exitcode}" if p.exitcode < 0
                       else f"exited with status {p.exitcode}")
                with suppress(ValueError):
                    how = f"was killed by {signal.Signals(-p.exitcode).name}"
                raise WorkerError(f"a pool worker (pid {p.pid}) {how} while counting")


def run(text: Text, workers: int, kernel: Callable[..., int], *,
        start_method: str | None, measure: Measurement) -> list[ChunkResult]:
    """Submit one task per chunk to a pool of ``workers`` processes."""
    spans = chunk_spans(text, workers)
    # The constructor starts no process; its queues may start multiprocessing's resource
    # tracker, which unblocks SIGINT as it does so: keep that out of the deferred block.
    pool = ProcessPoolExecutor(max_workers=min(workers, len(spans)),
                               mp_context=mp.get_context(start_method),
                               initializer=ignore_sigint)
    finished = False
    try:
        with sigint_deferred():  # the pool starts its workers in submit()
            futures = [pool.submit(run_task, Task(i, kernel, chunk_copy(text, a, b), 0, b - a, a,
                                                  measure))
                       for i, (a, b) in enumerate(spans)]
        _wait(pool, futures, FIRST_EXCEPTION)
        errors: list[Exception] = []
        for i, f in enumerate(futures):
            exc = f.exception() if f.done() and not f.cancelled() else None
            if isinstance(exc, BrokenProcessPool):
                raise WorkerError(f"a pool worker died while counting chunk {i}: {exc}") from None
            if isinstance(exc, InvalidUTF8Error):
                errors.append(exc)
            elif exc is not None:
                errors.append(portable_error(i, exc))
        if errors:
            if all(isinstance(e, InvalidUTF8Error) for e in errors):
                # report the earliest bad byte, whichever chunk finished first
                _wait(pool, futures, ALL_COMPLETED)
                errors = [e for f in futures if isinstance(e := f.exception(), InvalidUTF8Error)]
            raise first_error(errors)
        results = [f.result() for f in futures]
        finished = True
        return results
    finally:
        with sigint_deferred():
            if finished:
                pool.shutdown(wait=True)
            else:
                _stop_pool(pool)

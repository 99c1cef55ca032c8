"""``concurrent.futures.ProcessPoolExecutor`` over the chunks: the modern standard-library way.

Every chunk is pickled through the pool's call queue whatever the start method, so it copies as
much as ``spawn`` does even under ``fork``. A worker that dies breaks the pool; the parent notices
at once, checking the workers itself as well as through the pool (see ``_wait``). On every exit
path the pool's processes are stopped before returning.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from wordcount.errors import InvalidUTF8Error, WorkerError
from wordcount.executors._contexts import get_context
from wordcount.executors._lifecycle import POLL_SECONDS, interrupts_deferred, stop
from wordcount.executors._orphans import (
    bind_to_parent,
    describe_end,
    expected_parent,
    fork_server_ended,
)
from wordcount.executors._task import (
    ChunkResult,
    Task,
    chunk_copy,
    first_error,
    portable_error,
    run_task,
    worker_signals,
)
from wordcount.measure import Measurement
from wordcount.text import Text, chunk_spans

#: In a pool worker: where it says that its start is over and which chunk it takes up.
_news: mp.SimpleQueue | None = None


def _worker_init(news: mp.SimpleQueue, parent: int | None) -> None:
    """Pool worker start-up: leave Ctrl-C to the parent, die with it, say the start is over."""
    global _news
    worker_signals()
    bind_to_parent(parent)
    _news = news
    news.put((os.getpid(), None))


def _count_in_worker(task: Task) -> ChunkResult:
    """Pool worker side: say which chunk this process counts (for the error if it dies), count."""
    if _news is not None:
        _news.put((os.getpid(), task.index))
    return run_task(task)


@dataclass
class _Pool:
    """The pool of one call, and what its workers said: started (pid -> None) or counting a
    chunk (pid -> its index)."""

    pool: ProcessPoolExecutor
    method: str
    news: mp.SimpleQueue
    doing: dict[int, int | None] = field(default_factory=dict)

    def dead_worker(self, terminated_too: bool = True) -> WorkerError | None:
        """The error for a pool worker that has ended (pool workers never exit while the pool
        is open, so any exit status is a failure), or None while all live.

        Once one worker has died, CPython's pool terminates the others (SIGTERM): a worker that
        ended otherwise is the one to report.
        """
        procs = list((self.pool._processes or {}).values())  # private: no public handle
        dead = sorted((p for p in procs if p.exitcode is not None),
                      key=lambda p: p.exitcode == -signal.SIGTERM)
        if not dead or (not terminated_too and dead[0].exitcode == -signal.SIGTERM):
            return None
        p = dead[0]
        while not self.news.empty():
            pid, index = self.news.get()
            self.doing[pid] = index
        index = self.doing.get(p.pid)
        who = "a pool worker" if index is None else f"pool worker for chunk {index}"
        return WorkerError(describe_end(who, p.pid, p.exitcode, p.pid in self.doing,
                                        self.method))


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel pending work, terminate the workers (the pool has no public way) and reap them."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    # The first shutdown forgets the pool's manager thread, so the second cannot join it: left
    # alone it can outlive the call, and a fork made next forks beside it.
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    stop(procs)
    pool.shutdown(wait=True)
    if manager is not None:
        manager.join()


def _wait(pool: _Pool, futures: list[Future], return_when: str) -> None:
    """``concurrent.futures.wait``, in short slices, raising ``WorkerError`` if a worker died.

    Two reasons not to block in one ``wait``: a Ctrl-C whose signal lands in another thread
    (numpy's, say) cannot wake it, so it would only take effect when a chunk finishes; and
    CPython 3.11's pool manager thread watches only the workers that existed when it last woke,
    so a worker started after that (the pool starts one per ``submit``) can die unnoticed until
    some other worker finishes. Pool workers never exit while the pool is open, so any exit
    status is a failure.
    """
    while True:
        done, not_done = wait(futures, timeout=POLL_SECONDS, return_when=return_when)
        if not not_done or (return_when == FIRST_EXCEPTION and any(
                not f.cancelled() and f.exception() is not None for f in done)):
            return
        dead = pool.dead_worker()
        if dead is not None:
            raise dead


def run(text: Text, workers: int, kernel: Callable[..., int], *,
        start_method: str | None, measure: Measurement) -> list[ChunkResult]:
    """Submit one task per chunk to a pool of ``workers`` processes."""
    spans = chunk_spans(text, workers)
    # The constructor starts no process; its queues may start multiprocessing's resource
    # tracker, which unblocks SIGINT as it does so: keep that out of the deferred block.
    ctx = get_context(start_method)
    news: mp.SimpleQueue = ctx.SimpleQueue()
    pool = ProcessPoolExecutor(max_workers=min(workers, len(spans)), mp_context=ctx,
                               initializer=_worker_init, initargs=(news, expected_parent(ctx)))
    watched = _Pool(pool, ctx.get_start_method(), news)
    finished = False
    try:
        futures: list[Future] = []
        with interrupts_deferred():  # the pool starts its workers in submit()
            for i, (a, b) in enumerate(spans):
                task = Task(i, kernel, chunk_copy(text, a, b), 0, b - a, a, measure)
                try:
                    futures.append(pool.submit(_count_in_worker, task))
                except (BrokenProcessPool, OSError, EOFError) as exc:
                    # a worker died while others were being started: CPython broke the pool
                    # and closed its queues under the next start; or the fork server ended
                    # (EOFError from its socket: an unguarded main module, 3.13.15+)
                    raise _broken(watched, i, exc) from None
        _wait(watched, futures, FIRST_EXCEPTION)
        errors: list[Exception] = []
        for i, f in enumerate(futures):
            exc = f.exception() if f.done() and not f.cancelled() else None
            if isinstance(exc, BrokenProcessPool):
                raise _broken(watched, i, exc) from None
            if isinstance(exc, InvalidUTF8Error):
                errors.append(exc)
            elif exc is not None:
                errors.append(portable_error(i, exc))
        if errors:
            if all(isinstance(e, InvalidUTF8Error) for e in errors):
                # report the earliest bad byte, whichever chunk finished first
                _wait(watched, futures, ALL_COMPLETED)
                errors = [e for f in futures if isinstance(e := f.exception(), InvalidUTF8Error)]
            raise first_error(errors)
        results = [f.result() for f in futures]
        finished = True
        return results
    finally:
        with interrupts_deferred():
            if finished:
                pool.shutdown(wait=True)
            else:
                _stop_pool(pool)
            news.close()


def _broken(pool: _Pool, index: int, exc: BaseException) -> WorkerError:
    """The error for a pool CPython found broken: which worker died and how, once it is reaped.

    The workers CPython terminated in turn are reported only when no other death is found: under
    ``forkserver`` a worker killed before it read its start-up data fails its own start
    (``BrokenPipeError``), and the parent never learns its pid or status.
    """
    for _ in range(int(1.0 / POLL_SECONDS)):
        dead = pool.dead_worker(terminated_too=False)
        if dead is not None:
            return dead
        time.sleep(POLL_SECONDS)
    if isinstance(exc, OSError | EOFError) and pool.method == "forkserver" and fork_server_ended():
        return WorkerError(describe_end(f"a pool worker for chunk {index}", None, None, False,
                                        pool.method, detail=repr(exc)))
    if isinstance(exc, OSError | EOFError):
        return WorkerError(f"a pool worker died while it was being started, before it received "
                           f"chunk {index} ({exc!r}; the fork server gave no pid or status)")
    return pool.dead_worker() or WorkerError(f"the pool broke while chunk {index} was pending: "
                                             f"{exc!r}")

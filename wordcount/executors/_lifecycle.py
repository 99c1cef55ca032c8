"""Starting, watching and stopping worker processes: the plumbing every process executor shares.

``run_processes`` starts one process per task and collects one result from each, failing within
a fraction of a second when a process dies without one, at whatever moment: while it starts, while
its chunk is sent, while it counts. Under ``spawn`` and ``forkserver`` the chunk is not a
``Process`` argument: CPython's spawn launcher writes the arguments into the child's pipe while the
parent still holds that pipe's read end, so a child that died before reading them all left the
parent blocked in the write for ever. The process is started with small arguments and its task is
then pickled and written by ``_send``, which watches the child while it writes. The bytes are the
same (the task pickled once, counted by ``Task.__reduce__``); only who writes them changed.

``stop`` terminates and reaps; ``interrupts_deferred`` keeps Ctrl-C (and the CLI's SIGTERM and
SIGHUP) from landing half-way through starting or stopping children. Each worker dies with the
process that started it (``_orphans``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import select
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from wordcount.errors import InvalidUTF8Error, WorkerError
from wordcount.executors._orphans import bind_to_parent, describe_end, expected_parent
from wordcount.executors._task import (
    TERMINATING_SIGNALS,
    ChunkResult,
    Task,
    first_error,
    portable_error,
    worker_signals,
)

#: How often the parent checks on its children while waiting for them (seconds).
POLL_SECONDS = 0.05
#: Grace for a child that exited cleanly to have its result read from the queue (seconds): its
#: result, if it sent one, was in the pipe before it exited.
LOST_RESULT_SECONDS = 0.5
#: What a worker puts on the results queue once it runs the package's code: its start is over.
STARTED = "started"
#: Whether ``_send`` can watch a child while it writes (``select.poll``, POSIX); elsewhere
#: (Windows, untested) the task is a ``Process`` argument: CPython's own path, and its hang.
_CAN_WATCH_WRITES = hasattr(select, "poll")
#: Pipe buffer asked for while a task is written (64 KiB by default on Linux).
PIPE_BYTES = 1 << 20


def _worker_main(results: mp.Queue, index: int, source: Task | Connection, parent: int | None,
                 count: Callable[[Task], ChunkResult]) -> None:
    """Body of every worker of ``run_processes``: report in, get the task, count, report."""
    worker_signals()
    bind_to_parent(parent)
    results.put((index, STARTED))
    try:
        task = source if isinstance(source, Task) else _receive(source)
        outcome: ChunkResult | Exception = count(task)
    except BaseException as exc:
        outcome = portable_error(index, exc)
    results.put((index, outcome))


def _receive(source: Connection) -> Task:
    """Unpickle the task ``_send`` writes (one copy of the chunk, as spawn's own loader makes)."""
    with os.fdopen(os.dup(source.fileno()), "rb") as pipe:
        task = pickle.load(pipe)
    source.close()
    return task


def _send(task: Task, writer: Connection, proc: BaseProcess, children: _Children) -> None:
    """Write the pickled ``task`` to ``proc``, failing as soon as ``proc`` has ended."""
    payload = memoryview(ForkingPickler.dumps(task))  # Task.__reduce__ counts it on the meter
    fd = writer.fileno()
    os.set_blocking(fd, False)
    with suppress(OSError, AttributeError):  # fewer wake-ups: a 1 MiB pipe (Linux's default cap)
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    poller.register(proc.sentinel, select.POLLIN)
    sent = 0
    try:
        while sent < len(payload):
            try:
                sent += os.write(fd, payload[sent:])
                continue
            except BlockingIOError:
                poller.poll(POLL_SECONDS * 1000)
            except BrokenPipeError:
                proc.join(1.0)
            if proc.exitcode is not None:
                raise children.failure(task.index)
    finally:
        payload.release()
        writer.close()


class _Children:
    """The processes of one call, what each has reported, and the error when one died."""

    def __init__(self, results: mp.Queue, method: str) -> None:
        self.results = results
        self.method = method
        self.procs: list[BaseProcess] = []
        self.started: set[int] = set()
        self.outcomes: dict[int, ChunkResult | Exception] = {}

    def take(self, index: int, outcome: object) -> None:
        if outcome == STARTED:
            self.started.add(index)
        else:
            self.outcomes[index] = outcome  # type: ignore[assignment]

    def drain(self) -> None:
        """Read what is already in the queue (a dead child may have sent something first)."""
        with suppress(queue.Empty):
            while True:
                self.take(*self.results.get(timeout=0.01))

    def failure(self, index: int) -> WorkerError:
        """The error for child ``index``, which ended without a result."""
        self.drain()
        p = self.procs[index]
        return WorkerError(describe_end(f"worker for chunk {index}", p.pid, p.exitcode,
                                        index in self.started, self.method))

    def collect(self) -> list[ChunkResult]:
        """One result per process, failing promptly when a process dies without one."""
        clean_exit_seen: dict[int, float] = {}
        waited = 0.0
        while len(self.outcomes) < len(self.procs):
            try:
                index, outcome = self.results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                waited += POLL_SECONDS
            else:
                self.take(index, outcome)
                if isinstance(outcome, Exception) and not isinstance(outcome, InvalidUTF8Error):
                    break  # fail now; invalid UTF-8 waits for the others to report the first offset
                continue
            for i, p in enumerate(self.procs):
                if i in self.outcomes or p.exitcode is None:
                    continue
                if p.exitcode != 0:
                    self.drain()
                    if i not in self.outcomes:
                        raise self.failure(i)
                elif waited - clean_exit_seen.setdefault(i, waited) > LOST_RESULT_SECONDS:
                    raise self.failure(i)
        errors = [o for o in self.outcomes.values() if isinstance(o, Exception)]
        if errors:
            raise first_error(errors)
        return sorted(self.outcomes.values(), key=lambda r: r.index)  # type: ignore[union-attr]


#: Signals held back while children start or are stopped (those with a Python handler).
_DEFERRABLE = (signal.SIGINT, *TERMINATING_SIGNALS)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT), and SIGTERM/SIGHUP where Python handles them, back while workers
    start or are stopped; each takes effect afterwards.

    ``Process.start()`` interrupted half-way leaves a child the parent holds no handle on, and an
    interrupted cleanup leaves workers running or a segment in /dev/shm. So, for the block, such a
    signal is only recorded (in the main thread's handler: the signal may land in any thread,
    numpy's included) and raised again at the end, where its own handler runs as usual. SIGINT is
    also blocked in this thread: children inherit the mask, across spawn's ``exec`` too, so a
    Ctrl-C sent to the whole process group cannot interrupt them while they import; they then
    ignore SIGINT for good (``worker_signals``) and leave it to the parent. A signal whose action
    is the default (SIGTERM in a program that set no handler) is left alone: it ends the process,
    and the workers end with it.
    """
    held: list[int] = []
    in_main = threading.current_thread() is threading.main_thread()
    old: dict[int, object] = {}
    if in_main:
        for sig in _DEFERRABLE:
            handler = signal.getsignal(sig)
            if sig == signal.SIGINT or callable(handler):
                old[sig] = signal.signal(sig, lambda signum, _frame: held.append(signum))
    masks = hasattr(signal, "pthread_sigmask")  # POSIX only
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if masks else None
    try:
        yield
    finally:
        if masks:  # a pending SIGINT lands in `held`
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)  # type: ignore[arg-type]
        for sig, handler in old.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # type: ignore[arg-type]
        for sig in dict.fromkeys(held):
            signal.raise_signal(sig)


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


def _start(ctx: mp.context.BaseContext, children: _Children, task: Task, parent: int | None,
           count: Callable[[Task], ChunkResult]) -> Connection | None:
    """Start the process for ``task``; the pipe to send it through, unless it was inherited."""
    reader = writer = None
    if children.method != "fork" and _CAN_WATCH_WRITES:
        reader, writer = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker_main, name=f"wordcount-{task.index}", daemon=True,
                       args=(children.results, task.index, reader or task, parent, count))
    try:
        proc.start()
    except (EOFError, OSError) as exc:  # the fork server died while starting (see describe_end)
        if writer is not None:
            writer.close()
        raise WorkerError(describe_end(f"worker for chunk {task.index}", None, None, False,
                                       children.method, detail=repr(exc))) from None
    finally:
        if reader is not None:
            reader.close()  # the child has its own copy now: its death closes the pipe
    children.procs.append(proc)
    return writer


def run_processes(ctx: mp.context.BaseContext, tasks: Sequence[Task],
                  count: Callable[[Task], ChunkResult]) -> list[ChunkResult]:
    """Count each of ``tasks`` (indices 0, 1, ...) with ``count`` in a process of its own."""
    children = _Children(ctx.Queue(), ctx.get_start_method())
    writers: list[Connection] = []
    try:
        parent = expected_parent(ctx)
        for task in tasks:
            with interrupts_deferred():
                writer = _start(ctx, children, task, parent, count)
            if writer is not None:
                writers.append(writer)
                _send(task, writer, children.procs[-1], children)
        return children.collect()
    finally:
        with interrupts_deferred():
            stop(children.procs)
            for w in writers:
                w.close()
            children.results.close()
            children.results.cancel_join_thread()

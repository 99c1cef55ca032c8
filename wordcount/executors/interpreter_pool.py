"""Isolated subinterpreters created once and kept between calls, each with a thread parked
inside it: the steady state of ``interpreters``, as a process pool is to one process per chunk.

Creating and closing an interpreter costs tens of milliseconds (about 49 ms on CPython 3.14
here) and every new one imports the kernel afresh; the ``interpreters`` executor pays both on
every call, which a reader should see, and this one pays them once. Entering an interpreter from
a new thread costs too (a fresh thread state each time: about 0.2 ms here, more than the
``native`` kernel needs for 16 MiB), so each interpreter keeps one thread that stays inside it,
waiting on a pipe for its next chunk: a call puts each chunk's names on the interpreter's
cross-interpreter queue, wakes its thread with one byte, and reads each finished chunk's index
from a pipe of its own. Each call takes the pool's first ``workers`` interpreters (creating what
is missing; the pool grows, never shrinks). What crosses is as in ``interpreters`` (a bytes-like
text shared as a read-only ``memoryview``, nothing copied; a ``str`` chunk copied; numpy refused),
and so are the results, errors and stops (``_inside.count_inside``).

Closed, every thread told to leave and joined, then every interpreter destroyed one after the
other: by ``close()``; at interpreter exit; and at once after any failed call (a kernel's error,
invalid UTF-8, Ctrl-C, a SIGTERM the caller turns into an exception), so a failure never leaves
an interpreter whose state is in doubt. One call runs at a time (``interpreters._LIFECYCLE``,
shared with the per-call executor, so no interpreter is created or destroyed while another
call's run).

And before this process forks (``os.fork``, multiprocessing's fork start method): a child forked
while subinterpreters exist, even idle ones, crashes at once (CPython 3.13.0 aborts, "the
function must be called with the GIL held"; 3.14.10 and 3.15.2 segfault: measured here with no
code of this project), and one forked beside a running thread can hang; so the pool is closed
first, threads and all, and the next call makes a new one.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import struct
import sys
import threading
from collections.abc import Callable

from wordcount.errors import InvalidUTF8Error, WorkerError
from wordcount.executors import _subinterpreters as sub
from wordcount.executors._lifecycle import interrupts_deferred
from wordcount.executors._task import ChunkResult, Task, first_error
from wordcount.executors.interpreters import (
    _LIFECYCLE,
    BLOCK_BYTES,
    POLL_SECONDS,
    _Call,
    _Chunk,
    _outcome,
    _release,
    prepare,
)
from wordcount.measure import Measurement
from wordcount.text import Text, block_spans, chunk_spans

# The code each pooled interpreter's thread runs until it is told to leave.
_SERVE = """\
import sys
sys.path[:] = list(_wc_path)
from wordcount.executors._inside import serve
serve({get}, _wc_wake, _wc_done)
"""


class _Worker:
    """One pooled interpreter, its queue, and the thread parked inside it."""

    def __init__(self, done: int) -> None:
        self.interp = sub.create()
        self.chunk: _Chunk | None = None  # the chunk it was last given
        self.failure: sub.Failure | None = None  # why its thread left the interpreter
        self.error: BaseException | None = None
        try:
            self.queue = sub.create_queue()
            self.wake_read, self.wake = os.pipe()
            sub.bind(self.interp, {"_wc_path": tuple(sys.path), "_wc_wake": self.wake_read,
                                   "_wc_done": done, "_wc_queue": sub.queue_ref(self.queue)})
            self.done = done
            self.thread = threading.Thread(target=self._serve, daemon=True,
                                           name=f"wordcount-interp-pool-{self.interp}")
            self.thread.start()
        except BaseException:
            sub.destroy(self.interp)
            raise

    def _serve(self) -> None:
        """The thread: inside the interpreter until told to leave, or until a chunk's kernel
        raised (then that chunk is reported done, with the failure, and the pool is closed)."""
        failure: sub.Failure | None = None
        error: BaseException | None = None
        try:
            failure = sub.run(self.interp, _SERVE.format(get=sub.queue_get_code("_wc_queue")))
        except BaseException as exc:
            error = exc
        self.failure, self.error = failure, error
        chunk = self.chunk
        if (failure or error) and chunk is not None:
            chunk.failure, chunk.error = failure, error
            os.write(self.done, struct.pack("<I", chunk.index))

    def give(self, chunk: _Chunk, data: object, blocks: tuple, ref: tuple[str, str],
             stop: bytearray) -> None:
        """Hand ``chunk`` over and wake the thread."""
        self.chunk = chunk
        meta = json.dumps({"index": chunk.index, "blocks": blocks, "kernel": ref}).encode()
        for item in (data, meta, memoryview(stop), memoryview(chunk.out)):
            sub.queue_put(self.queue, item)
        os.write(self.wake, b"x")

    def close(self) -> None:
        """Tell the thread to leave (after the block it is counting), join it, destroy all."""
        try:
            if self.thread.is_alive():
                sub.queue_put(self.queue, None)
                os.write(self.wake, b"x")
            self.thread.join()
        finally:
            for fd in (self.wake, self.wake_read):
                os.close(fd)
            sub.destroy(self.interp)
            sub.destroy_queue(self.queue)


class _Pool:
    """The interpreters kept by this process, created on demand, destroyed together."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.workers: list[_Worker] = []
        self.done_read = self.done_write = -1

    def take(self, n: int) -> list[_Worker]:
        """The first ``n`` workers, creating those missing one after the other."""
        if self.owner != os.getpid():  # a fork child: the parent's interpreters are not here
            self.owner, self.workers, self.done_read, self.done_write = os.getpid(), [], -1, -1
        if self.done_read < 0:
            self.done_read, self.done_write = os.pipe()
        while len(self.workers) < n:
            with interrupts_deferred():  # created and recorded, or neither
                self.workers.append(_Worker(self.done_write))
        return self.workers[:n]

    def close(self) -> None:
        """Stop and destroy every worker of the pool, one after the other."""
        if self.owner != os.getpid():
            self.workers = []
            return
        with interrupts_deferred():  # a second Ctrl-C must not leave an interpreter behind
            while self.workers:
                self.workers.pop().close()
            if self.done_read >= 0:
                os.close(self.done_read)
                os.close(self.done_write)
                self.done_read = self.done_write = -1


_POOL = _Pool()


def run(text: Text, workers: int, kernel: Callable[..., int], *,
        start_method: str | None, measure: Measurement) -> list[ChunkResult]:
    """Count each chunk in one of the pool's interpreters, by the thread parked in it."""
    call = prepare(text, kernel, measure)
    spans = chunk_spans(call.source, workers)
    with _LIFECYCLE:
        finished = False
        try:
            results = _count(call, spans, _POOL.take(len(spans)))
            finished = True
            return results
        finally:
            call.stop[0] = 1
            if not finished:
                _POOL.close()  # joins the threads, so nothing holds the view after this
            if call.view is not None:
                _release(call.view)


def _count(call: _Call, spans: list[tuple[int, int]], workers: list[_Worker]) -> list[ChunkResult]:
    """Give chunk ``i`` of ``spans`` to ``workers[i]``, then wait for every one."""
    for i, (a, b) in enumerate(spans):
        call.chunks.append(_Chunk(i, a, b, bytearray(4096), workers[i].interp))
    with interrupts_deferred():  # every chunk handed over, or the pool closed by the caller
        for chunk, worker in zip(call.chunks, workers, strict=True):
            a, b = chunk.start, chunk.end
            if call.view is None:  # a str: only its chunk crosses, as CPython's copy
                text = call.text
                data: object = text if (a, b) == (0, len(text)) else text[a:b]
                blocks = tuple((x - a, y - a) for x, y in block_spans(text, a, b, BLOCK_BYTES))
            else:
                data, blocks = call.view, tuple(block_spans(call.view, a, b, BLOCK_BYTES))
            worker.give(chunk, data, blocks, call.ref, call.stop)
            del data
    return _collect(call, _POOL.done_read, workers)


def _finished(done: int, workers: list[_Worker], pending: set[int]) -> list[int]:
    """Indices of chunks finished since the last look (waiting at most ``POLL_SECONDS``, so the
    main thread wakes to run a Ctrl-C handler); a chunk whose thread has left its interpreter
    without saying so (it cannot count any more) is reported as finished, failed."""
    if select.select([done], [], [], POLL_SECONDS)[0]:
        return list(struct.unpack("<I", os.read(done, 4)))
    lost = [i for i in pending if not workers[i].thread.is_alive()]
    if lost and select.select([done], [], [], 0)[0]:
        return []  # its last word arrived meanwhile: read on the next look
    for i in lost:
        chunk = workers[i].chunk
        if chunk is not None and chunk.failure is None and chunk.error is None:
            chunk.failure, chunk.error = workers[i].failure, workers[i].error
    return lost


def _collect(call: _Call, done: int, workers: list[_Worker]) -> list[ChunkResult]:
    """Wait for every chunk; on a failure other than invalid UTF-8, stop the others at once."""
    results: list[ChunkResult] = []
    errors: list[Exception] = []
    pending = set(range(len(call.chunks)))
    while pending:
        finished = _finished(done, workers, pending)
        pending.difference_update(finished)
        for index in finished:
            _judge(call, call.chunks[index], results, errors)
    if errors:
        raise first_error(errors)
    if len(results) != len(call.chunks):
        raise WorkerError("a subinterpreter stopped before counting its chunk")
    return sorted(results, key=lambda r: r.index)


def _judge(call: _Call, chunk: _Chunk, results: list[ChunkResult],
           errors: list[Exception]) -> None:
    """Put a finished chunk's outcome in ``results`` or ``errors``; on a failure other than
    invalid UTF-8, tell the other chunks to stop."""
    if call.measure.capture is not None:  # a profiler's hook runs in the caller's process
        call.measure.capture.task_done(Task(chunk.index, call.kernel, call.source, chunk.start,
                                            chunk.end, chunk.start, call.measure))
    outcome = _outcome(chunk, call.measure)
    if isinstance(outcome, ChunkResult):
        results.append(outcome)
    elif outcome is not None:
        errors.append(outcome)
        if not isinstance(outcome, InvalidUTF8Error):
            call.stop[0] = 1


def size() -> int:
    """How many interpreters the pool holds now."""
    return len(_POOL.workers) if _POOL.owner == os.getpid() else 0


def close() -> None:
    """Destroy the pool's interpreters now (a later call creates new ones)."""
    with _LIFECYCLE:
        _POOL.close()


atexit.register(close)
os.register_at_fork(before=close)

"""One isolated subinterpreter per chunk, each run in its own thread of the caller's process.

Each interpreter has its own GIL (PEP 684), so ``str.split`` in two of them runs in parallel,
in one process, which two plain threads cannot do. A bytes-like text (``bytes``, ``bytearray``,
``mmap``, ``memoryview``) reaches every interpreter as a read-only ``memoryview`` of the caller's
buffer: nothing is copied; ``split`` decodes its chunk inside its interpreter, ``native`` reads
it in place. A ``str`` chunk crosses as the copy CPython makes of it (its 1, 2 or 4 bytes per
code point), which the receiving interpreter measures and the call's meter counts as copied.

NumPy does not load in a subinterpreter (numpy/numpy#24755), so the numpy kernel is refused
before any interpreter starts. A kernel must be importable by module and name, as for worker
processes; the interpreter imports it (and ``wordcount``) afresh.

Nothing can interrupt code running in a subinterpreter from outside (signals reach only the main
interpreter), so each chunk is counted in blocks of at most about ``BLOCK_BYTES`` (64 MiB), cut at
whitespace, and the interpreter looks at a shared stop flag between them: a Ctrl-C, a SIGTERM
handled by the caller, or another chunk's failure stops every interpreter within one block's
work. The caller creates the interpreters one after the other before any runs, starts one
thread each, joins them all, and only then destroys the interpreters one after the other, on
every path (``_LIFECYCLE``). While any exists, ``sys._current_frames()`` and
``sys._current_exceptions()`` raise instead of walking every interpreter's threads, which aborts
the process in CPython 3.13 (``_subinterpreters``; Dask's profiler made such calls).
"""

from __future__ import annotations

import json
import os
import queue
import struct
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from wordcount.errors import InvalidUTF8Error, WorkerError
from wordcount.executors import REFUSED
from wordcount.executors import _subinterpreters as sub
from wordcount.executors._inside import thread_faults
from wordcount.executors._lifecycle import interrupts_deferred
from wordcount.executors._task import ChunkResult, InterpreterMemory, Task, first_error
from wordcount.measure import Measurement, in_caller
from wordcount.text import Text, block_spans, chunk_spans

#: Bytes of text an interpreter counts between two looks at the stop flag: a stop waits for at
#: most one block (``split``: under a second at 64 MiB here; ``native``: milliseconds). It also
#: bounds ``split``'s word list to one block's per interpreter, for chunks larger than this.
BLOCK_BYTES = 64 << 20
#: Held for a whole call: interpreters are created one at a time before any runs, and destroyed
#: one at a time once none runs, and two calls never overlap. Brought in when CPython 3.13.0
#: aborted the process ("double free or corruption", a frame freed while another interpreter was
#: being finalized), as in CPython's reports of concurrent subinterpreter lifecycles; that abort
#: was most likely Dask's profiler walking every interpreter's frames (see ``_subinterpreters``),
#: but this has not been re-tested without the lock, so it stays.
_LIFECYCLE = threading.Lock()
#: How often the caller wakes while waiting for its threads (seconds), so a Ctrl-C is seen.
POLL_SECONDS = 0.05
#: Room for one chunk's result, written by its interpreter (a length, then JSON).
_RESULT_BYTES = 4096
#: How long ``close`` waits for interpreters to give back their share of the text's buffer.
RELEASE_SECONDS = 1.0


# The code each interpreter runs: names bound by ``bind`` start with ``_wc_``.
_BOOT = """\
import sys
sys.path[:] = list(_wc_path)
from wordcount.executors._inside import count_inside
try:
    count_inside(_wc_data, _wc_blocks, _wc_kernel, _wc_stop, _wc_out, _wc_start_faults)
finally:
    del _wc_data, _wc_blocks, _wc_stop, _wc_out
"""


@dataclass
class _Chunk:
    """One chunk's interpreter, what it is given, and what came back."""

    index: int
    start: int
    end: int
    out: bytearray
    interp: int | None = None
    failure: sub.Failure | None = None
    error: BaseException | None = None

    def result(self) -> dict[str, object]:
        (size,) = struct.unpack_from("<I", self.out)
        return json.loads(bytes(self.out[4 : 4 + size])) if size else {"status": "lost"}


def _kernel_ref(kernel: Callable[..., int]) -> tuple[str, str]:
    """Where an interpreter can import ``kernel`` from; ``ValueError`` for one it cannot."""
    module, name = getattr(kernel, "__module__", None), getattr(kernel, "__qualname__", "")
    if not module or not name or "<" in name:
        raise ValueError(f"the interpreters executor imports its kernel by module and name; "
                         f"{kernel!r} is not importable at top level")
    return module, name


def refusal(kernel: Callable[..., int]) -> str | None:
    """Why ``kernel`` cannot run in a subinterpreter, or None."""
    from wordcount import kernels

    numpy_kernel = sys.modules.get("wordcount.kernels.numpy_kernel")
    if kernel is kernels.count_numpy or (numpy_kernel is not None
                                         and kernel is numpy_kernel.count_numpy):
        return REFUSED[("numpy", "interpreters")]
    return None


def _thread_main(chunk: _Chunk, names: dict[str, object], task: Task, done: queue.Queue) -> None:
    """Hand the chunk to its interpreter and count there, in this thread; the caller created the
    interpreter and destroys it once every thread of the call is done (see ``_LIFECYCLE``)."""
    try:
        names["_wc_start_faults"] = thread_faults()
        sub.bind(chunk.interp, names)
        names.clear()  # a str chunk's parent-side slice is freed once copied across
        chunk.failure = sub.run(chunk.interp, _BOOT)
    except BaseException as exc:
        chunk.error = exc
    finally:
        names.clear()
        try:
            if task.measure.capture is not None:  # a profiler's hook runs in the caller's process
                task.measure.capture.task_done(task)
        finally:
            done.put(chunk.index)


def _outcome(chunk: _Chunk, measure: Measurement) -> ChunkResult | Exception | None:
    """The chunk's result, its error, or None when it stopped early."""
    where = f"subinterpreter {chunk.interp}"
    if chunk.error is not None:
        return WorkerError(f"worker for chunk {chunk.index} failed ({where}): "
                           f"{type(chunk.error).__name__}: {chunk.error}")
    if chunk.failure is not None:
        return WorkerError(f"worker for chunk {chunk.index} failed ({where}): "
                           f"{chunk.failure.formatted.strip()}")
    res = chunk.result()
    if res["status"] == "utf8":
        return InvalidUTF8Error(int(res["offset"]), str(res["reason"]))  # type: ignore[arg-type]
    if res["status"] != "done":
        return None
    if measure.meter is not None and res["copied"]:
        measure.meter.add(int(res["copied"]))  # type: ignore[arg-type]
    memory = InterpreterMemory(chunk.interp, int(res["faulted"]),  # type: ignore[arg-type]
                               int(res["setup_faulted"]))  # type: ignore[arg-type]
    return ChunkResult(chunk.index, int(res["count"]), os.getpid(),  # type: ignore[arg-type]
                       interpreter=memory)


def run(text: Text, workers: int, kernel: Callable[..., int], *,
        start_method: str | None, measure: Measurement) -> list[ChunkResult]:
    """Count each chunk in its own subinterpreter and thread over the shared text."""
    call = prepare(text, kernel, measure)
    spans = chunk_spans(call.source, workers)
    with _LIFECYCLE:
        interps: list[int] = []
        try:
            for _ in spans:
                with interrupts_deferred():  # created and recorded, or neither
                    interps.append(sub.create())
            return call.count(spans, interps)
        finally:
            call.close()
            with interrupts_deferred():  # a second Ctrl-C must not leave an interpreter behind
                for interp in interps:
                    sub.destroy(interp)


def prepare(text: Text, kernel: Callable[..., int], measure: Measurement) -> _Call:
    """A call over ``text``, once ``kernel`` is known to run in a subinterpreter."""
    reason = refusal(kernel)
    if reason:
        raise ValueError(f"{reason}; choose the split or native kernel")
    return _Call(text, kernel, _kernel_ref(kernel), in_caller(measure))


class _Call:
    """One call's threads and shared buffers over interpreters its caller owns: one thread per
    chunk, each running its chunk in its interpreter; ``close`` stops and joins them all and
    gives the text's buffer back, on every path, before the caller destroys (or keeps) them."""

    def __init__(self, text: Text, kernel: Callable[..., int], ref: tuple[str, str],
                 measure: Measurement) -> None:
        self.text, self.kernel, self.ref, self.measure = text, kernel, ref, measure
        self.view = None if isinstance(text, str) else memoryview(text).toreadonly()
        self.source: object = text if self.view is None else self.view
        self.stop = bytearray(1)
        self.chunks: list[_Chunk] = []
        self.threads: list[threading.Thread] = []
        self.done: queue.Queue = queue.Queue()

    def count(self, spans: list[tuple[int, int]], interps: list[int]) -> list[ChunkResult]:
        """Count chunk ``i`` of ``spans`` in ``interps[i]``, each in its own thread."""
        for i, ((a, b), interp) in enumerate(zip(spans, interps, strict=True)):
            self.chunks.append(_Chunk(i, a, b, bytearray(_RESULT_BYTES), interp))
        for chunk in self.chunks:
            self._start_thread(chunk)
        return _collect(self.chunks, self.done, self.stop, self.measure)

    def _start_thread(self, chunk: _Chunk) -> None:
        a, b = chunk.start, chunk.end
        if self.view is None:  # a str: only its chunk crosses, as CPython's copy
            text = self.text
            data: object = text if (a, b) == (0, len(text)) else text[a:b]
            blocks = tuple((x - a, y - a) for x, y in block_spans(text, a, b, BLOCK_BYTES))
        else:
            data, blocks = self.view, tuple(block_spans(self.view, a, b, BLOCK_BYTES))
        # Started and recorded, or neither: a Ctrl-C waits for the end of this.
        with interrupts_deferred():
            names = {"_wc_path": tuple(sys.path), "_wc_data": data, "_wc_blocks": blocks,
                     "_wc_kernel": self.ref, "_wc_stop": memoryview(self.stop),
                     "_wc_out": memoryview(chunk.out)}
            del data
            task = Task(chunk.index, self.kernel, self.source, a, b, a, self.measure)
            thread = threading.Thread(target=_thread_main, name=f"wordcount-interp-{chunk.index}",
                                      daemon=True, args=(chunk, names, task, self.done))
            thread.start()
            self.threads.append(thread)

    def close(self) -> None:
        """Stop and join every thread, then give the text's buffer back: on every path."""
        self.stop[0] = 1
        with interrupts_deferred():  # a second Ctrl-C must not leave a thread running
            for t in self.threads:
                t.join()
            if self.view is not None:
                _release(self.view)


def _release(view: memoryview) -> None:
    """Release ``view`` once no interpreter holds it: an interpreter that drops its share of a
    buffer hands the release to the owner's pending calls, which this thread runs between
    bytecodes, so it is retried briefly; the view is left to the garbage collector after that."""
    deadline = time.monotonic() + RELEASE_SECONDS
    while True:
        try:
            view.release()
            return
        except BufferError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.001)


def _collect(chunks: list[_Chunk], done: queue.Queue, stop: bytearray,
             measure: Measurement) -> list[ChunkResult]:
    """Wait for every chunk; on a failure other than invalid UTF-8, stop the others at once."""
    results: list[ChunkResult] = []
    errors: list[Exception] = []
    pending = len(chunks)
    while pending:
        # In short slices: the main thread must wake to run a Ctrl-C handler.
        with suppress(queue.Empty):
            index = done.get(timeout=POLL_SECONDS)
            pending -= 1
            outcome = _outcome(chunks[index], measure)
            if isinstance(outcome, ChunkResult):
                results.append(outcome)
            elif outcome is not None:
                errors.append(outcome)
                if not isinstance(outcome, InvalidUTF8Error):
                    stop[0] = 1
    if errors:
        raise first_error(errors)
    if len(results) != len(chunks):
        raise WorkerError("a subinterpreter stopped before counting its chunk")
    return sorted(results, key=lambda r: r.index)


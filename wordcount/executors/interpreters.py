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
work. Each thread creates its interpreter and destroys it on every path; the caller joins every
thread before it returns or raises.
"""

from __future__ import annotations

import json
import os
import queue
import struct
import sys
import threading
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
#: How often the caller wakes while waiting for its threads (seconds), so a Ctrl-C is seen.
POLL_SECONDS = 0.05
#: Room for one chunk's result, written by its interpreter (a length, then JSON).
_RESULT_BYTES = 4096


# The code each interpreter runs: names bound by ``bind`` start with ``_wc_``.
_BOOT = """\
import sys
sys.path[:] = list(_wc_path)
from wordcount.executors._inside import count_inside
count_inside(_wc_data, _wc_blocks, _wc_kernel, _wc_stop, _wc_out, _wc_start_faults)
del _wc_data
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
    """Create the chunk's interpreter, count there, destroy it: in this thread, so that the
    interpreters of one call start and end in parallel (tens of milliseconds each)."""
    try:
        names["_wc_start_faults"] = thread_faults()
        chunk.interp = sub.create()
        try:
            sub.bind(chunk.interp, names)
            names.clear()  # a str chunk's parent-side slice is freed once copied across
            chunk.failure = sub.run(chunk.interp, _BOOT)
        finally:
            names.clear()
            sub.destroy(chunk.interp)
    except BaseException as exc:
        chunk.error = exc
    finally:
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
    reason = refusal(kernel)
    if reason:
        raise ValueError(f"{reason}; choose the split or native kernel")
    ref = _kernel_ref(kernel)
    measure = in_caller(measure)
    view = None if isinstance(text, str) else memoryview(text).toreadonly()
    source = text if view is None else view
    spans = chunk_spans(source, workers)
    stop = bytearray(1)
    chunks: list[_Chunk] = []
    threads: list[threading.Thread] = []
    done: queue.Queue = queue.Queue()
    try:
        for i, (a, b) in enumerate(spans):
            if view is None:  # a str: only its chunk crosses, as CPython's copy
                data: object = text if (a, b) == (0, len(text)) else text[a:b]
                blocks = tuple((x - a, y - a) for x, y in block_spans(text, a, b, BLOCK_BYTES))
            else:
                data, blocks = view, tuple(block_spans(view, a, b, BLOCK_BYTES))
            # Started and recorded, or neither: a Ctrl-C waits for the end of this.
            with interrupts_deferred():
                chunk = _Chunk(i, a, b, bytearray(_RESULT_BYTES))
                chunks.append(chunk)
                names = {"_wc_path": tuple(sys.path), "_wc_data": data, "_wc_blocks": blocks,
                         "_wc_kernel": ref, "_wc_stop": memoryview(stop),
                         "_wc_out": memoryview(chunk.out)}
                del data
                thread = threading.Thread(
                    target=_thread_main, name=f"wordcount-interp-{i}", daemon=True,
                    args=(chunk, names, Task(i, kernel, source, a, b, a, measure), done))
                thread.start()
                threads.append(thread)
        return _collect(chunks, done, stop, measure)
    finally:
        stop[0] = 1
        with interrupts_deferred():  # a second Ctrl-C must not leave an interpreter behind
            for t in threads:
                t.join()  # each thread destroys its own interpreter before it ends
            if view is not None:
                view.release()


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


"""What crosses to a worker (``Task``), what comes back (``ChunkResult``), and the worker body.

Shared by every executor so that all of them count, report memory and map errors the same way.
"""

from __future__ import annotations

import os
import pickle
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from wordcount.errors import InvalidUTF8Error, WorkerError
from wordcount.measure import NOTHING, Measurement
from wordcount.procmem import WorkerMemory, worker_memory

_ENCODE_BLOCK = 1 << 20
#: Bytes a pickled task carries besides its payload (kernel reference, offsets), as counted.
ENVELOPE_BYTES = 64


def _utf8_size(text: str) -> int:
    """Bytes pickle writes for ``text`` (UTF-8), computed in blocks to keep memory flat."""
    if text.isascii():
        return len(text)
    return sum(
        len(text[i : i + _ENCODE_BLOCK].encode("utf-8", "surrogatepass"))
        for i in range(0, len(text), _ENCODE_BLOCK)
    )


def payload_size(data: object) -> int:
    """Bytes a pickled ``data`` carries: the text itself, or the pickle of a small object."""
    if isinstance(data, str):
        return _utf8_size(data)
    try:
        with memoryview(data) as view:  # type: ignore[arg-type]
            return view.nbytes
    except TypeError:
        return len(pickle.dumps(data))


def chunk_copy(text: object, start: int, end: int) -> object:
    """``text[start:end]`` as a picklable object: ``str`` or ``bytes`` (a copy, as slicing is)."""
    if isinstance(text, str | bytes):
        return text[start:end]
    with memoryview(text) as view:  # type: ignore[arg-type]
        return bytes(view[start:end])


@dataclass(frozen=True)
class Task:
    """One chunk of work: count ``data[start:end]`` with ``kernel``.

    ``offset`` is where ``data[start]`` lies in the caller's whole text, so error offsets refer to
    the caller's text. ``measure`` is the call's measurement context: its meter counts this task's
    bytes when it is pickled (and stays behind), its probe flag and capture hook travel with it.
    """

    index: int
    kernel: Callable[..., int]
    data: object
    start: int
    end: int
    offset: int
    measure: Measurement = field(default=NOTHING, compare=False, repr=False)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        m = self.measure
        if m.meter is not None:
            m.meter.add(payload_size(self.data) + ENVELOPE_BYTES)
        # The hook comes first: unpickling it may start a capture that should see the data's.
        return (_unpickled_task, (m.capture, m.probe, self.index, self.kernel, self.data,
                                  self.start, self.end, self.offset))


def _unpickled_task(capture: object, probe: bool, *fields: object) -> Task:
    measure = NOTHING if capture is None and not probe else \
        Measurement(probe=probe, capture=capture)  # type: ignore[arg-type]
    return Task(*fields, measure=measure)  # type: ignore[arg-type]


@dataclass(frozen=True)
class InterpreterMemory:
    """What can be told of one subinterpreter's memory (the ``interpreters`` executor).

    It shares the caller's process, so it has no resident set or peak of its own; what is its own
    is its thread's minor page faults: the bytes of pages that thread was first to touch, while
    counting (``faulted_bytes``) and before, receiving its chunk and importing its kernel
    (``setup_faulted_bytes``). Memory it reused (freed earlier in the process) is not among them,
    nor is memory it freed again: a lower bound on what it allocated, not a peak.
    """

    interpreter_id: int
    faulted_bytes: int
    setup_faulted_bytes: int


@dataclass(frozen=True)
class ChunkResult:
    """A chunk's count, which process counted it and, when probed, that process's memory (or,
    for a subinterpreter, what can be told of its memory)."""

    index: int
    count: int
    pid: int
    memory: WorkerMemory | None = None
    interpreter: InterpreterMemory | None = None


def run_task(task: Task, data: object | None = None) -> ChunkResult:
    """Count one task (``data`` overrides ``task.data``, e.g. a view of shared memory)."""
    try:
        count = task.kernel(task.data if data is None else data, task.start, task.end)
        return ChunkResult(task.index, int(count), os.getpid(),
                           worker_memory() if task.measure.probe else None)
    except InvalidUTF8Error as exc:
        raise exc.shifted(task.offset) from None
    finally:
        if task.measure.capture is not None:
            task.measure.capture.task_done(task)


#: Signals that end a process (SIGHUP exists on POSIX only).
TERMINATING_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def worker_signals() -> None:
    """Workers leave Ctrl-C to the parent, which stops them (no traceback from each child), and
    end at once on SIGTERM or SIGHUP: a fork child inherits the parent's Python handlers (the
    CLI's, or ``interrupts_deferred``'s recorder), which would make it deaf to ``terminate()``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in TERMINATING_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)


def portable_error(index: int, exc: BaseException) -> Exception:
    """An exception that survives pickling back to the parent and says which worker failed."""
    if isinstance(exc, InvalidUTF8Error):
        return exc
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return WorkerError(f"worker for chunk {index} failed (pid {os.getpid()}): {detail}")


def first_error(errors: list[Exception]) -> Exception:
    """The error to raise when several chunks failed: the earliest invalid byte, else the first."""
    utf8 = [e for e in errors if isinstance(e, InvalidUTF8Error)]
    return min(utf8, key=lambda e: e.offset) if utf8 else errors[0]

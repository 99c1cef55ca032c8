"""What crosses to a worker (``Task``), what comes back (``ChunkResult``), and the worker body.

Shared by every executor so that all of them count, report memory and map errors the same way.
"""

from __future__ import annotations

import os
import pickle
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from wordcount import transfer
from wordcount.errors import InvalidUTF8Error, WorkerError
from wordcount.procmem import WorkerMemory, worker_memory

_ENCODE_BLOCK = 1 << 20


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


class CaptureHook(Protocol):
    """A profiler's hook into worker processes (``wcbench.flamegraphs`` captures with memray).

    A task carries the hook ahead of its data, so a hook whose unpickling starts a capture in a
    spawn or forkserver worker sees the chunk being unpickled; ``task_done`` runs in whichever
    process ran the task, once its result exists and before it is sent (children end in
    ``os._exit``, which would lose an open capture).
    """

    def task_done(self) -> None: ...


_capture: CaptureHook | None = None


@contextmanager
def capturing(hook: CaptureHook) -> Iterator[None]:
    """Attach ``hook`` to every task made in this process until the block ends (off otherwise)."""
    global _capture
    if _capture is not None:
        raise RuntimeError("a capture is already open")
    _capture = hook
    try:
        yield
    finally:
        _capture = None


@dataclass(frozen=True)
class Task:
    """One chunk of work: count ``data[start:end]`` with ``kernel``.

    ``offset`` is where ``data[start]`` lies in the caller's whole text, so error offsets refer to
    the caller's text; ``probe`` asks the worker to report its memory. ``capture`` is the hook of
    an open ``capturing()`` block when the task is made (None, and free, otherwise).
    """

    index: int
    kernel: Callable[..., int]
    data: object
    start: int
    end: int
    offset: int
    probe: bool = False
    capture: CaptureHook | None = field(default_factory=lambda: _capture, compare=False,
                                        repr=False)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        transfer.record(lambda: payload_size(self.data) + 64)
        fields = (self.index, self.kernel, self.data, self.start, self.end, self.offset, self.probe)
        if self.capture is None:
            return (Task, fields)
        return (_captured_task, (self.capture, *fields))  # the hook is unpickled before the data


def _captured_task(capture: CaptureHook, *fields: object) -> Task:
    return Task(*fields, capture=capture)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ChunkResult:
    """A chunk's count, which process counted it and, when probed, that process's memory."""

    index: int
    count: int
    pid: int
    memory: WorkerMemory | None = None


def run_task(task: Task, data: object | None = None) -> ChunkResult:
    """Count one task (``data`` overrides ``task.data``, e.g. a view of shared memory)."""
    try:
        count = task.kernel(task.data if data is None else data, task.start, task.end)
        return ChunkResult(task.index, int(count), os.getpid(),
                           worker_memory() if task.probe else None)
    except InvalidUTF8Error as exc:
        raise exc.shifted(task.offset) from None
    finally:
        if task.capture is not None:
            task.capture.task_done()


def ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops them; no traceback from each child."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def portable_error(index: int, exc: BaseException) -> Exception:
    """An exception that survives pickling back to the parent and says which worker failed."""
    if isinstance(exc, InvalidUTF8Error):
        return exc
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return WorkerError(f"worker for chunk {index} failed (pid {os.getpid()}): {detail}")


def describe_exit(index: int, pid: int | None, exitcode: int | None) -> str:
    """'worker for chunk 2 (pid 123) was killed by SIGKILL' and the like."""
    if exitcode is not None and exitcode < 0:
        try:
            how = f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"was killed by signal {-exitcode}"
    else:
        how = f"exited with status {exitcode} without a result"
    return f"worker for chunk {index} (pid {pid}) {how}"


def first_error(errors: list[Exception]) -> Exception:
    """The error to raise when several chunks failed: the earliest invalid byte, else the first."""
    utf8 = [e for e in errors if isinstance(e, InvalidUTF8Error)]
    return min(utf8, key=lambda e: e.offset) if utf8 else errors[0]

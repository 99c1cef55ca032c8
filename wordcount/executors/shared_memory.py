"""The text placed once in ``multiprocessing.shared_memory``; workers get a name and offsets.

Nothing but the block's name and ``(start, end)`` crosses to a worker, whatever the start method:
the parent writes the UTF-8 text into the block once (``str`` is encoded block by block straight
into it), and each worker maps the block and counts its byte range in place. The block is
unlinked on every exit path; if the parent itself is killed, multiprocessing's resource tracker
unlinks it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory

from wordcount.executors._contexts import get_context
from wordcount.executors._lifecycle import interrupts_deferred, run_processes
from wordcount.executors._task import ChunkResult, Task, payload_size, run_task
from wordcount.measure import Measurement
from wordcount.text import Text, chunk_spans

_ENCODE_BLOCK = 1 << 20


@dataclass(frozen=True)
class SharedText:
    """A reference to UTF-8 text in a shared-memory block: all a worker is sent."""

    name: str
    size: int


@contextmanager
def attach(ref: SharedText) -> Iterator[memoryview]:
    """Map the block without registering it with the resource tracker: the parent owns it."""
    if sys.version_info >= (3, 13):
        shm = SharedMemory(name=ref.name, track=False)
    else:  # 3.11/3.12 register every attach, and the tracker would unlink or warn on our behalf
        register = resource_tracker.register
        resource_tracker.register = lambda name, rtype: None
        try:
            shm = SharedMemory(name=ref.name)
        finally:
            resource_tracker.register = register
    view = shm.buf[: ref.size]
    try:
        yield view
    finally:
        view.release()
        shm.close()


def _count_shared(task: Task) -> ChunkResult:
    """Worker side: count the task's byte range of the block, mapped in place."""
    with attach(task.data) as view:  # type: ignore[arg-type]
        return run_task(task, data=view)


def _fill(shm: SharedMemory, text: Text) -> int:
    """Write ``text`` as UTF-8 into the block; returns the number of bytes written."""
    if not isinstance(text, str):
        size = memoryview(text).nbytes
        shm.buf[:size] = text
        return size
    pos = 0
    for i in range(0, len(text), _ENCODE_BLOCK):
        try:
            raw = text[i : i + _ENCODE_BLOCK].encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"text has a lone surrogate at index {i + exc.start}, which has no UTF-8 "
                "encoding to place in shared memory"
            ) from None
        shm.buf[pos : pos + len(raw)] = raw
        pos += len(raw)
    return pos


def run(text: Text, workers: int, kernel: Callable[..., int], *,
        start_method: str | None, measure: Measurement) -> list[ChunkResult]:
    """Copy the text into one shared block and count byte ranges of it in worker processes."""
    shm = None
    try:
        with interrupts_deferred():  # a Ctrl-C between creating and holding the block would leak it
            shm = SharedMemory(create=True, size=max(payload_size(text), 1))
        size = _fill(shm, text)
        view = shm.buf[:size]
        try:
            spans = chunk_spans(view, workers)
        finally:
            view.release()
        ref = SharedText(shm.name, size)
        tasks = [Task(i, kernel, ref, a, b, a, measure) for i, (a, b) in enumerate(spans)]
        return run_processes(get_context(start_method), tasks, _count_shared)
    finally:
        if shm is not None:
            with interrupts_deferred():
                shm.close()
                shm.unlink()

"""Isolated subinterpreters created once and reused across calls: the steady state of
``interpreters``, as a process pool is to one process per chunk.

Creating and closing an interpreter costs tens of milliseconds (about 49 ms on CPython 3.14
here) and every new one imports the kernel afresh; the ``interpreters`` executor pays both on
every call, which a reader should see, and this one pays them once. Each call takes the pool's
first ``workers`` interpreters (creating what is missing; the pool grows, never shrinks) and
runs one chunk in each, in a thread of its own started for the call and joined before it
returns: between calls the pool holds interpreters but no thread, so a process that forks later
forks one thread. What crosses is as in ``interpreters`` (a bytes-like text shared as a
read-only ``memoryview``, nothing copied; a ``str`` chunk copied; numpy refused).

Closed, every interpreter destroyed one after the other: by ``close()``; at interpreter exit;
and at once after any failed call (a kernel's error, invalid UTF-8, Ctrl-C, a SIGTERM the
caller turns into an exception), so a failure never leaves an interpreter whose state is in
doubt. One call runs at a time (``interpreters._LIFECYCLE``, shared with the per-call executor,
so no interpreter is created or destroyed while another call's run).

And before this process forks (``os.fork``, multiprocessing's fork start method): a child forked
while subinterpreters exist, even idle ones, crashes at once (CPython 3.13.0 aborts, "the
function must be called with the GIL held"; 3.14.10 and 3.15.2 segfault: measured here with no
code of this project), so the pool is closed first and the next call makes a new one.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable

from wordcount.executors import _subinterpreters as sub
from wordcount.executors._lifecycle import interrupts_deferred
from wordcount.executors._task import ChunkResult
from wordcount.executors.interpreters import _LIFECYCLE, prepare
from wordcount.measure import Measurement
from wordcount.text import Text, chunk_spans


class _Pool:
    """The interpreters kept by this process, created on demand, destroyed together."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.ids: list[int] = []

    def take(self, n: int) -> list[int]:
        """The first ``n`` interpreters, creating those missing one after the other."""
        if self.owner != os.getpid():  # a fork child: the parent's interpreters are not here
            self.owner, self.ids = os.getpid(), []
        while len(self.ids) < n:
            with interrupts_deferred():  # created and recorded, or neither
                self.ids.append(sub.create())
        return self.ids[:n]

    def close(self) -> None:
        """Destroy every interpreter of the pool, one after the other."""
        if self.owner != os.getpid():
            self.ids = []
            return
        with interrupts_deferred():  # a second Ctrl-C must not leave an interpreter behind
            while self.ids:
                sub.destroy(self.ids.pop())


_POOL = _Pool()


def run(text: Text, workers: int, kernel: Callable[..., int], *,
        start_method: str | None, measure: Measurement) -> list[ChunkResult]:
    """Count each chunk in one of the pool's interpreters, each in a thread of its own."""
    call = prepare(text, kernel, measure)
    spans = chunk_spans(call.source, workers)
    with _LIFECYCLE:
        finished = False
        try:
            results = call.count(spans, _POOL.take(len(spans)))
            finished = True
            return results
        finally:
            call.close()
            if not finished:
                _POOL.close()


def size() -> int:
    """How many interpreters the pool holds now."""
    return len(_POOL.ids) if _POOL.owner == os.getpid() else 0


def close() -> None:
    """Destroy the pool's interpreters now (a later call creates new ones)."""
    with _LIFECYCLE:
        _POOL.close()


atexit.register(close)
os.register_at_fork(before=close)

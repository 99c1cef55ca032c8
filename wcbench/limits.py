"""The limit each case is measured against: a run's memory-read benchmarks, by (size, threads).

A run saves one memory-read benchmark per text size and thread count
(``bench/bench_wordcount.py``'s ``test_memory_read``: ``wordcount.bandwidth.read_limit``, the
native extension streaming through the case's own text with that many threads, vector loads,
nothing written; numpy summing the bytes only where the extension is not built, and saved as
such). A case with N workers is put beside the N-thread read of its size: a count cannot go
faster than N cores reading the same bytes. That holds for worker processes too (N processes
read with N cores), and the text says so where it compares them.

Runs saved before reads carried a thread count hold one figure per size: numpy summing the bytes
as ``uint64`` in one thread (its pytest-benchmark median). They read as the one-thread figure,
labelled as that sum, so a one-worker case still finds it and a two-worker case finds none
rather than a figure of another thread count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wcbench.units import format_percent
from wordcount.bandwidth import NATIVE
from wordcount.executors import PROCESS_EXECUTORS

#: A count above this fraction of its read is beyond the read: noise to look at, not a result.
BEYOND = 1.05
#: What a figure past :data:`BEYOND` is called wherever it is printed.
BEYOND_NOTE = "beyond the read: noise to look at, not a result"


def _threads(n: int) -> str:
    return f"{n} thread" + ("s" if n != 1 else "")


@dataclass(frozen=True)
class MemoryRead:
    """One read of a size's text: the seconds a count of it is measured against."""

    text_bytes: int
    threads: int
    #: The median round (a case's figure is its median too).
    seconds: float
    #: ``cache`` or ``memory`` (the text against the last-level cache); None in an old run.
    level: str | None
    #: ``wordcount.bandwidth.NATIVE`` or its numpy fallback.
    method: str
    #: Saved before reads carried a thread count: numpy's one-thread sum.
    legacy: bool = False

    @property
    def native(self) -> bool:
        return self.method == NATIVE

    @property
    def label(self) -> str:
        """``memory read, 2 threads, native``, ``cache read, ...``; ``numpy sum, 1 thread``."""
        if self.native:
            return f"{self.level} read, {_threads(self.threads)}, native"
        return f"numpy sum, {_threads(self.threads)}"

    @property
    def series_label(self) -> str:
        """The label without the level (a line over sizes crosses from cache to memory):
        ``read, 2 threads, native``; ``numpy sum, 1 thread``."""
        return f"read, {_threads(self.threads)}, native" if self.native else self.label

    @property
    def throughput(self) -> float:
        """Bytes per second (median)."""
        return self.text_bytes / self.seconds


#: (text size, threads) -> the read (:func:`wcbench.record.reads_of` reads them from a run).
Reads = dict[tuple[int, int], MemoryRead]


def reads_at(reads: Reads, size: int) -> list[MemoryRead]:
    """A size's reads, fewest threads first."""
    return sorted((r for (s, _), r in reads.items() if s == size), key=lambda r: r.threads)


def thread_labelled(reads: Reads) -> bool:
    """Whether the reads carry their thread counts (a run saved with this suite's new shape)."""
    return any(not r.legacy for r in reads.values())


@dataclass(frozen=True)
class Match:
    """A case beside the read of its size and worker count."""

    read: MemoryRead
    #: The read's seconds over the case's: 1 = as fast as reading the bytes.
    fraction: float
    #: The case's executor runs worker processes (N processes against N reading threads).
    processes: bool

    @property
    def beyond(self) -> bool:
        return self.fraction > BEYOND

    @property
    def percent(self) -> str:
        """``97%``, or ``112% (beyond the read: ...)``."""
        text = format_percent(self.fraction)
        return f"{text} ({BEYOND_NOTE})" if self.beyond else text

    @property
    def processes_note(self) -> str:
        """For worker processes, what is matched with what ("" for threads)."""
        if not self.processes:
            return ""
        n = self.read.threads
        return f"{n} worker process{'es' if n != 1 else ''} against {_threads(n)} reading"

    @property
    def what(self) -> str:
        """The read's label, and for processes what is matched with what."""
        note = self.processes_note
        return f"{self.read.label}; {note}" if note else self.read.label

    def describe(self) -> str:
        """``97% of the limit (memory read, 2 threads, native)``, flagged past 105%."""
        text = f"{format_percent(self.fraction)} of the limit ({self.what})"
        return f"{text}: {BEYOND_NOTE}" if self.beyond else text


def match(reads: Reads, case: Any) -> Match | None:
    """The read a case (``record.MeasuredCase``) is measured against: same size, as many
    threads as it has workers; None when the run holds no such read."""
    read = reads.get((case.text_bytes, case.workers))
    if read is None or case.median <= 0:
        return None
    return Match(read, read.seconds / case.median, case.executor in PROCESS_EXECUTORS)

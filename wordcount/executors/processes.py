"""The classic course solution: one ``multiprocessing.Process`` per chunk, results via a Queue.

Kept faithful in how data moves, because that is what the benchmarks measure: the parent slices
each chunk out of the text (a copy), hands it to its child (inherited under ``fork``; pickled once
under ``spawn`` and ``forkserver``, written by the parent into a pipe right after the child
starts, where CPython would write it as a ``Process`` argument: see ``_lifecycle``), and each child
puts its count on a ``multiprocessing.Queue``.

Not faithful in how it waits: the classic ``join()``-then-``get()`` blocks forever when a child
dies without putting a result. Here the parent reads results as they come and, between reads,
checks every child's exit status, so a crash or a kill fails the call within a fraction of a second;
on any exit path, normal or not, every child is stopped and reaped.
"""

from __future__ import annotations

from collections.abc import Callable

from wordcount.executors._contexts import get_context
from wordcount.executors._lifecycle import run_processes
from wordcount.executors._task import ChunkResult, Task, chunk_copy, run_task
from wordcount.measure import Measurement
from wordcount.text import Text, chunk_spans


def run(text: Text, workers: int, kernel: Callable[..., int], *,
        start_method: str | None, measure: Measurement) -> list[ChunkResult]:
    """Slice chunks in the parent and count each in its own process."""
    spans = chunk_spans(text, workers)
    tasks = [Task(i, kernel, chunk_copy(text, a, b), 0, b - a, a, measure)
             for i, (a, b) in enumerate(spans)]
    return run_processes(get_context(start_method), tasks, run_task)

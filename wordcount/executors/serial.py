"""Count in the caller's thread: the reference every other executor must agree with."""

from __future__ import annotations

from collections.abc import Callable

from wordcount.executors._task import ChunkResult, Task, run_task
from wordcount.measure import Measurement, in_caller
from wordcount.text import Text


def run(text: Text, workers: int, kernel: Callable[..., int], *,
        start_method: str | None, measure: Measurement) -> list[ChunkResult]:
    """Count the whole text in place: one chunk, no copies."""
    return [run_task(Task(0, kernel, text, 0, len(text), 0, in_caller(measure)))]

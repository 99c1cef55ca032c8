"""The front door: check arguments, pick a kernel and an executor, add up the chunks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wordcount.executors import get_executor, resolve_start_method
from wordcount.executors._task import ChunkResult
from wordcount.kernels import get_kernel
from wordcount.measure import NOTHING, Measurement
from wordcount.procmem import WorkerMemory
from wordcount.text import Text, check_text


@dataclass(frozen=True)
class CountReport:
    """A count and how it was made: the resolved start method and every chunk's result."""

    count: int
    kernel: str
    executor: str
    workers: int
    start_method: str | None
    chunks: tuple[ChunkResult, ...]

    def worker_memory(self) -> dict[int, WorkerMemory]:
        """Each worker process's memory report with the highest peak (probed runs only), by pid.

        A pool worker may count several chunks; its peak only grows, so its largest report wins.
        """
        reports: dict[int, WorkerMemory] = {}
        for m in (c.memory for c in self.chunks if c.memory is not None):
            if m.pid not in reports or m.peak_rss_bytes > reports[m.pid].peak_rss_bytes:
                reports[m.pid] = m
        return reports


def _check_workers(workers: object) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers must be an int, not {type(workers).__name__}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return workers


def count_report(text: Text, *, kernel: str | Callable[..., int] = "split",
                 executor: str = "serial", workers: int = 1, start_method: str | None = None,
                 measure: Measurement | None = None) -> CountReport:
    """Count like ``count_words`` and say how: used by the benchmarks and the memory tests.

    ``kernel`` may also be a kernel function (importable at top level, so workers can load it);
    ``measure`` asks for measurements (``Measurement(probe=True)``: every worker process reports
    its own memory at the end of its task; ``meter``: bytes pickled for workers are counted;
    ``capture``: a profiler hook rides with every task); None measures nothing.
    """
    check_text(text)
    kernel_fn = kernel if callable(kernel) else get_kernel(kernel)
    run = get_executor(executor)
    workers = _check_workers(workers)
    method = resolve_start_method(executor, start_method)
    if executor == "serial" and workers != 1:
        raise ValueError(f"the serial executor runs one worker; got workers={workers}")
    chunks = run(text, workers, kernel_fn, start_method=method,
                 measure=NOTHING if measure is None else measure)
    return CountReport(
        count=sum(c.count for c in chunks),
        kernel=kernel if isinstance(kernel, str) else getattr(kernel, "__name__", repr(kernel)),
        executor=executor,
        workers=workers,
        start_method=method,
        chunks=tuple(chunks),
    )


def count_words(text: Text, *, kernel: str = "split", executor: str = "serial",
                workers: int = 1, start_method: str | None = None) -> int:
    """Number of words in ``text``: exactly ``len(text.split())``, however it is computed.

    ``text`` is ``str`` or UTF-8 ``bytes``; ``kernel`` is one of ``KERNELS``, ``executor`` one of
    ``EXECUTORS``; ``start_method`` (``fork``, ``spawn``, ``forkserver``) applies to the
    process-based executors only, None meaning the platform's default.
    """
    if not isinstance(kernel, str):
        raise TypeError(f"kernel must be a name (str), not {type(kernel).__name__}")
    return count_report(text, kernel=kernel, executor=executor, workers=workers,
                        start_method=start_method).count

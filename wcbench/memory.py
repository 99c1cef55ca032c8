"""Memory of one word count: the parent, every worker, the whole tree, and the bytes copied.

Always a separate, untimed call (``measure_memory``): the probes below read ``/proc`` and a
sampling process runs beside the work, which would distort a timing.

- ``peak_parent_bytes``: the parent's peak resident set is reset just before the call
  (``/proc/self/clear_refs``), so ``VmHWM`` afterwards minus the RSS before is the call's own peak
  growth, exact to the page: no sampling.
- ``peak_workers_bytes``: each worker process reports its own peak private memory at the end of
  its task (``wordcount.procmem.WorkerMemory``); the sum over distinct worker processes. It
  includes each worker's interpreter, so a spawned worker costs its start-up too: that is real.
  Zero for serial and threads, which start no process.
- ``peak_tree_bytes``: the largest growth of the summed PSS of the parent and all its descendants
  over the call (``wcbench.measure_tree``, as for any program's tree), sampled every
  ``SAMPLE_SECONDS`` by a separate process (``wcbench.sampler``:
  no thread of ours runs beside the call, so a fork-based case forks a one-thread process); PSS
  counts copy-on-write pages shared after ``fork`` once. Sampling can miss a spike shorter than
  the interval (a numpy worker may live a few milliseconds), so the figure is never taken below
  what the tree must have held at some moment: the parent's exact peak growth, or any one
  worker's reported peak private memory.
- ``copied_bytes``: bytes pickled to workers, counted where pickling really happens
  (``wordcount.transfer``): chunks as ``Process`` arguments under spawn/forkserver, queue and pool
  messages, never what ``fork`` lets a child inherit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from wcbench.measure.tree import measure_tree, trim_heap
from wcbench.sampler import TreeSampler, descendants, tree_pss
from wordcount import count_report
from wordcount.kernels import release_working_memory
from wordcount.measure import Measurement
from wordcount.text import Text
from wordcount.transfer import TransferMeter

__all__ = ["MemoryFigures", "TreeSampler", "descendants", "measure_memory",
           "release_freed_memory", "tree_pss"]


@dataclass(frozen=True)
class MemoryFigures:
    """The memory cost of one call (bytes) and the count it produced; saved under the names
    :func:`wcbench.record.memory_fields` gives them."""

    count: int
    start_method: str | None
    peak_parent_bytes: int
    peak_workers_bytes: int
    peak_tree_bytes: int
    copied_bytes: int
    worker_pids: tuple[int, ...]


def release_freed_memory() -> None:
    """Hand memory kept from earlier calls back to the OS, so this call's parent growth is its own.

    Kernels keep working memory between calls (the numpy kernel's scratch buffers): released,
    so an in-process call is seen allocating it, as a fresh worker process is. glibc keeps freed
    heap (an earlier call's ``str.split()`` list, say) for reuse; a call reusing it shows no
    growth in resident memory. ``malloc_trim(0)`` returns it (glibc only).
    """
    release_working_memory()
    trim_heap()


def measure_memory(text: Text, *, kernel: str | Callable[..., int], executor: str,
                   workers: int, start_method: str | None = None,
                   sampler: TreeSampler | None = None) -> MemoryFigures:
    """Count ``text`` once with every probe on and return what it cost in memory.

    The parent's peak and the tree's come from :func:`wcbench.measure_tree`, the measurement
    any program gets (``wcbench measure``, the pytest plugin); what only a word count can say is
    added: each worker's own peak at the end of its task and the bytes of its chunks as pickled.
    ``sampler`` samples the process tree (default: a new ``TreeSampler`` of this process); a test
    passes its own to know when the tree's memory has been seen.
    """
    release_freed_memory()
    me = os.getpid()
    meter = TransferMeter()
    # The one mechanism every measurement here uses (the tree sampled by a separate process,
    # this process's exact peak); the probe's pickle counting stays off: a word count knows its
    # own copies (each chunk's payload and envelope) and each worker reports its own peak.
    with measure_tree(sampler=sampler, count_pickles=False) as tree:
        report = count_report(text, kernel=kernel, executor=executor, workers=workers,
                              start_method=start_method,
                              measure=Measurement(probe=True, meter=meter))
    parent_peak = tree.peak_parent_bytes
    worker_peaks = {
        pid: m.peak_private_bytes for pid, m in report.worker_memory().items() if pid != me
    }
    return MemoryFigures(
        count=report.count,
        start_method=report.start_method,
        peak_parent_bytes=parent_peak,
        peak_workers_bytes=sum(worker_peaks.values()),
        peak_tree_bytes=max(tree.peak_tree_bytes, parent_peak, *worker_peaks.values()),
        copied_bytes=meter.bytes,
        worker_pids=tuple(sorted(worker_peaks)),
    )

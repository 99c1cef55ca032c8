"""Memory of one word count: the parent, every worker, the whole tree, and the bytes copied.

Always a separate, untimed call (``measure_memory``): the probes below read ``/proc`` and a
sampling thread runs beside the work, which would distort a timing.

- ``peak_parent_bytes``: the parent's peak resident set is reset just before the call
  (``/proc/self/clear_refs``), so ``VmHWM`` afterwards minus the RSS before is the call's own peak
  growth, exact to the page: no sampling.
- ``peak_workers_bytes``: each worker process reports its own peak private memory at the end of
  its task (``wordcount.procmem.WorkerMemory``); the sum over distinct worker processes. It
  includes each worker's interpreter, so a spawned worker costs its start-up too: that is real.
  Zero for serial and threads, which start no process.
- ``peak_tree_bytes``: the largest growth of the summed PSS of the parent and all its descendants
  over the call, sampled every ``SAMPLE_SECONDS``; PSS counts copy-on-write pages shared after
  ``fork`` once. Sampling can miss a spike shorter than the interval (a numpy worker may live
  a few milliseconds), so the figure is never taken below what the tree must have held at some
  moment: the parent's exact peak growth, or any one worker's reported peak private memory.
- ``copied_bytes``: bytes pickled to workers, counted where pickling really happens
  (``wordcount.transfer``): chunks as ``Process`` arguments under spawn/forkserver, queue and pool
  messages, never what ``fork`` lets a child inherit.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from wordcount import count_report
from wordcount.kernels import release_working_memory
from wordcount.measure import Measurement
from wordcount.procmem import reset_peak, rollup, status
from wordcount.text import Text
from wordcount.transfer import TransferMeter

#: Interval of the process-tree sampler (seconds).
SAMPLE_SECONDS = 0.002


def descendants(pid: int) -> Iterator[int]:
    """Every live descendant of ``pid`` (children of all its threads, recursively)."""
    stack = [pid]
    while stack:
        parent = stack.pop()
        try:
            tids = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{parent}/task/{tid}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            for child in children:
                yield child
                stack.append(child)


def tree_pss(pid: int) -> int:
    """Summed PSS of ``pid`` and its descendants; processes that vanish mid-read count 0."""
    total = 0
    for p in (pid, *descendants(pid)):
        with contextlib.suppress(OSError):  # the process exited meanwhile
            total += rollup(p).get("Pss", 0)
    return total


class TreeSampler:
    """A thread that records the peak of ``tree_pss(pid)`` from ``__enter__`` until ``__exit__``."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._sampled = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def _sample(self) -> None:
        pss = tree_pss(self.pid)
        with self._sampled:
            self.peak = max(self.peak, pss)
            self.samples += 1
            self._sampled.notify_all()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def wait_for_sample(self, timeout: float) -> bool:
        """Wait until a sample begun after this call is recorded (False on timeout): what the
        tree holds now is then in ``peak``. Tests use it to free memory only once it is seen."""
        with self._sampled:
            target = self.samples + 2  # the sample under way may have begun before the call
            return self._sampled.wait_for(lambda: self.samples >= target, timeout)

    def __enter__(self) -> TreeSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


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
    gc.collect()
    libc_name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc_name), "malloc_trim", None) if libc_name else None
    if trim is not None:
        trim(0)


def measure_memory(text: Text, *, kernel: str | Callable[..., int], executor: str,
                   workers: int, start_method: str | None = None,
                   sampler: TreeSampler | None = None) -> MemoryFigures:
    """Count ``text`` once with every probe on and return what it cost in memory.

    ``sampler`` samples the process tree (default: a new ``TreeSampler`` of this process); a test
    passes its own to know when the tree's memory has been seen.
    """
    release_freed_memory()
    me = os.getpid()
    sampler = TreeSampler(me) if sampler is None else sampler
    tree_before = tree_pss(me)
    reset_peak()
    rss_before = status()["VmRSS"]
    meter = TransferMeter()
    with sampler:
        report = count_report(text, kernel=kernel, executor=executor, workers=workers,
                              start_method=start_method,
                              measure=Measurement(probe=True, meter=meter))
    parent_peak = max(status()["VmHWM"] - rss_before, 0)
    worker_peaks = {
        pid: m.peak_private_bytes for pid, m in report.worker_memory().items() if pid != me
    }
    return MemoryFigures(
        count=report.count,
        start_method=report.start_method,
        peak_parent_bytes=parent_peak,
        peak_workers_bytes=sum(worker_peaks.values()),
        peak_tree_bytes=max(sampler.peak - tree_before, parent_peak, *worker_peaks.values()),
        copied_bytes=meter.bytes,
        worker_pids=tuple(sorted(worker_peaks)),
    )

"""What runs the benchmarks: GIL status, cores, memory.

Every saved benchmark carries these beside its figures (:func:`wcbench.record.machine_fields`),
so a run on a free-threaded build or another machine is never mistaken for this one.
"""

from __future__ import annotations

import os
import sys


def gil_enabled() -> bool:
    """Whether the GIL is on: ``sys._is_gil_enabled()`` where it exists (3.13+), else True."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return bool(probe()) if probe is not None else True


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask), which is what workers compete for."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def total_memory_bytes() -> int:
    """The machine's memory (``MemTotal``), 0 where ``/proc/meminfo`` does not say."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0

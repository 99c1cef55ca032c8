"""What ran the benchmarks: interpreter, GIL status, cores, memory.

Every saved benchmark carries these beside its figures (``extra_info``), so a run on a
free-threaded build or another machine is never mistaken for this one.
"""

from __future__ import annotations

import os
import platform
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


def _total_memory_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def machine_info() -> dict[str, object]:
    """Interpreter and machine facts for ``extra_info`` (small, JSON-ready)."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "gil_enabled": gil_enabled(),
        "cpu_count": cpu_count(),
    }


def machine_details() -> dict[str, object]:
    """``machine_info`` plus what a saved run's header wants: memory, kernel, executable.

    Only stable facts: pytest-benchmark warns when a compared run's machine info differs.
    """
    return {
        **machine_info(),
        "memory_total_bytes": _total_memory_bytes(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }

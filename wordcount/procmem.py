"""Reading a process's memory from Linux's ``/proc``: peaks, private and proportional sizes.

Leaf module (no imports from the package), used by workers to report their own peak and by the
benchmark's measurement code for the parent and the whole process tree.

- ``VmHWM`` (``/proc/PID/status``) is the peak resident set; writing ``5`` to
  ``/proc/self/clear_refs`` resets it to the current size, so the peak of one call is measurable.
- ``smaps_rollup`` splits resident pages into private (USS) and shared ones; PSS charges each
  shared page to its sharers in equal parts, so PSS summed over a process tree counts every
  copy-on-write page once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_KIB = 1024


def _read_kib_fields(path: str) -> dict[str, int]:
    fields: dict[str, int] = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                fields[key] = int(parts[0]) * _KIB
    return fields


def status(pid: int | str = "self") -> dict[str, int]:
    """Byte-valued fields of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``, ``RssAnon``, ...)."""
    return _read_kib_fields(f"/proc/{pid}/status")


def rollup(pid: int | str = "self") -> dict[str, int]:
    """Byte-valued fields of ``/proc/PID/smaps_rollup`` (``Rss``, ``Pss``, ``Private_Dirty``...)."""
    return _read_kib_fields(f"/proc/{pid}/smaps_rollup")


def uss(fields: dict[str, int]) -> int:
    """Unique set size (private pages) from ``rollup`` fields."""
    return fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)


def reset_peak() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS; False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def available_bytes() -> int:
    """Memory the kernel says can be allocated without swapping (``MemAvailable``)."""
    return _read_kib_fields("/proc/meminfo")["MemAvailable"]


@dataclass(frozen=True)
class WorkerMemory:
    """What one worker process reports about itself at the end of its task.

    ``peak_private_bytes`` estimates the peak of the pages only this process holds: the peak
    resident set minus the pages it shares (with its parent after ``fork``, with shared libraries)
    at the time of the report. Shared pages only ever turn private (copy-on-write), never back, so
    the estimate errs high by at most the pages unshared between the peak and the report.
    """

    pid: int
    peak_rss_bytes: int
    peak_private_bytes: int
    private_bytes: int
    pss_bytes: int


def worker_memory() -> WorkerMemory:
    """This process's ``WorkerMemory``, read now."""
    st, ru = status(), rollup()
    private = uss(ru)
    shared = ru.get("Rss", 0) - private
    return WorkerMemory(
        pid=os.getpid(),
        peak_rss_bytes=st["VmHWM"],
        peak_private_bytes=max(st["VmHWM"] - shared, private),
        private_bytes=private,
        pss_bytes=ru.get("Pss", 0),
    )

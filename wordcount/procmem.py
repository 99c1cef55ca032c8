"""Reading a process's memory from Linux's ``/proc``: peaks, private and proportional sizes.

Leaf module (no imports from the package), used by workers to report their own peak and by the
benchmark's measurement code for the parent and the whole process tree.

- ``VmHWM`` (``/proc/PID/status``) is the peak resident set; writing ``5`` to
  ``/proc/self/clear_refs`` resets it to the current size, so the peak of one call is measurable.
- ``smaps_rollup`` splits resident pages into private (USS) and shared ones; PSS charges each
  shared page to its sharers in equal parts, so PSS summed over a process tree counts every
  copy-on-write page once.
- ``smaps`` has the same figures per mapping; ``data_mappings`` picks the ``MAP_SHARED`` ones
  that hold data (a shared-memory block, a memory-mapped text file) rather than code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_KIB = 1024
#: Bytes read from a ``/proc`` file at a time (``status`` and ``smaps_rollup`` fit in one).
_READ_BYTES = 4096
#: Shared mappings the system makes for every process (C library caches such as
#: ``gconv-modules.cache``), not data of the program's.
_SYSTEM_PREFIXES = ("/usr/", "/lib", "/etc/", "/var/cache/")


def _read(path: str, block: int = _READ_BYTES) -> str:
    """A ``/proc`` file's text, read in blocks of ``block`` bytes: a buffered ``open()`` takes a
    128 KiB buffer on CPython 3.14+ (8 KiB before), which a worker's own memory capture would
    show as an allocation of its measurement's."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        parts = []
        while chunk := os.read(fd, block):
            parts.append(chunk)
    finally:
        os.close(fd)
    return b"".join(parts).decode()


def _read_kib_fields(path: str) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in _read(path).splitlines():
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
    try:  # os.open: a buffered open() allocates a 128 KiB buffer on 3.14+, seen in captures
        fd = os.open("/proc/self/clear_refs", os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.write(fd, b"5")
    except OSError:
        return False
    finally:
        os.close(fd)
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


@dataclass(frozen=True)
class Mapping:
    """One mapping of ``/proc/PID/smaps``: its file (or ``[anon]``-like name), size mapped and
    resident bytes; ``shared_flag`` when mapped ``MAP_SHARED`` (``s`` in its permissions)."""

    path: str
    size: int
    rss: int
    private: int
    shared_flag: bool


def mappings(pid: int | str = "self") -> list[Mapping]:
    """Every mapping of ``/proc/PID/smaps``."""
    found: list[Mapping] = []
    head: list[str] | None = None
    fields: dict[str, int] = {}

    def flush() -> None:
        if head is not None:
            found.append(Mapping(
                path=head[5] if len(head) > 5 else "", size=fields.get("Size", 0),
                rss=fields.get("Rss", 0),
                private=fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0),
                shared_flag=head[1].endswith("s")))

    for line in _read(f"/proc/{pid}/smaps", 1 << 16).splitlines():
        parts = line.split()
        if len(parts) >= 5 and "-" in parts[0] and ":" in parts[3]:  # a mapping's header
            flush()
            head, fields = parts, {}
        elif len(parts) == 3 and parts[2] == "kB":
            fields[parts[0].rstrip(":")] = int(parts[1]) * _KIB
    flush()
    return found


def is_data_path(path: str) -> bool:
    """Whether a ``MAP_SHARED`` mapping of ``path`` holds a program's data: a shared-memory block
    or a mapped file, not a POSIX semaphore (``/dev/shm/sem.*``: multiprocessing's locks) nor a
    cache the C library maps into every process."""
    return (path.startswith("/") and not path.startswith("/dev/shm/sem.")
            and not path.startswith(_SYSTEM_PREFIXES))


def data_mappings(pid: int | str = "self", *, ignore_under: str | None = None) -> list[Mapping]:
    """The ``MAP_SHARED`` mappings of data (``is_data_path``), without files under
    ``ignore_under`` (a profiler's output)."""
    return [m for m in mappings(pid)
            if m.shared_flag and is_data_path(m.path)
            and not (ignore_under and m.path.startswith(ignore_under))]

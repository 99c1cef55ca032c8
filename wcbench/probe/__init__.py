"""The probe every Python process of a measured tree loads, seen from wcbench: where it is, the
environment that loads it, and the reports it leaves.

The probe itself is ``startup/_wcbench_probe.py`` (standard library only, so that any Python the
command runs can load it), loaded by ``startup/sitecustomize.py`` when ``startup/`` is first on
``PYTHONPATH`` and ``WCBENCH_PROBE_DIR`` names a directory. Each process writes
``proc-<pid>.json`` there as it ends, and ``resources-<pid>.log`` as it registers named shared
memory or semaphores with multiprocessing's resource tracker. This module reads them and names
each process's role.

A Python process started with ``-I``, ``-E`` or ``-S`` does not load ``sitecustomize`` and so
writes no report; nor does one killed before it could (SIGKILL, or a pool worker terminated while
it was still starting): such processes are listed from the sampler's view, without figures of
their own, and the bytes they pickled are "not measured".
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

#: The directory put first on ``PYTHONPATH``: ``sitecustomize.py`` and the probe, nothing else.
STARTUP = Path(__file__).resolve().parent / "startup"
DIR_ENV = "WCBENCH_PROBE_DIR"
MODULE = "_wcbench_probe"

#: Roles, as reports and tables name them.
MAIN, PROCESS, POOL_WORKER, EXECUTOR_WORKER = "main", "process", "pool-worker", "executor-worker"
FORKSERVER, RESOURCE_TRACKER = "forkserver", "resource-tracker"
PYTHON, NO_REPORT, NOT_PYTHON = "python", "python-no-report", "not-python"
#: A multiprocessing child stopped before it ran its target (a pool terminated while its worker
#: started), and one that wrote no report: workers, whose own pickles (results) are unknown.
STARTING, WORKER_NO_REPORT = "mp-starting", "worker-no-report"
WORKER_ROLES = frozenset({PROCESS, POOL_WORKER, EXECUTOR_WORKER, STARTING, WORKER_NO_REPORT})
_LABELS = {MAIN: "main", PROCESS: "multiprocessing.Process",
           POOL_WORKER: "multiprocessing.Pool worker",
           EXECUTOR_WORKER: "concurrent.futures worker", FORKSERVER: "forkserver",
           RESOURCE_TRACKER: "resource tracker", PYTHON: "other Python process",
           NO_REPORT: "Python, no report", NOT_PYTHON: "not Python",
           STARTING: "multiprocessing child, stopped while starting",
           WORKER_NO_REPORT: "multiprocessing child, no report"}


def role_label(role: str, start_method: str | None = None) -> str:
    """``multiprocessing.Pool worker (spawn)``: a role as a person reads it."""
    label = _LABELS.get(role, role)
    return f"{label} ({start_method})" if start_method else label


def environment(directory: str | Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the probe loading into every Python
    process started from it, reporting into ``directory``."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(STARTUP), env.get("PYTHONPATH")]))
    env[DIR_ENV] = str(directory)
    return env


def probe_module() -> ModuleType:
    """The probe module, loaded once under its own name (a spawn child of this process loads it
    by that name from ``PYTHONPATH``; two copies in one process would count twice)."""
    if MODULE in sys.modules:
        return sys.modules[MODULE]
    spec = importlib.util.spec_from_file_location(MODULE, STARTUP / f"{MODULE}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module
    spec.loader.exec_module(module)
    return module


def is_python(cmdline: list[str]) -> bool:
    """Whether a command line runs a Python interpreter (``python3.11``, ``.../bin/python``)."""
    return bool(cmdline) and "python" in Path(cmdline[0]).name.lower()


def unreported_role(cmdline: list[str]) -> str:
    """The role of a process seen only by the sampler: multiprocessing's helpers by their
    command line (they pickle nothing of the program's), else Python without a report, or not
    Python."""
    text = " ".join(cmdline)
    if "multiprocessing.forkserver import main" in text:
        return FORKSERVER
    if "multiprocessing.resource_tracker import main" in text:
        return RESOURCE_TRACKER
    if "multiprocessing.spawn import spawn_main" in text:
        return WORKER_NO_REPORT
    return NO_REPORT if is_python(cmdline) else NOT_PYTHON


@dataclass(frozen=True)
class Report:
    """One Python process's report (``proc-<pid>.json``)."""

    pid: int
    ppid: int
    origin: str
    helper: str | None
    multiprocessing: Mapping[str, Any] | None
    cmdline: tuple[str, ...]
    executable: str
    python: str
    ended: str
    peak_rss_bytes: int
    peak_private_bytes: int
    pickled_bytes: int
    pickled_messages: int
    pickled_process_bytes: int
    foreign_transports: tuple[str, ...]
    forked_from: int | None = None
    #: Bytes it unpickled from multiprocessing (its process object and arguments, messages).
    received_bytes: int = 0
    #: What other parts of the probe added (the memray capture, issue 30).
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        pickled = data.get("pickled") or {}
        known = {"version", "pid", "ppid", "origin", "helper", "multiprocessing", "argv",
                 "cmdline", "executable", "python", "started", "ended_at", "ended",
                 "peak_rss_bytes", "rss_bytes", "private_bytes", "peak_private_bytes",
                 "pss_bytes", "pickled", "foreign_transports", "forked_from", "received"}
        return cls(pid=int(data["pid"]), ppid=int(data["ppid"]), origin=str(data["origin"]),
                   helper=data.get("helper"), multiprocessing=data.get("multiprocessing"),
                   cmdline=tuple(data.get("cmdline") or ()),
                   executable=str(data.get("executable", "")),
                   python=str(data.get("python", "")), ended=str(data.get("ended", "")),
                   peak_rss_bytes=int(data.get("peak_rss_bytes", 0)),
                   peak_private_bytes=int(data.get("peak_private_bytes", 0)),
                   pickled_bytes=sum(int(v["bytes"]) for v in pickled.values()),
                   pickled_messages=sum(int(v["messages"]) for v in pickled.values()),
                   pickled_process_bytes=int((pickled.get("process") or {}).get("bytes", 0)),
                   foreign_transports=tuple(data.get("foreign_transports") or ()),
                   forked_from=data.get("forked_from"),
                   received_bytes=int((data.get("received") or {}).get("bytes", 0)),
                   extra={k: v for k, v in data.items() if k not in known})

    @property
    def start_method(self) -> str | None:
        return (self.multiprocessing or {}).get("start_method")


def read_reports(directory: str | Path) -> dict[int, Report]:
    """Every complete report in ``directory``, by pid (a half-written one is never read)."""
    found = {}
    for path in Path(directory).glob("proc-*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            report = Report.from_json(json.loads(path.read_text()))
            found[report.pid] = report
    return found


def role_of(report: Report, reports: Mapping[int, Report], ppid: int | None = None) -> str:
    """A reported process's role: a multiprocessing child by the kind of its target, a helper
    by its command line, else the main process (its parent wrote no report: the command itself,
    or the first Python under a shell) or another Python process started by one. ``ppid``: the
    parent it started with, as the sampler saw it (at its end it may have been adopted)."""
    if report.multiprocessing:
        return str(report.multiprocessing.get("kind", PROCESS))
    if report.helper in (FORKSERVER, RESOURCE_TRACKER):
        return report.helper
    if report.helper == "spawn-child":
        return STARTING
    parent = report.ppid if ppid is None else ppid  # the parent it started with, when known
    if parent in reports or report.forked_from in reports:
        return PYTHON
    return MAIN


def resources_left(directory: str | Path) -> list[tuple[str, str]]:
    """``(type, name)`` of every resource registered and not unregistered, in the order made."""
    live: dict[tuple[str, str], None] = {}
    for path in sorted(Path(directory).glob("resources-*.log")):
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                sign, _, rest = line.partition(" ")
                rtype, _, name = rest.partition(" ")
                if sign == "+":
                    live[(rtype, name)] = None
                elif sign == "-":
                    live.pop((rtype, name), None)
    return list(live)


def shm_path(rtype: str, name: str) -> Path | None:
    """Where a resource lives on Linux: ``/dev/shm/<name>`` for shared memory,
    ``/dev/shm/sem.<name>`` for a named semaphore; None for another type."""
    bare = name.lstrip("/")
    if rtype == "shared_memory":
        return Path("/dev/shm") / bare
    if rtype == "semaphore":
        return Path("/dev/shm") / f"sem.{bare}"
    return None


def remove_leftovers(directory: str | Path) -> list[str]:
    """Unlink every registered resource still present (the command's multiprocessing left it:
    killed before its resource tracker could clean up); their paths."""
    removed = []
    for rtype, name in resources_left(directory):
        path = shm_path(rtype, name)
        if path is not None and path.exists():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(str(path))
    return removed

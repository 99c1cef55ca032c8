"""A benchmark session's journal: each finished case on disk the moment it finishes.

pytest-benchmark writes its run only when the session ends, so SIGKILL (the OOM killer, the
likeliest end of a scale run) lost everything. Beside the storage, in the machine folder the run
would be saved in, the session keeps ``journal-<time>-<pid>.jsonl``: one JSON object per line,
each appended with one ``write`` and flushed to disk (``fsync``) before the session goes on.
What was on disk is never rewritten, so a kill mid-write can only leave the last line torn, and a
torn last line is ignored when the journal is read. Lines, in order:

- ``header``: who wrote it (pid, its start time, the boot), when, the command line, the save
  name, machine and commit info, the matrix;
- ``start``: a case began (its name), so a journal says which case was running when it stopped;
- ``benchmark``: a case finished: the entry pytest-benchmark would save for it, complete;
- ``skipped``: a case the estimates skipped, with its reason.

The session removes its journal once the run is saved. One left behind belongs to a session that
never got to save: ``wcbench recover`` (:mod:`wcbench.session.recover`) turns it into a saved run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wcbench.stopping import signals_held
from wcbench.storage import atomic_write, fsync_dir

FORMAT = "wcbench-journal"
VERSION = 1
GLOB = "journal-*.jsonl"


def _proc_start(pid: int) -> int | None:
    """Process ``pid``'s start time in clock ticks since boot (Linux), None where unknown: with
    the pid, what tells the journal's writer from a later process given the same pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def now() -> str:
    return datetime.now(UTC).isoformat()


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps({**record, "time": now()}, ensure_ascii=True, default=str)
            + "\n").encode()


class Journal:
    """The writing end: append-only, one flushed line per record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)

    @classmethod
    def create(cls, folder: Path, header: dict[str, Any]) -> Journal:
        """A new journal in ``folder`` starting with ``header`` (``pid`` and the rest added);
        it appears with its header written (a temporary file renamed), never empty."""
        pid = os.getpid()
        path = folder / f"journal-{time.strftime('%Y%m%d_%H%M%S')}-{pid}.jsonl"
        atomic_write(path, _line({"type": "header", "format": FORMAT, "version": VERSION,
                                  "pid": pid, "proc_start": _proc_start(pid),
                                  "boot_id": _boot_id(), **header}))
        return cls(path)

    def append(self, record: dict[str, Any]) -> None:
        """One line, whole, on disk before this returns; Ctrl-C, SIGTERM and SIGHUP wait for it."""
        line = _line(record)
        with signals_held():
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def remove(self) -> None:
        """The run is saved: the journal has served."""
        self.close()
        self.path.unlink(missing_ok=True)
        fsync_dir(self.path.parent)


class JournalError(Exception):
    """A file that is not a readable journal (no header line): named in one line."""


@dataclass
class Contents:
    """What a journal says: the header, finished benchmarks, skips, the case left running."""

    path: Path
    header: dict[str, Any]
    benchmarks: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    #: The case that started and never finished, None when it stopped between cases.
    running: str | None = None
    #: When the last whole line was written (ISO 8601).
    last_time: str | None = None
    #: Lines that could not be read: a torn last line, at most, for a journal only appended to.
    torn: int = 0

    @property
    def pid(self) -> int | None:
        return self.header.get("pid")

    def writer_alive(self) -> bool:
        """Whether the session that writes it still runs (same boot, pid and start time)."""
        pid = self.pid
        if not isinstance(pid, int):
            return False
        if self.header.get("boot_id") and self.header["boot_id"] != _boot_id():
            return False
        start = _proc_start(pid)
        if start is None:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return self.header.get("proc_start") is None
        return start == self.header.get("proc_start")


def _lines(path: Path) -> Iterator[dict[str, Any] | None]:
    for raw in path.read_bytes().split(b"\n"):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            yield None
            continue
        yield record if isinstance(record, dict) else None


def read(path: Path) -> Contents:
    """Parse a journal; a line that is not whole JSON (the torn last one) is counted, not used."""
    records = list(_lines(path))
    header = records[0] if records else None
    if not header or header.get("type") != "header" or header.get("format") != FORMAT:
        raise JournalError(f"{path} is not a benchmark journal (no header line)")
    if not isinstance(header.get("version"), int) or header["version"] > VERSION:
        raise JournalError(f"{path} is a journal of version {header.get('version')!r}, newer "
                           f"than this checkout reads ({VERSION})")
    contents = Contents(path, header, last_time=header.get("time"))
    finished: set[str] = set()
    for record in records[1:]:
        if record is None:
            contents.torn += 1
            continue
        contents.last_time = record.get("time", contents.last_time)
        kind = record.get("type")
        if kind == "start":
            contents.running = record.get("name")
        elif kind == "benchmark" and isinstance(record.get("benchmark"), dict):
            contents.benchmarks.append(record["benchmark"])
            finished.add(record["benchmark"].get("name"))
            if contents.running in finished:
                contents.running = None
        elif kind == "done":
            contents.running = None
        elif kind == "skipped" and isinstance(record.get("skip"), dict):
            contents.skipped.append(record["skip"])
    return contents


def find(storage: Path) -> list[Path]:
    """Every journal in ``storage``'s machine folders, oldest name first."""
    return sorted(storage.glob(f"*/{GLOB}")) if storage.is_dir() else []


def left_behind(storage: Path) -> list[Contents]:
    """Journals whose session is gone without saving: what ``wcbench recover`` would save.
    Unreadable ones are left out (``recover`` names them)."""
    found = []
    for path in find(storage):
        try:
            contents = read(path)
        except (OSError, JournalError):
            continue
        if not contents.writer_alive():
            found.append(contents)
    return found

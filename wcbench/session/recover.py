"""``wcbench recover``: a journal left by a session that never saved becomes a saved run.

The run saved holds every benchmark the journal holds (each complete: written when its case
finished), the skips, the machine and commit info of the session, and ``wordcount_incomplete``:
that it did not finish, the case that was running, and why it ended where something says so. The
kernel's log (``dmesg``, else ``journalctl -k``; often readable only by root) names a process the
OOM killer killed; the exit status the shell reported (``--exit-status 137``: SIGKILL) says it was
killed, not by whom.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wcbench import record
from wcbench.record import FORMAT_VERSION
from wcbench.session import journal as journals
from wcbench.storage import save_run

#: How long a kernel-log reader may take (seconds).
LOG_TIMEOUT = 10.0


def read_kernel_log() -> str | None:
    """The kernel's ring buffer or journal, None when neither can be read here."""
    for cmd in (["dmesg"], ["journalctl", "-k", "-q", "--no-pager", "-o", "short"]):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=LOG_TIMEOUT,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout
    return None


def oom_line(log: str, pid: int) -> str | None:
    """The kernel log's line saying the OOM killer killed ``pid`` (``Out of memory: Killed
    process 1234 (python)``, ``oom-kill:...,pid=1234,...``), None when there is none."""
    pattern = re.compile(rf"(Killed process {pid}\b|oom-kill:.*\bpid={pid}\b|"
                         rf"oom_reaper: reaped process {pid}\b)")
    for line in log.splitlines():
        if pattern.search(line):
            return line.strip()
    return None


def why_it_ended(pid: int | None, exit_status: int | None, log: str | None) -> dict[str, Any]:
    """``reason``, ``detail`` and the evidence: the kernel log's line, the exit status."""
    found = oom_line(log, pid) if log is not None and pid is not None else None
    kernel_log = found or ("not readable" if log is None else "no OOM kill of this process")

    def ended(reason: str, detail: str) -> dict[str, Any]:
        return record.ended_fields(reason, detail, exit_status=exit_status,
                                   kernel_log=kernel_log)

    if found:
        return ended("killed for memory",
                     f"killed for memory by the kernel's OOM killer ({found})")
    if exit_status in (137, -9):
        where = ("the kernel log was not readable" if log is None
                 else "the kernel log names no OOM kill of it")
        return ended("killed", f"killed by SIGKILL (exit status {exit_status}; {where}: the "
                     "OOM killer, a timeout or a user)")
    if exit_status is not None:
        return ended("ended", f"ended with exit status {exit_status} without saving")
    where = "the kernel log was not readable" if log is None \
        else "the kernel log names no OOM kill of it"
    return ended("ended", f"ended without saving (SIGKILL or a crash; {where})")


@dataclass
class Recovered:
    """One journal's outcome: the run saved (None when nothing had finished) and the note."""

    journal: Path
    saved: Path | None
    line: str


def run_json(contents: journals.Contents, incomplete: dict[str, Any]) -> dict[str, Any]:
    """The saved run a journal makes: what pytest-benchmark and this suite's hooks write."""
    header = contents.header
    output: dict[str, Any] = dict(header.get("update_json") or {})
    output.update({
        "machine_info": header.get("machine_info") or {},
        "commit_info": header.get("commit_info") or {},
        "benchmarks": contents.benchmarks,
        "datetime": contents.last_time or header.get("started"),
        "version": header.get("pytest_benchmark"),
        record.SKIPPED: contents.skipped,
        record.FORMAT: FORMAT_VERSION,
        record.INCOMPLETE: record.recovered_fields(
            incomplete, running=contents.running, finished=len(contents.benchmarks),
            journal=contents.path.name, pid=contents.pid),
    })
    return output


def recover_one(contents: journals.Contents, exit_status: int | None,
                log: str | None) -> Recovered:
    """Save the journal's run (when anything finished) and remove the journal."""
    incomplete = why_it_ended(contents.pid, exit_status, log)
    saved = None
    if contents.benchmarks:
        note = record.incomplete_note({**incomplete, record.RUNNING: contents.running},
                                      len(contents.benchmarks))
        save = str(contents.header.get("save") or "recovered")
        saved = save_run(contents.path.parent, run_json(contents, incomplete), save)
        line = f"saved {saved} from {contents.path.name}: {note}"
    else:
        during = f" while {contents.running} ran" if contents.running else ""
        line = (f"{contents.path}: the run {incomplete[record.DETAIL]}{during}; no benchmark "
                "had finished, nothing to save")
    contents.path.unlink()
    return Recovered(contents.path, saved, line)


def recover(storage: Path, exit_status: int | None = None) -> tuple[list[Recovered], list[str]]:
    """Every journal left in ``storage``: what was saved, and lines about those left alone
    (still being written, unreadable)."""
    done: list[Recovered] = []
    notes: list[str] = []
    log: str | None = None
    log_read = False
    for path in journals.find(storage):
        try:
            contents = journals.read(path)
        except (OSError, journals.JournalError) as exc:
            notes.append(f"skipped {exc}")
            continue
        if contents.writer_alive():
            notes.append(f"skipped {path}: its session (pid {contents.pid}) is still running")
            continue
        if not log_read:
            log, log_read = read_kernel_log(), True
        done.append(recover_one(contents, exit_status, log))
    return done, notes

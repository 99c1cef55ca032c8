"""Running a command for ``wcbench measure``: in a session of its own, within a deadline, and
stopped with its whole tree so that nothing is left behind.

The command runs in its own session (``start_new_session``), so a Ctrl-C at the terminal reaches
wcbench only, and its process group holds the tree unless a process leaves it. A run is one of:

- **measured** (untimed): the probe loads into every Python process (:mod:`wcbench.probe`) and
  the sampler process follows the tree from outside, orphans included
  (:class:`wcbench.sampler.TreeSampler` with ``follow_orphans``);
- **bare** (timed): nothing added, its output discarded (its standard error kept to say why it
  failed); the wall time is from the start to the root's exit.

Stopping a tree (a deadline passed, Ctrl-C, SIGTERM, or processes outliving the command):
SIGTERM to every process but multiprocessing's resource tracker (it ignores SIGTERM and cleans up
the shared memory and semaphores of the processes that die once they are gone), SIGKILL after
:data:`TERM_GRACE`; then the tracker is given :data:`TRACKER_GRACE` to finish and exit (killed if
it does not); last, anything the probe saw registered and still in ``/dev/shm`` is removed and
named. The tree is the process group and, in a measured run, every process the sampler saw that
left it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wcbench import probe
from wcbench.measure.tree import TreeFigures, combine
from wcbench.sampler import SAMPLE_SECONDS, SamplerProcess, TreeSampler, running

#: After SIGTERM, how long processes get before SIGKILL (seconds).
TERM_GRACE = 2.0
#: How long multiprocessing's resource tracker gets to clean up and exit (seconds).
TRACKER_GRACE = 5.0
#: After the command exits, how long the rest of its tree may take to end by itself.
SETTLE_GRACE = 5.0
#: How often a wait looks at the tree (seconds).
POLL_SECONDS = 0.01
#: ``prctl`` option: orphaned descendants are reparented to this process (linux/prctl.h).
PR_SET_CHILD_SUBREAPER = 36


class CommandError(Exception):
    """The command cannot be started: one line, exit status 2."""


def check_command(argv: Sequence[str]) -> None:
    """Refuse an empty command, or one that names no executable file."""
    if not argv:
        raise CommandError("no command given: wcbench measure [OPTIONS] -- COMMAND [ARGS...]")
    program = argv[0]
    found = shutil.which(program) if os.sep not in program else \
        (program if os.access(program, os.X_OK) and os.path.isfile(program) else None)
    if found is None:
        raise CommandError(f"cannot start {program!r}: no such executable file")


def group_members(pgid: int) -> set[int]:
    """Running processes (not zombies) of process group ``pgid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            found.add(int(entry))
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _is_tracker(pid: int) -> bool:
    return "multiprocessing.resource_tracker import main" in _cmdline(pid)


@dataclass
class Tree:
    """The processes of one run: its process group, and what the sampler sees (measured run)."""

    pgid: int
    sampler: TreeSampler | None = None

    def alive(self) -> set[int]:
        pids = group_members(self.pgid)
        if self.sampler is not None:
            with contextlib.suppress(RuntimeError):  # the sampler is gone: the group remains
                pids |= {p for p in self.sampler.alive() if running(p)}
        return pids


def _wait_until(done: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def _signal(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def stop_tree(tree: Tree, proc: subprocess.Popen) -> list[str]:
    """Stop every process of ``tree`` (see the module docstring); lines saying what was done."""
    lines = []
    pids = tree.alive()
    trackers = {p for p in pids if _is_tracker(p)}
    others = pids - trackers
    if others:
        _signal(others, signal.SIGTERM)
        if not _wait_until(lambda: not (tree.alive() - trackers), TERM_GRACE):
            stubborn = tree.alive() - trackers
            _signal(stubborn, signal.SIGKILL)
            lines.append(f"killed {len(stubborn)} process(es) still running {TERM_GRACE:g} s "
                         f"after SIGTERM: pid {', '.join(map(str, sorted(stubborn)))}")
        lines.insert(0, f"stopped {len(others)} process(es) of the command's tree")
    if trackers and not _wait_until(lambda: not tree.alive(), TRACKER_GRACE):
        _signal(tree.alive(), signal.SIGKILL)
        lines.append("killed multiprocessing's resource tracker, still running "
                     f"{TRACKER_GRACE:g} s after the rest of the tree had ended")
    proc.wait()
    return lines


def settle(tree: Tree, proc: subprocess.Popen) -> list[str]:
    """After the command exited: wait for the rest of its tree (the resource tracker, a worker
    shutting down) to end by itself, then stop what is left."""
    proc.wait()
    if _wait_until(lambda: not tree.alive(), SETTLE_GRACE):
        return []
    left = sorted(tree.alive())
    return [f"{len(left)} process(es) outlived the command by {SETTLE_GRACE:g} s (pid "
            f"{', '.join(map(str, left))})", *stop_tree(tree, proc)]


def become_subreaper() -> bool:
    """Have the processes of the command's tree that lose their parent (a fork server, a
    resource tracker, a daemon) reparented to this process rather than to init, so that
    :func:`reap_orphans` waits for them and their CPU time is counted (Linux 3.4+)."""
    if not sys.platform.startswith("linux"):
        return False
    return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def reap_orphans(keep: Iterable[int] = ()) -> None:
    """Wait for every ended child of this process but ``keep`` (orphans adopted as the
    subreaper)."""
    me, kept = os.getpid(), set(keep)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in kept:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if int(fields[1]) == me and fields[0] == b"Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(entry), os.WNOHANG)


def children_cpu_seconds() -> float:
    """CPU time (user and system) of this process's waited-for descendants so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Outcome:
    """One run of the command."""

    status: int | None
    seconds: float
    cpu_seconds: float
    timed_out: bool = False
    #: What was stopped or removed afterwards, one line each.
    notes: list[str] = field(default_factory=list)
    stderr_tail: str = ""
    figures: TreeFigures | None = None

    @property
    def ok(self) -> bool:
        return self.status == 0 and not self.timed_out

    def describe(self) -> str:
        """``exit status 3``, ``killed by SIGKILL``, ``timed out after 5 s``."""
        if self.timed_out:
            return f"timed out after {self.seconds:.3g} s"
        if self.status is not None and self.status < 0:
            return f"killed by {signal.Signals(-self.status).name}"
        return f"exit status {self.status}"


def _start(argv: Sequence[str], env: Mapping[str, str], **kwargs: object) -> subprocess.Popen:
    try:
        return subprocess.Popen(list(argv), env=dict(env), start_new_session=True,
                                **kwargs)  # type: ignore[call-overload]
    except OSError as exc:
        raise CommandError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None


def _run(proc: subprocess.Popen, tree: Tree, timeout: float | None, started: float,
         keep: Iterable[int] = ()) -> tuple[bool, float, list[str]]:
    """Wait for the root (stopping the tree at the deadline or on Ctrl-C), then reap the
    orphans adopted meanwhile but ``keep`` (the sampler); ``(timed out, wall seconds,
    notes)``."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        seconds = time.perf_counter() - started
        try:
            return True, seconds, stop_tree(tree, proc)
        finally:
            reap_orphans(keep=keep)
    except KeyboardInterrupt:
        try:
            stop_tree(tree, proc)
        finally:
            reap_orphans(keep=keep)
        raise
    seconds = time.perf_counter() - started
    try:
        return False, seconds, settle(tree, proc)
    except KeyboardInterrupt:
        stop_tree(tree, proc)
        raise
    finally:
        reap_orphans(keep=keep)


def bare_run(argv: Sequence[str], timeout: float | None,
             env: Mapping[str, str] | None = None) -> Outcome:
    """One timed run: nothing added to the command; its output discarded, its standard error's
    end kept."""
    with tempfile.TemporaryFile() as err:
        cpu = children_cpu_seconds()
        started = time.perf_counter()
        proc = _start(argv, os.environ if env is None else env, stdout=subprocess.DEVNULL,
                      stderr=err)
        timed_out, seconds, notes = _run(proc, Tree(proc.pid), timeout, started)
        err.seek(max(err.seek(0, os.SEEK_END) - 2000, 0))
        tail = err.read().decode(errors="replace")
    return Outcome(proc.returncode, seconds, children_cpu_seconds() - cpu, timed_out, notes,
                   tail)


def measured_run(argv: Sequence[str], timeout: float | None, sampler_process: SamplerProcess,
                 *, interval: float = SAMPLE_SECONDS,
                 env: Mapping[str, str] | None = None, directory: Path | None = None,
                 keep: bool = False) -> Outcome:
    """The untimed run: the probe in every Python process, the tree sampled from outside; its
    output shown. ``directory`` receives the probe's files (a temporary one by default, removed
    unless ``keep``)."""
    directory = directory or Path(tempfile.mkdtemp(prefix="wcbench-measure-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        cpu = children_cpu_seconds()
        started = time.perf_counter()
        proc = _start(argv, probe.environment(directory, env))
        sampler = TreeSampler(proc.pid, interval, timeline=True, follow_orphans=True,
                              process=sampler_process)
        tree = Tree(proc.pid, sampler)
        try:
            sampler.__enter__()
        except BaseException:
            stop_tree(Tree(proc.pid), proc)
            raise
        try:
            timed_out, seconds, notes = _run(proc, tree, timeout, started,
                                             keep=[sampler_process.pid])
        finally:
            with contextlib.suppress(RuntimeError):
                sampler.__exit__(None, None, None)
            removed = probe.remove_leftovers(directory)
        outcome = Outcome(proc.returncode, seconds, children_cpu_seconds() - cpu, timed_out,
                          notes)
        outcome.notes += [f"removed {path}: the command's multiprocessing left it" for path in
                          removed]
        if sampler.window is not None:
            outcome.figures = combine(sampler.window, probe.read_reports(directory))
        return outcome
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)

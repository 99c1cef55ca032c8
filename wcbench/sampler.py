"""The memory of a process tree, sampled by a separate process: no thread in the measured one.

Why a process and not a thread: a thread of ours alive in the parent while a fork-based case
starts its children is the hazard CPython warns about since 3.12 ("This process is
multi-threaded, use of fork() may lead to deadlocks in the child": a child forked while another
thread holds a lock can hang), and a sampling thread takes the GIL from the call it measures. So
``python -m wcbench.sampler`` runs beside the measured process, is told over a pipe when a window
starts and ends, and in between reads ``/proc`` every ``interval`` seconds:

- the tree's summed PSS (proportional set size: a page shared after ``fork`` counted once),
  sampler processes (this one and any other) left out wherever they sit in the tree;
- each process's own peak PSS, private (USS) and resident memory, its parent and command line;
- optionally a timeline (tree and per process, halved in resolution whenever it grows past
  ``MAX_POINTS``) and the largest resident size of the root's shared data mappings (a shared
  memory block the root creates and unmaps before the call returns).

Commands are JSON lines on the sampler's stdin, each answered by one JSON line on its stdout.
Another process given the command pipe (``TreeSampler.command_fd``) may ask for a sample too,
naming a file for the answer (``{"cmd": "sample", "reply_to": PATH}``): a test that must free
memory only once the sampler has seen it waits for that file, in a process of its own rather
than a thread beside the call.

Each sample reads every process's ``smaps_rollup`` first, back to back, and does its bookkeeping
after, so that the sum adds readings taken as close together as can be; and the process raises
its own scheduling priority where allowed (``SAMPLER_NICE``, as root): preempted in the middle of
a sample on a loaded machine, its readings drifted apart and the sum missed short peaks, or added
peaks that never coexisted (tests/test_measure.py's independent sampler disagreed by 10-20%
under two busy loops; none did once both ran at this priority).

One sampler process serves every window of the process that started it (``shared()``): its
start-up (importing ``wordcount.procmem``, and with it the package) is paid once. This module
imports only the standard library until it samples, so a process that only asks for samples
stays small. It asks the kernel for SIGKILL when its
parent dies and exits when its command pipe closes, so it never outlives what it measures.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Interval of the sampler (seconds).
SAMPLE_SECONDS = 0.002
#: Timeline points kept per window before its resolution is halved.
MAX_POINTS = 4000
#: Longest wait for the sampler process to answer a command (seconds); it answers at once.
REPLY_SECONDS = 60.0
#: Marks the sampler's command line, so tests and tools can tell it from a worker.
MODULE = "wcbench.sampler"
#: The sampler's scheduling priority, where the user may raise it (root).
SAMPLER_NICE = -15


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


def tree_pss(pid: int, *, leave_out: frozenset[int] = frozenset()) -> int:
    """Summed PSS of ``pid`` and its descendants but ``leave_out``; a process that vanishes
    mid-read counts 0."""
    from wordcount.procmem import rollup

    total = 0
    for p in (pid, *descendants(pid)):
        if p not in leave_out:
            with contextlib.suppress(OSError):  # the process exited meanwhile
                total += rollup(p).get("Pss", 0)
    return total


@dataclass
class ProcessPeak:
    """One process of the tree as the sampler saw it: peaks over the window (bytes)."""

    pid: int
    ppid: int
    cmdline: list[str]
    first_seen: float
    last_seen: float
    peak_pss: int = 0
    peak_uss: int = 0
    peak_rss: int = 0

    @classmethod
    def from_json(cls, data: dict) -> ProcessPeak:
        return cls(**data)


@dataclass
class Window:
    """What one sampling window found (times in seconds from its start)."""

    before: int
    peak: int
    samples: int
    seconds: float
    processes: dict[int, ProcessPeak] = field(default_factory=dict)
    #: ``[seconds, tree PSS, {pid: PSS}]`` per kept sample, when asked for.
    timeline: list[list] = field(default_factory=list)
    #: The root's shared data mappings: path -> largest resident bytes seen.
    mappings: dict[str, dict[str, int]] = field(default_factory=dict)
    #: The processes found by the latest sample (alive then).
    alive: list[int] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict) -> Window:
        procs = {int(pid): ProcessPeak.from_json(p) for pid, p in data["processes"].items()}
        return cls(data["before"], data["peak"], data["samples"], data["seconds"], procs,
                   data["timeline"], data["mappings"], data.get("alive", []))


# --- the sampler process ------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[bytes] | None:
    """``/proc/PID/stat`` after the command name (state first), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2:].split()


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), None when it is gone: tells a process from
    a later one given the same pid."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def running(pid: int) -> bool:
    """Whether ``pid`` exists and has not ended (a zombie has: it waits to be reaped)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")


def _ppid_and_cmdline(pid: int) -> tuple[int, list[str]]:
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        cmdline = [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    return ppid, cmdline


class _Recorder:
    """One window, recorded inside the sampler process."""

    def __init__(self, spec: dict) -> None:
        self.root = int(spec["root"])
        self.timeline = bool(spec.get("timeline"))
        self.mappings_of = spec.get("mappings_of")
        self.ignore = spec.get("ignore_under") or None
        self.under = spec.get("mappings_under") or None
        #: Keep following a process seen in the tree after its parent ends (it is then
        #: reparented out of the tree), and its descendants.
        self.follow = bool(spec.get("follow_orphans"))
        self.started_at: dict[int, int | None] = {}
        self.alive: list[int] = []
        self.me = frozenset({os.getpid()})
        self.started = time.monotonic()
        self.step = 1  # keep every step-th sample in the timeline
        self.window = Window(before=0, peak=0, samples=0, seconds=0.0)
        self.window.before = self.sample()

    def _process(self, pid: int, fields: dict[str, int], now: float) -> int:
        """Note one process's reading (``fields``, its ``smaps_rollup``) in the window."""
        from wordcount.procmem import uss

        seen = self.window.processes.get(pid)
        if seen is not None and (pid == self.root or self._forked(seen)):
            # the root, or a fork child, may exec another program (a shell's shim, a spawn
            # child); the parent a process has is the one it started with
            seen.cmdline = _ppid_and_cmdline(pid)[1]
        if seen is None:
            ppid, cmdline = _ppid_and_cmdline(pid)
            if cmdline[1:] == ["-m", MODULE]:  # another sampler (a test's own watcher, say)
                self.me |= {pid}
                return 0
            seen = self.window.processes[pid] = ProcessPeak(pid, ppid, cmdline, now, now)
            if self.follow:
                self.started_at[pid] = start_ticks(pid)
        pss = fields.get("Pss", 0)
        seen.last_seen = now
        seen.peak_pss = max(seen.peak_pss, pss)
        seen.peak_uss = max(seen.peak_uss, uss(fields))
        seen.peak_rss = max(seen.peak_rss, fields.get("Rss", 0))
        return pss

    def _forked(self, seen: ProcessPeak) -> bool:
        """Whether ``seen`` still runs its parent's command line (forked, not yet exec'd)."""
        parent = self.window.processes.get(seen.ppid)
        return parent is not None and parent.cmdline == seen.cmdline

    def _tree(self) -> list[int]:
        """The root and its descendants; with ``follow``, also every process seen before that
        left the tree (its parent ended) and is still the same process, with its descendants."""
        pids = [self.root, *descendants(self.root)]
        if self.follow:
            found = set(pids)
            for pid, ticks in list(self.started_at.items()):
                if pid not in found and ticks is not None and start_ticks(pid) == ticks:
                    for p in (pid, *descendants(pid)):
                        if p not in found:
                            found.add(p)
                            pids.append(p)
        return pids

    def sample(self) -> int:
        from wordcount.procmem import rollup

        now = time.monotonic() - self.started
        each: dict[int, int] = {}
        alive = []
        readings = {}
        for pid in [p for p in self._tree() if p not in self.me]:
            # every process's figures read first, one after the other, so that the sum is of
            # readings as close in time as can be; the bookkeeping after
            with contextlib.suppress(OSError):  # it exited meanwhile
                readings[pid] = rollup(pid)
        for pid, fields in readings.items():
            if self.follow and running(pid):
                alive.append(pid)
            with contextlib.suppress(OSError, ValueError):
                if pss := self._process(pid, fields, now):
                    each[pid] = pss
        total = sum(each.values())
        self.alive = alive
        w = self.window
        w.peak = max(w.peak, total)
        w.samples += 1
        w.seconds = now
        if self.timeline and w.samples % self.step == 0:
            w.timeline.append([round(now, 4), total, each])
            if len(w.timeline) > MAX_POINTS:
                del w.timeline[1::2]
                self.step *= 2
        if self.mappings_of is not None:
            self._note_mappings()
        return total

    def _note_mappings(self) -> None:
        from wordcount.procmem import is_data_path, mappings

        with contextlib.suppress(OSError):
            for m in mappings(self.mappings_of):
                wanted = m.path.startswith(self.under) if self.under else is_data_path(m.path)
                if not (m.shared_flag and wanted) or \
                        (self.ignore and m.path.startswith(self.ignore)):
                    continue
                best = self.window.mappings.setdefault(m.path, {"size": 0, "rss": 0})
                best["size"], best["rss"] = max(best["size"], m.size), max(best["rss"], m.rss)

    def result(self) -> dict:
        self.sample()
        w = self.window
        return {"before": w.before, "peak": w.peak, "samples": w.samples,
                "seconds": w.seconds, "timeline": w.timeline, "mappings": w.mappings,
                "processes": {str(pid): vars(p) for pid, p in w.processes.items()},
                "alive": self.alive}


def _lines(fd: int) -> Iterator[str | None]:
    """Command lines read from ``fd`` as they come; None once it is closed."""
    pending = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            yield None
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield line.decode()


def _serve(fd_in: int, out: int, interval: float) -> None:
    recorder: _Recorder | None = None
    lines = _lines(fd_in)

    def reply(data: object, to: str | None = None) -> None:
        if to is None:
            os.write(out, json.dumps(data).encode() + b"\n")
            return
        with open(f"{to}.part", "w") as f:  # whole or not there: the asker polls for the file
            json.dump(data, f)
        os.replace(f"{to}.part", to)

    while True:
        if recorder is not None:
            ready, _, _ = select.select([fd_in], [], [], interval)
            if not ready:
                with contextlib.suppress(OSError):
                    recorder.sample()
                continue
        line = next(lines)
        if line is None:
            return
        command = json.loads(line)
        what = command["cmd"]
        if what == "start":
            interval = float(command.get("interval", interval))
            recorder = _Recorder(command)
            reply({"before": recorder.window.before})
        elif what == "sample" and recorder is not None:
            recorder.sample()
            reply({"samples": recorder.window.samples}, command.get("reply_to"))
        elif what == "peek" and recorder is not None:
            reply(recorder.result())
        elif what == "alive" and recorder is not None:
            recorder.sample()
            reply({"alive": recorder.alive})
        elif what == "stop" and recorder is not None:
            reply(recorder.result())
            recorder = None
        else:
            reply({"error": f"unexpected command {what!r}"}, command.get("reply_to"))


def main() -> None:
    """``python -m wcbench.sampler``: commands on stdin, one JSON reply per command on stdout."""
    if sys.platform.startswith("linux"):  # SIGKILL when the process that started it dies
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the parent's to handle
    if os.getppid() == 1:
        return
    import wordcount.procmem  # noqa: F401  (now, not during a window's first sample)

    # less often preempted in the middle of a sample (whose readings are then further apart in
    # time); where allowed
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, SAMPLER_NICE)
    _serve(sys.stdin.fileno(), sys.stdout.fileno(), SAMPLE_SECONDS)


def request_sample(command_fd: int, reply_to: str, timeout: float = REPLY_SECONDS) -> bool:
    """From a process given the sampler's command pipe: have a sample taken now, and wait until
    it is (True) or ``timeout`` seconds pass (False). ``reply_to`` must not exist yet."""
    os.write(command_fd, json.dumps({"cmd": "sample", "reply_to": reply_to}).encode() + b"\n")
    deadline = time.monotonic() + timeout
    while not os.path.exists(reply_to):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    with open(reply_to) as f:
        return "error" not in json.load(f)


# --- the measured side ----------------------------------------------------------------------------


class SamplerProcess:
    """The sampler process and its command pipe, as seen from the process that started it."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        self.owner = os.getpid()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=dict(os.environ, PYTHONPATH=path), close_fds=True)
        self._pending = b""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.proc.poll() is None

    def ask(self, command: dict) -> dict:
        """Send one command and wait for its reply; ``RuntimeError`` if the sampler is gone."""
        try:
            answer = self._ask(command)
        except BaseException:
            self.close(kill=True)  # a reply may still be on its way: never read it as the next
            raise
        if "error" in answer:
            raise RuntimeError(f"memory sampler: {answer['error']}")
        return answer

    def _ask(self, command: dict) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(command).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise RuntimeError(f"the memory sampler process has ended ({exc})") from None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + REPLY_SECONDS
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise RuntimeError("the memory sampler process did not answer")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"the memory sampler process has ended "
                                   f"(status {self.proc.wait()})")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return json.loads(line)

    def close(self, kill: bool = False) -> None:
        """End the process (it exits when its command pipe closes, at once if ``kill``) and
        reap it."""
        if self.owner != os.getpid() or self.proc.returncode is not None:
            return
        if kill:
            self.proc.kill()
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


_shared: SamplerProcess | None = None


def shared() -> SamplerProcess:
    """This process's sampler process, started on first use (again after a fork or its end)."""
    global _shared
    if _shared is None or not _shared.alive():
        if _shared is not None and _shared.owner == os.getpid():
            _shared.close()
        _shared = SamplerProcess()
        atexit.register(_shared.close)
    return _shared


class TreeSampler:
    """The peak of a process tree's PSS from ``__enter__`` until ``__exit__``, sampled by the
    sampler process every ``interval`` seconds; the tree is ``pid`` and its descendants."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS, *, timeline: bool = False,
                 mappings: bool = False, mappings_under: str | None = None,
                 ignore_under: str | None = None, follow_orphans: bool = False,
                 process: SamplerProcess | None = None) -> None:
        self.pid = pid
        self.follow_orphans = follow_orphans
        self.interval = interval
        self.timeline = timeline
        self.mappings = mappings or mappings_under is not None
        self.mappings_under = mappings_under
        self.ignore_under = ignore_under
        self._process = process
        self.before = 0
        self.peak = 0
        self.samples = 0
        self.window: Window | None = None

    def _sampler(self) -> SamplerProcess:
        if self._process is None or not self._process.alive():
            self._process = shared()
        return self._process

    @property
    def command_fd(self) -> int:
        """The sampler's command pipe, for another process to ask for samples (see module)."""
        stdin = self._sampler().proc.stdin
        assert stdin is not None
        return stdin.fileno()

    def wait_for_sample(self, timeout: float = REPLY_SECONDS) -> bool:
        """Have a sample taken now: what the tree holds at this moment is then in the peak.
        Tests use it to free memory only once it is seen."""
        self.samples = int(self._sampler().ask({"cmd": "sample"})["samples"])
        return True

    def __enter__(self) -> TreeSampler:
        answer = self._sampler().ask({
            "cmd": "start", "root": self.pid, "interval": self.interval,
            "timeline": self.timeline, "mappings_of": self.pid if self.mappings else None,
            "mappings_under": self.mappings_under, "ignore_under": self.ignore_under,
            "follow_orphans": self.follow_orphans})
        self.before = self.peak = int(answer["before"])
        return self

    def peek(self) -> Window:
        """What the window has found so far (a sample is taken now); it goes on."""
        return Window.from_json(self._sampler().ask({"cmd": "peek"}))

    def alive(self) -> list[int]:
        """The processes of the tree running now (a sample is taken), orphans followed: only
        for a window opened with ``follow_orphans``."""
        return [int(p) for p in self._sampler().ask({"cmd": "alive"})["alive"]]

    def __exit__(self, *exc: object) -> None:
        window = Window.from_json(self._sampler().ask({"cmd": "stop"}))
        self.window, self.peak, self.samples = window, window.peak, window.samples


if __name__ == "__main__":
    main()

"""Kernels that misbehave on purpose, and checks for what a failed call may leave behind.

The kernels are top-level functions of a module on ``sys.path`` (pytest puts ``tests/`` there and
spawn/forkserver children inherit the parent's ``sys.path``), so workers of every start method
can load them. Each one obeys the kernel contract ``kernel(data, start=0, end=None) -> int`` and
misbehaves only in a chunk that holds its trigger word, so the other workers stay busy (they
sleep) while one fails: the call must then fail at once rather than wait for them.

``python -c "import helpers; helpers.cli_main()" ARGS`` runs the real ``wordcount`` CLI with these
kernels registered under the names of ``EXTRA_KERNELS``, so CLI runs can be made to fail or to
keep their workers busy.

Workers import this module to load a kernel, so it imports little at the top (psutil only where
the audit functions need it).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wordcount.executors import PROCESS_EXECUTORS, START_METHODS

#: The ``wcbench`` console script of the interpreter running the tests (its venv's ``bin/``).
WCBENCH = str(Path(sys.executable).with_name("wcbench"))


def wcbench(command: str, args: Sequence[str]) -> int:
    """``wcbench COMMAND ARGS...`` in this process, as the console script runs it: its status."""
    from wcbench.cli import main

    return main([command, *args])

if TYPE_CHECKING:
    import psutil
    from hypothesis.strategies import SearchStrategy

    from wcbench.sampler import SamplerProcess, TreeSampler

#: A chunk holding this word makes its worker raise.
RAISE_WORD = "RAISE"
#: A chunk holding this word makes its worker SIGKILL itself.
KILL_WORD = "KILL"
#: A chunk holding this word makes its worker exit quietly, with status 0 and no result.
EXIT_WORD = "EXIT"
#: How long ``sleepy_kernel`` and the non-failing chunks of the faulty kernels sleep: far longer
#: than any test waits, so a call that waits for them is caught by the test's liveness bound.
SLEEP_SECONDS = 60.0
#: Environment variable naming a directory where each kernel call, once it runs, creates a file
#: named after its process id: the sign a test waits for before it signals a busy worker.
READY_DIR_ENV = "WORDCOUNT_TEST_READY_DIR"


def _announce() -> None:
    """Say 'this process is in a kernel now' where the test looks for it (if it asked)."""
    directory = os.environ.get(READY_DIR_ENV)
    if directory:
        Path(directory, f"{os.getpid()}-{time.monotonic_ns()}").touch()


def kernels_running(directory: Path) -> int:
    """How many kernel calls have announced themselves in ``directory``."""
    return len(os.listdir(directory))


def _chunk(data: object, start: int, end: int | None) -> str:
    end = len(data) if end is None else end  # type: ignore[arg-type]
    if isinstance(data, str):
        return data[start:end]
    return str(memoryview(data)[start:end], "utf-8")  # type: ignore[arg-type]


def raising_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    """Raise in the chunk holding ``RAISE``; sleep in the others."""
    words = _chunk(data, start, end).split()
    _announce()
    if RAISE_WORD in words:
        raise RuntimeError(f"helper kernel raised on purpose in pid {os.getpid()}")
    time.sleep(SLEEP_SECONDS)
    return len(words)


def killing_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    """SIGKILL the worker in the chunk holding ``KILL``; sleep in the others."""
    words = _chunk(data, start, end).split()
    _announce()
    if KILL_WORD in words:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(SLEEP_SECONDS)
    return len(words)


def exiting_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    """End the worker with ``os._exit(0)`` (no result, no error) in the chunk holding ``EXIT``;
    sleep in the others."""
    words = _chunk(data, start, end).split()
    if EXIT_WORD in words:
        os._exit(0)
    time.sleep(SLEEP_SECONDS)
    return len(words)


def sleepy_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    """Keep the worker busy (sleeping) for ``SLEEP_SECONDS``, then count."""
    words = _chunk(data, start, end).split()
    _announce()
    time.sleep(SLEEP_SECONDS)
    return len(words)


#: Extra ``--kernel`` names ``cli_main`` accepts.
EXTRA_KERNELS = {"raise": raising_kernel, "kill": killing_kernel, "sleep": sleepy_kernel}


def cli_main() -> None:
    """The ``wordcount`` CLI with the helper kernels registered (argv from ``sys.argv[1:]``)."""
    from wordcount import cli
    from wordcount.kernels import KERNEL_FUNCTIONS

    KERNEL_FUNCTIONS.update(EXTRA_KERNELS)
    sys.exit(cli.main(sys.argv[1:]))


# --- texts for the property tests -------------------------------------------------------------

#: Characters that are not whitespace, several of them easily mistaken for it: zero-width space,
#: BOM, Mongolian vowel separator (whitespace before Unicode 6.3), word joiner, soft hyphen, NUL,
#: DEL, C1 controls next to U+0085, and multi-byte letters of every UTF-8 length.
NOT_SPACE = "ab1.\x00\x7f\x80\x84\x86\x9f\u200b\ufeff\u180e\u2060\u00ad\u00e9\u00df\u4e2d\U0001f600"


def texts(max_tokens: int = 40, min_tokens: int = 0,
          edge_cases: bool = True) -> SearchStrategy[str]:
    """Unicode texts built from runs of words and of whitespace (all 29 code points), so chunk
    cuts land inside words and inside runs of spaces; with ``edge_cases``, also arbitrary text,
    whitespace-only text and the empty text.

    hypothesis is imported here, not at the top: workers import this module for its kernels.
    """
    from hypothesis import strategies as st

    from wordcount.text import WHITESPACE

    word = st.text(st.sampled_from(NOT_SPACE), min_size=1, max_size=12)
    space = st.text(st.sampled_from(WHITESPACE), min_size=1, max_size=4)
    structured = st.lists(st.one_of(word, space), min_size=min_tokens,
                          max_size=max_tokens).map("".join)
    if not edge_cases:
        return structured
    return st.one_of(structured, st.text(max_size=60), space, st.just(""))


# --- what a call may leave behind -------------------------------------------------------------

_HELPER_CMDLINE = re.compile(r"multiprocessing\.(resource_tracker|forkserver) import main"
                             r"|-m wcbench\.sampler$")


def is_mp_helper(proc: psutil.Process, parent_pid: int) -> bool:
    """multiprocessing's own long-lived helpers (resource tracker, fork server) of ``parent_pid``.

    They are direct children whose command line runs their ``main``; workers forked by the fork
    server share its command line but are its children, not ``parent_pid``'s.
    """
    import psutil

    try:
        return proc.ppid() == parent_pid and bool(_HELPER_CMDLINE.search(" ".join(proc.cmdline())))
    except psutil.NoSuchProcess:
        return False


def worker_processes(parent_pid: int | None = None) -> set[int]:
    """Pids of live descendants of ``parent_pid`` (default: this process) other than helpers."""
    import psutil

    parent_pid = os.getpid() if parent_pid is None else parent_pid
    try:
        children = psutil.Process(parent_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    live = set()
    for p in children:
        try:
            if p.status() == psutil.STATUS_ZOMBIE or is_mp_helper(p, parent_pid):
                continue
        except psutil.NoSuchProcess:
            continue
        live.add(p.pid)
    return live


def shm_segments_mapped(pid: int) -> set[str]:
    """Names of the /dev/shm segments process ``pid`` maps right now."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return set()
    return set(re.findall(r"/dev/shm/(\S+)", maps))


class SegmentsSeen:
    """Names of the /dev/shm segments a process mapped at any time in a sampler's window: read
    from the window so far while it is open, from the whole window once it has ended."""

    def __init__(self, sampler: TreeSampler) -> None:
        self.sampler = sampler

    def names(self) -> set[str]:
        window = self.sampler.window or self.sampler.peek()
        return {path.removeprefix("/dev/shm/") for path in window.mappings}

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __sub__(self, other: Iterable[str]) -> set[str]:
        return self.names() - set(other)

    def __contains__(self, name: object) -> bool:
        return name in self.names()


_watcher: SamplerProcess | None = None


@contextmanager
def created_blocks() -> Iterator[set[str]]:
    """The names of the ``SharedMemory`` blocks this process creates during the block: the
    class's constructor is wrapped for its duration (the executors create theirs in the caller)."""
    from multiprocessing import shared_memory

    names: set[str] = set()
    original = shared_memory.SharedMemory.__init__

    def recording(self: shared_memory.SharedMemory, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        if kwargs.get("create") or (len(args) > 1 and args[1]):
            names.add(self._name.lstrip("/"))  # type: ignore[attr-defined]

    shared_memory.SharedMemory.__init__ = recording  # type: ignore[method-assign]
    try:
        yield names
    finally:
        shared_memory.SharedMemory.__init__ = original  # type: ignore[method-assign]


@contextmanager
def shm_watch(pid: int | None = None, every: float = 0.002) -> Iterator[SegmentsSeen]:
    """Collect the names of the /dev/shm segments ``pid`` maps at any time during the block.

    The executor's parent maps its block from creation to unlink, so watching it finds the exact
    segment a call made, whatever else other processes on the machine create meanwhile. The
    watching is done by a sampler process of its own (``wcbench.sampler``), kept for the session:
    a watching thread here would be alive while fork-based executors fork.
    """
    global _watcher
    from wcbench.sampler import SamplerProcess, TreeSampler

    if _watcher is None or not _watcher.alive():
        _watcher = SamplerProcess()
    sampler = TreeSampler(os.getpid() if pid is None else pid, every,
                          mappings_under="/dev/shm/", process=_watcher)
    with sampler:  # what is mapped already is in its first sample
        yield SegmentsSeen(sampler)


def zombie_children(pid: int | None = None) -> set[int]:
    """Direct children of ``pid`` (default: this process) that ended and were never reaped."""
    import psutil

    try:
        children = psutil.Process(os.getpid() if pid is None else pid).children()
    except psutil.NoSuchProcess:
        return set()
    zombies = set()
    for p in children:
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                zombies.add(p.pid)
        except psutil.NoSuchProcess:
            continue
    return zombies


#: Environment variable that marks every process a test starts, and all they start in turn (the
#: environment is inherited by fork, spawn, the fork server and the resource tracker alike).
TAG_ENV = "WORDCOUNT_TEST_TAG"


def tagged_processes(tag: str) -> set[int]:
    """Pids of live processes (not zombies: those have ended) whose environment holds ``tag``."""
    import psutil

    found = set()
    for p in psutil.process_iter():
        try:
            if p.pid == os.getpid() or p.status() == psutil.STATUS_ZOMBIE:
                continue
            if p.environ().get(TAG_ENV) == tag:
                found.add(p.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def leftover_segments(names: set[str]) -> set[str]:
    """Those of ``names`` still present in /dev/shm."""
    return {n for n in names if os.path.exists(f"/dev/shm/{n}")}


def wait_for(predicate: Callable[[], object], timeout: float, every: float = 0.02) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


# --- the grid and the audit used by the process tests -----------------------------------------

#: Every (process executor, start method) pair this platform offers, as pytest ids.
PROCESS_GRID = [(ex, m) for ex in sorted(PROCESS_EXECUTORS) for m in START_METHODS]

#: How long a worker that stays healthy may still be reaped after a call returns (seconds).
REAP_GRACE = 5.0


@dataclass
class Audit:
    """What one test started: worker pids alive before it, segments it mapped while it ran."""

    before: set[int]
    mapped_before: set[str]
    seen: set[str] | SegmentsSeen = field(default_factory=set)  # from ``shm_watch``

    def new_workers(self) -> set[int]:
        return worker_processes() - self.before

    #: Names of the blocks this process created during the test (``created_blocks``): known
    #: exactly, however short-lived, where sampling the mappings can miss one under load.
    created: set[str] = field(default_factory=set)

    def shared_blocks(self) -> set[str]:
        """multiprocessing.shared_memory blocks this process created or mapped during the test."""
        return {n for n in (set(self.seen) | self.created) - self.mapped_before
                if n.startswith("psm_")}

    def assert_clean(self) -> None:
        """No worker process, no unreaped child and no shared-memory segment of this test is
        left."""
        assert wait_for(lambda: not self.new_workers(), REAP_GRACE), \
            f"worker processes left running: {sorted(self.new_workers())}"
        # Children this test started: one alive before it (a Dask worker an earlier test left
        # running, say) that ends during it is its owner's to reap, in its own time.
        assert wait_for(lambda: not zombie_children() - self.before, REAP_GRACE), \
            f"children never reaped: {sorted(zombie_children() - self.before)}"
        left = leftover_segments((set(self.seen) | self.created) - self.mapped_before)
        assert not left, f"shared-memory segments left in /dev/shm: {sorted(left)}"


def utf8_verdict(raw: bytes) -> int | tuple[int, str]:
    """What a kernel must say of ``raw``: ``len(raw.decode().split())``, or the offset and reason
    ``bytes.decode`` gives for invalid UTF-8 (as ``InvalidUTF8Error`` carries them)."""
    try:
        return len(raw.decode("utf-8").split())
    except UnicodeDecodeError as exc:
        return exc.start, exc.reason


class FirstWorkerKiller:
    """A process of its own that SIGKILLs the first new worker of this process (not one of
    ``before``) as soon as it exists; ``killed`` is its pid once the block has ended. A process,
    not a thread: a thread here would be alive while fork-based executors fork."""

    def __init__(self, before: set[int]) -> None:
        self.before = before
        self.killed: int | None = None
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> FirstWorkerKiller:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys, helpers; helpers.kill_first_worker("
             "int(sys.argv[1]), {int(p) for p in sys.argv[2:]})", str(os.getpid()),
             *map(str, self.before)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "ready\n"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        out, _ = self.proc.communicate("stop\n", timeout=30)  # it stops looking, if it still is
        self.killed = int(out) if out.strip() else None


def kill_first_worker(parent: int, before: set[int]) -> None:
    """``FirstWorkerKiller``'s process: say ``ready``, then kill the first new worker of
    ``parent`` and print its pid, or stop when a line arrives on stdin."""
    import select

    me = os.getpid()
    print("ready", flush=True)
    while not select.select([sys.stdin], [], [], 0.001)[0]:
        new = worker_processes(parent) - before - {me}
        if new:
            pid = min(new)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            print(pid, flush=True)
            return

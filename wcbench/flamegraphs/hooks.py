"""The worker side of a flamegraph capture: start memray in each worker, read its memory, close.

How each worker process gets captured:

- memray itself follows *fork* children of the tracked parent (``follow_fork``) into
  ``parent.bin.<pid>``, from the fork on; ``adopt_fork`` (run by multiprocessing after each fork)
  takes them in.
- Spawn and forkserver workers are fresh interpreters memray cannot follow. A ``WorkerCapture``
  hook rides in every ``Task`` ahead of the chunk (``wordcount.measure.Measurement.capture``);
  unpickling it (``_start_in_worker``) starts a ``Tracker`` in the worker, so the chunk's own
  unpickling is in the capture.
- ``task_done`` runs once a task's result exists and before it is sent: it closes the capture of
  a one-task process (children end in ``os._exit``), then reads the worker's memory from
  ``/proc``, where its peak is behind it and a shared block still mapped. A pool worker runs
  several tasks into one capture, closed (and its memory read) when it exits at pool shutdown.

Each worker writes ``pid-<pid>.json`` beside its capture (``ProcessFigures``). Everything here is
per process and keyed or checked by pid, since a fork child inherits it.

memray's limits met here (1.20, CPython 3.11): a new ``Tracker`` cannot start in a fork child of a
tracked parent (its thread-name patch is inherited and ``__enter__`` asserts on it), hence
``follow_fork`` for fork; memray hides, on the thread that enters a ``Tracker``, every frame below
the entering one, hence a worker enters its tracker from a short-lived thread, or the chunk's
unpickling in spawn's ``_main`` would show with no stack; and nothing closes a child's tracker
for it: the child must exit it, before the parent, holding the result, terminates the child.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from multiprocessing import util
from pathlib import Path
from typing import Any

from wordcount.executors._task import ENVELOPE_BYTES, Task, payload_size
from wordcount.procmem import data_mappings, reset_peak, rollup, status, uss

#: The parent's tracker while a scenario runs (memray follows fork children with it).
_parent_tracker: Any = None
#: The tracker recording each worker process, by pid.
_open: dict[int, Any] = {}
#: Each captured worker process's figures, by pid.
_figures: dict[int, ProcessFigures] = {}


@dataclass
class ProcessFigures:
    """One process's memory while captured, read from ``/proc`` (bytes), and what it received.

    ``private_start``: private pages (USS) when the capture started (the interpreter, before the
    chunk). ``peak_rss``: peak resident set since then. ``peak_private``: that peak less the pages
    shared with other processes (libraries, copy-on-write pages after fork) and less shared
    mappings of data. ``shared_mappings``: each ``MAP_SHARED`` data mapping (a shared-memory block,
    a mapped file) with its size and resident bytes. ``received``: bytes of the tasks it got by
    unpickling (payload plus envelope, as the parent's meter counts them; 0 for inherited ones).
    """

    pid: int
    private_start: int = 0
    peak_rss: int = 0
    peak_private: int = 0
    shared_mappings: list[dict[str, Any]] = field(default_factory=list)
    received: int = 0
    tasks_received: int = 0

    @classmethod
    def start(cls) -> ProcessFigures:
        """This process's figures from now on (its peak is reset to its present size)."""
        reset_peak()
        return cls(pid=os.getpid(), private_start=uss(rollup()))

    def note_shared(self, found: list[dict[str, Any]]) -> None:
        """Keep the reading of shared data mappings with the most resident bytes."""
        if sum(m["rss"] for m in found) > sum(m["rss"] for m in self.shared_mappings):
            self.shared_mappings = found

    def read(self, ignore_under: str) -> None:
        """Read the figures now (peaks only grow). Pages of shared data mappings are taken out
        of the private peak, whether still mapped (and counted private by the kernel when no
        other process maps them) or already unmapped, as a parent's block is when its call
        returns."""
        st, ru = status(), rollup()
        data = data_mappings(ignore_under=ignore_under)
        self.note_shared([{"path": m.path, "size": m.size, "rss": m.rss} for m in data])
        shared_pages = ru.get("Rss", 0) - uss(ru)  # data mapped by others too are among them
        data_elsewhere = sum(m["rss"] for m in self.shared_mappings) \
            - sum(m.rss - m.private for m in data)
        self.peak_rss = max(self.peak_rss, st["VmHWM"])
        self.peak_private = max(self.peak_private,
                                st["VmHWM"] - shared_pages - data_elsewhere,
                                uss(ru) - sum(m.private for m in data))


@dataclass(frozen=True)
class WorkerCapture:
    """The capture hook tasks carry to workers (``wordcount.measure.CaptureHook``).

    Pickled, it is rebuilt by ``_start_in_worker``, which starts the worker's capture. ``directory``
    receives ``pid-<pid>.bin`` and ``pid-<pid>.json``; ``one_task_per_process`` closes the capture
    after the task. ``unpickled`` is set on the copy a worker unpickles: its task was pickled.
    """

    directory: str
    parent_pid: int
    one_task_per_process: bool
    native_traces: bool = False
    python_allocators: bool = True
    unpickled: bool = field(default=False, compare=False)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (_start_in_worker, (self.directory, self.parent_pid, self.one_task_per_process,
                                   self.native_traces, self.python_allocators))

    def task_done(self, task: Task) -> None:
        """Count what the task brought; close the capture if the process runs no other task (a
        no-op in the parent, whose threads run tasks too)."""
        figures = _figures.get(os.getpid())
        if figures is None:
            return
        if self.unpickled:
            figures.received += payload_size(task.data) + ENVELOPE_BYTES
            figures.tasks_received += 1
        if self.one_task_per_process:
            close(self.directory)


def capture_path(directory: str | Path, pid: int) -> Path:
    """Where a spawn or forkserver worker's capture goes."""
    return Path(directory) / f"pid-{pid}.bin"


def _start_in_worker(*fields: Any) -> WorkerCapture:
    """Unpickling a hook in a worker: start its capture before the rest of the task is unpickled."""
    hook = WorkerCapture(*fields, unpickled=True)
    pid = os.getpid()
    if pid != hook.parent_pid and pid not in _open:
        import memray

        tracker = memray.Tracker(capture_path(hook.directory, pid),
                                 native_traces=hook.native_traces,
                                 trace_python_allocators=hook.python_allocators)
        # memray hides, in the thread that enters a Tracker, every frame below the entering one;
        # entered here, that would hide spawn's ``_main``, where the chunk is being unpickled.
        # Entering from a short-lived thread keeps this thread's whole stack in the capture.
        failed: list[BaseException] = []
        starter = threading.Thread(target=_enter, args=(tracker, failed), name="memray-start")
        starter.start()
        starter.join()
        if failed:
            raise failed[0]  # the task fails to unpickle: the worker fails loudly
        _open[pid] = tracker
        _figures[pid] = ProcessFigures.start()
        # Pool workers exit normally and run this; a one-task process closes in task_done.
        util.Finalize(None, close, args=(hook.directory,), exitpriority=100)
    return hook


def _enter(tracker: Any, failed: list[BaseException]) -> None:
    try:
        tracker.__enter__()
    except BaseException as exc:
        failed.append(exc)


def adopt_fork(hook: WorkerCapture) -> None:
    """In a multiprocessing fork child: memray's follow_fork now records this process."""
    if _parent_tracker is not None:
        pid = os.getpid()
        _open[pid] = _parent_tracker
        _figures[pid] = ProcessFigures.start()
        util.Finalize(None, close, args=(hook.directory,), exitpriority=100)


def set_parent_tracker(tracker: Any) -> None:
    """The parent's tracker while a scenario runs, ``None`` after (fork children adopt it)."""
    global _parent_tracker
    _parent_tracker = tracker


def close(directory: str) -> None:
    """Stop this worker's capture, writing its file completely, then read its memory and write
    its figures (idempotent). Read after the capture, so that reading ``/proc`` does not show in
    it; the peak is behind, and a shared block still mapped (the task is not over)."""
    pid = os.getpid()
    tracker = _open.pop(pid, None)
    if tracker is not None:
        tracker.__exit__(None, None, None)
    figures = _figures.pop(pid, None)
    if figures is not None:
        figures.read(directory)
        path = Path(directory) / f"pid-{pid}.json"
        path.write_text(json.dumps(asdict(figures)) + "\n")

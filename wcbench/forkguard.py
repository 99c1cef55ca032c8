"""Every ``fork`` made while another thread of this process runs, recorded where it happens.

A child forked while another thread holds a lock (the allocator's, logging's, a queue's) can hang
for ever, and the measurement must not create that hazard itself. CPython warns since 3.12
("This process is multi-threaded, use of fork() may lead to deadlocks in the child"), but
``-W error`` cannot turn that warning into a failure: ``os.fork()`` has already forked, and it
discards the exception. So an audit hook on ``os.fork`` (raised in the parent, just before it
forks, on every Python this project supports) notes the other live threads and the stack, and
the benchmark session and the test suite fail on what it noted (``take``).
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from dataclasses import dataclass

_installed_in: int | None = None
_noted: list[ForkWithThreads] = []
_lock = threading.Lock()


@dataclass(frozen=True)
class ForkWithThreads:
    """One fork made while other threads ran: their names, and where the fork was made."""

    threads: tuple[str, ...]
    stack: str

    def describe(self) -> str:
        return (f"fork() while {len(self.threads)} other thread(s) ran "
                f"({', '.join(self.threads)}), at:\n{self.stack}")


def _hook(event: str, args: tuple) -> None:
    if event != "os.fork" or _installed_in != os.getpid():
        return
    # The interpreter pool keeps a thread in each of its interpreters and closes (joining them)
    # in a before-fork hook, which runs after this audit hook: closed here first, so that what
    # is judged is what fork() itself will see.
    pool = sys.modules.get("wordcount.executors.interpreter_pool")
    if pool is not None:
        pool.close()
    # CPython's own count (threading.active_count(): every thread object not yet removed,
    # dummy ones too), so that the guard notes exactly the forks it warns about.
    if threading.active_count() > 1:
        me = threading.current_thread()
        others = tuple(f"{t.name}{'' if t.is_alive() else ' (ended)'}"
                       for t in threading.enumerate() if t is not me)
        stack = "".join(traceback.format_stack(sys._getframe(1), limit=8))
        with _lock:
            _noted.append(ForkWithThreads(others, stack))


def install() -> None:
    """Start noting forks made beside other threads, in this process (audit hooks stay for
    good; a second call does nothing; fork children note nothing of their own)."""
    global _installed_in
    if _installed_in is None:
        sys.addaudithook(_hook)
    _installed_in = os.getpid()


def take() -> list[ForkWithThreads]:
    """What was noted since the last call, and forget it."""
    with _lock:
        noted = list(_noted)
        _noted.clear()
    return noted

"""multiprocessing contexts for the process executors: a ``spawn`` start that fails reaps its child.

CPython 3.14's spawn launcher closes its copy of the child's pipe before writing the child's
start-up data, so a child that dies before reading it (killed, out of memory) makes ``start()``
raise ``BrokenPipeError`` rather than block for ever (older versions). But the half-made
``Popen`` holding the child's pid is then dropped: nothing waits for the child, and it stays a
zombie for the life of the caller. Here the launcher's failure kills (it has no future) and
reaps its child before the error goes on. ``fork`` cannot half-fail, and a ``forkserver``
child is the server's to reap.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
from multiprocessing import context, popen_spawn_posix
from typing import Any


class _ReapingSpawnPopen(popen_spawn_posix.Popen):
    """The spawn launcher, reaping its child when the launch fails part-way."""

    def _launch(self, process_obj: Any) -> None:
        try:
            super()._launch(process_obj)
        except BaseException:
            pid = getattr(self, "pid", None)
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            raise


class _ReapingSpawnProcess(context.SpawnProcess):
    _start_method = "spawn"

    @staticmethod
    def _Popen(process_obj: Any) -> _ReapingSpawnPopen:
        return _ReapingSpawnPopen(process_obj)


class _ReapingSpawnContext(context.SpawnContext):
    _name = "spawn"
    Process = _ReapingSpawnProcess


def get_context(method: str | None) -> mp.context.BaseContext:
    """``multiprocessing.get_context(method)``, with a spawn start that reaps a failed child."""
    ctx = mp.get_context(method)
    if ctx.get_start_method() == "spawn" and os.name == "posix":
        return _ReapingSpawnContext()
    return ctx

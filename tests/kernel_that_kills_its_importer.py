"""A kernel whose module kills any worker process that imports it (SIGKILL), on purpose.

A task is unpickled kernel first, chunk second, and unpickling the kernel imports this module:
a ``spawn`` or ``forkserver`` worker (or a pool worker of any start method that has not imported
it yet) therefore dies while its chunk is still being sent to it. The parent imports it without
harm, and a ``fork`` child inherits it already imported.
"""

from __future__ import annotations

import multiprocessing
import os
import signal

_me = multiprocessing.current_process()
if _me.name != "MainProcess" or getattr(_me, "_inheriting", False):  # a worker, started or starting
    os.kill(os.getpid(), signal.SIGKILL)


def count(data: object, start: int = 0, end: int | None = None) -> int:
    """Count like ``str.split`` (only the parent ever runs it)."""
    view = memoryview(data)[start:end] if not isinstance(data, str) else data[start:end]
    return len(str(view, "utf-8").split() if isinstance(view, memoryview) else view.split())

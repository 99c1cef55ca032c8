"""No orphans: a worker dies with the process that started it, and says how it died.

When the parent is killed outright (SIGKILL, the OOM killer) no ``finally`` runs. On Linux each
worker therefore asks the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``),
first thing in the package's code. A ``forkserver`` worker's parent is the fork server, which
ends when every holder of its "alive" pipe has closed it; CPython hands that pipe to each
forkserver child too (so it could start processes of its own), which would keep the server, and
so its children, alive for ever: each worker closes its copy. The parent's end then closes with
the parent, the server exits, and its workers get their signal. multiprocessing's resource
tracker ends when the last process holding its pipe (parent and workers) is gone, unlinking any
shared-memory block left registered. Elsewhere (macOS, Windows) there is no parent-death signal:
workers whose parent was killed finish their chunk and exit when they find the parent gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import time

#: ``prctl`` option: the signal this process gets when its parent (thread) dies (Linux).
PR_SET_PDEATHSIG = 1


def expected_parent(ctx: mp.context.BaseContext) -> int | None:
    """The pid a new worker of ``ctx`` will have as parent: this process, or the fork server."""
    if ctx.get_start_method() != "forkserver":
        return os.getpid()
    from multiprocessing import forkserver

    forkserver.ensure_running()
    return getattr(forkserver._forkserver, "_forkserver_pid", None)  # private, 3.11 to 3.14


def bind_to_parent(parent: int | None) -> None:
    """In a new worker: die with ``parent`` (see module); exit now if it is already gone.

    The signal fires when the *thread* that started this process ends; the executors start
    workers from the thread that counts, which outlives them.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    server = sys.modules.get("multiprocessing.forkserver")
    alive_fd = getattr(getattr(server, "_forkserver", None), "_forkserver_alive_fd", None)
    if alive_fd is not None:  # forkserver child (or a fork child of a parent that had a server)
        with contextlib.suppress(OSError):
            os.close(alive_fd)
        server._forkserver._forkserver_alive_fd = None  # type: ignore[union-attr]
    if parent is not None and os.getppid() != parent:
        os._exit(1)  # the parent died before the signal was armed


def _signal_name(exitcode: int) -> str:
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"


def main_module_hint(method: str, starter: str = "") -> str:
    """Why a ``method`` child fails while starting, when the cause is the main module.

    ``starter``: who re-imports it, when not the child itself (the fork server, which on
    CPython 3.14 imports the main module as it starts, and dies there).
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None:  # -c, the interactive prompt: nothing to re-import
        return ""
    who = starter or f"a {method} child"
    if path == "<stdin>" or not os.path.exists(path):
        return (f"; the main module was read from standard input, which {who} cannot "
                "re-import: run it from a file, with the code that counts under "
                "`if __name__ == \"__main__\":`, or use the fork start method")
    return (f"; {who} first re-imports the main module ({path}), so the code there "
            "that calls wordcount must sit under `if __name__ == \"__main__\":` (the "
            f"{'server' if starter else 'child'}'s traceback is on stderr)")


#: How long a failed forkserver start waits to see whether the server itself has ended (seconds).
SERVER_END_SECONDS = 1.0


def fork_server_ended(wait: float = SERVER_END_SECONDS) -> bool:
    """Whether this process's fork server has ended (waiting up to ``wait`` seconds for it to):
    on CPython 3.14 it imports the main module as it starts, so an unguarded one kills it, and a
    worker's start then fails with a reset or broken connection. Linux only (``/proc``)."""
    server = sys.modules.get("multiprocessing.forkserver")
    pid = getattr(getattr(server, "_forkserver", None), "_forkserver_pid", None)
    if pid is None or not os.path.isdir("/proc/self"):
        return False
    deadline = time.monotonic() + wait
    while True:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return True  # gone, and reaped
        if stat[stat.rindex(b")") + 2:][:1] in (b"Z", b"X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


#: The status CPython gives a forkserver child when the fork server could not report one (the
#: server itself ended: most often because it failed to preload an unguarded main module).
FORK_SERVER_LOST = 255


def describe_end(who: str, pid: int | None, exitcode: int | None, started: bool, method: str,
                 detail: str = "") -> str:
    """'worker for chunk 2 (pid 123) was killed by SIGKILL while counting' and the like.

    ``started``: the worker had reached the package's code (so it died in its task, not while
    starting). A ``spawn`` or ``forkserver`` child that fails before that, with status 1 (or a
    forkserver child with 255, its server gone), has almost always failed to re-import the main
    module; the message says so.
    """
    if exitcode is None:  # its start failed: the fork server's child was gone before it read
        if method == "forkserver" and fork_server_ended():
            return (f"{who} could not be started: the fork server ended while starting "
                    f"({detail})" + main_module_hint(method, starter="the fork server"))
        return f"{who} died while it was being started, before it received its chunk ({detail})"
    if exitcode < 0:
        how = f"was killed by {_signal_name(exitcode)}"
    else:
        how = f"exited with status {exitcode}" + (" without a result" if started else "")
    name = f"{who} (pid {pid})" if pid is not None else who
    if started:
        return f"{name} {how}"
    message = f"{name} {how} while starting, before it received its chunk"
    if (method in ("spawn", "forkserver") and exitcode == 1) or \
            (method == "forkserver" and exitcode == FORK_SERVER_LOST):
        message += main_module_hint(method)
    return message

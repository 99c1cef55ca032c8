"""One-time costs paid before a case is measured, so that no call is charged with them.

Both measuring commands call :func:`warm_up` before a case: the benchmark suite before its
memory calls and rounds (``bench/bench_wordcount.py``), ``wcbench flamegraphs`` before its
memray capture. The costs: multiprocessing's resource tracker (started by the first
shared-memory block or spawned child, then kept: a whole extra interpreter in the first case's
tree peak), the forkserver's server, an engine's cluster (Dask), and the executor's own module.
"""

from __future__ import annotations

import multiprocessing.forkserver
import multiprocessing.resource_tracker
import sys
import threading

import wordcount
from wcbench.matrix import Case
from wordcount.executors import PROCESS_EXECUTORS, get_executor

#: Executors that start nothing of their own to warm: they run in the caller's threads.
IN_PROCESS = ("serial", "threads")
#: Executors whose engine a warm-up call starts (a cluster, a pool of interpreters), and which
#: something in between can close again: warmed before every case.
ENGINES = frozenset({"dask", "interpreter-pool"})


def no_threads_beside() -> None:
    """Before a case that forks its workers from this process: close the engines that keep
    threads here (``matrix.KEEP_THREADS``: Dask's cluster and client, the interpreter pool;
    their next case starts them again, untimed), then make sure no other thread runs, since a
    child forked beside a thread that holds a lock can hang (CPython warns of it since 3.12)."""
    for engine in ("dask_executor", "interpreter_pool"):
        module = sys.modules.get(f"wordcount.executors.{engine}")
        if module is not None:
            module.close()
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if others:
        raise RuntimeError(f"a thread runs beside a fork-based case: {', '.join(others)}")


def warm_up(case: Case, *, resource_tracker: bool = True, import_executor: bool = False) -> None:
    """Start what ``case`` would otherwise start during its first measured call.

    The benchmark suite starts the resource tracker (its tree peak samples every process) and
    leaves the executor's import to the first, untimed, memory call; the flamegraphs import the
    executor first (so the capture holds the call, not the import) and leave the tracker, a
    process of its own, to the capture (``resource_tracker=False, import_executor=True``).
    """
    if import_executor:
        get_executor(case.executor)
    if resource_tracker and case.executor in PROCESS_EXECUTORS:
        multiprocessing.resource_tracker.ensure_running()
    if case.start_method == "forkserver":
        multiprocessing.forkserver.ensure_running()
    elif case.executor not in (*PROCESS_EXECUTORS, *IN_PROCESS):
        wordcount.count_words("warm up", executor=case.executor, workers=case.workers)

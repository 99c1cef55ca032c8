"""One side of an A/B comparison: a process that counts with its own ``wordcount``.

:mod:`wcbench.ab.run` starts a fresh one a side for each block of rounds (an instance).

Started by :mod:`wcbench.ab.run` as ``python -P worker.py`` with ``PYTHONPATH`` set to the side's
checkout, so ``import wordcount`` finds that side's code while this file comes from the current
tree. It imports only the standard library and ``wordcount`` (a BASE revision may predate every
other module), and reads one JSON request per line on stdin, answering one JSON line each:

- ``{"op": "hello"}``: where ``wordcount`` came from, the interpreter, which memory API it has;
- ``{"op": "case", "file": ..., "kernel": ..., "executor": ..., "workers": ..., "start_method":
  ...}``: load the text (bytes) and count once, untimed (the warm-up); answers the count;
- ``{"op": "time", "n": k, "cpu": c}``: ``k`` timed calls of ``count_words`` on the loaded case,
  each after a ``gc.collect()`` outside the timing, so one round's garbage is not collected
  inside the next; answers the seconds of each. The process first moves to CPU ``c`` (then may
  run anywhere again), so both halves of a round start on the same CPU: left to the scheduler,
  a long-lived process keeps to one CPU, and one side can sit for a whole session on the CPU
  another job is hogging;
- ``{"op": "memory"}``: one untimed call with every probe on, the kernels' kept buffers emptied
  first: ``copied_bytes``, each worker's own peak, this process's exact peak growth.

Timing happens here, in the side's own process: interpreter start-up and the pipe are outside it.
Anything ``wordcount`` prints goes to stderr; the protocol has stdout to itself. The module body
only defines things: spawn and forkserver children re-import it as their main module.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import os
import platform
import sys
import time
import traceback
from typing import Any


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _release_freed_memory() -> None:
    """Hand freed heap back to the OS (glibc ``malloc_trim``), so a call's growth is its own."""
    gc.collect()
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    if trim is not None:
        trim(0)


def _release_working_memory() -> None:
    """Empty the kernels' kept buffers (where this side's package keeps any), so the memory call
    allocates them as a first call does: a kernel that needs more of them shows it."""
    try:
        from wordcount.kernels import release_working_memory
    except ImportError:  # a revision from before kept buffers were releasable
        return
    release_working_memory()


def _memory_api() -> str:
    """``measure`` (``count_report(measure=Measurement(...))``), ``probe`` (``probe=True`` and
    ``transfer.metered()``) or ``none`` (no ``count_report``: no memory figures)."""
    import inspect

    import wordcount

    report = getattr(wordcount, "count_report", None)
    if report is None:
        return "none"
    params = inspect.signature(report).parameters
    if "measure" in params:
        return "measure"
    return "probe" if "probe" in params else "none"


def _probed_report(text: Any, case: dict) -> tuple[Any, int]:
    """One ``count_report`` with every probe on, through whichever API this side has."""
    import wordcount

    args = {k: case[k] for k in ("kernel", "executor", "workers", "start_method")}
    if _memory_api() == "measure":
        from wordcount.measure import Measurement
        from wordcount.transfer import TransferMeter

        meter = TransferMeter()
        report = wordcount.count_report(text, **args,
                                        measure=Measurement(probe=True, meter=meter))
        return report, meter.bytes
    from wordcount import transfer

    with transfer.metered() as meter:
        report = wordcount.count_report(text, **args, probe=True)
    return report, meter.bytes


class Side:
    """The loaded case and the requests on it."""

    def __init__(self) -> None:
        self.text: bytes = b""
        self.file: str | None = None
        self.case: dict = {}

    def hello(self, request: dict) -> dict:
        import wordcount

        probe = getattr(sys, "_is_gil_enabled", None)
        return {
            "wordcount": os.path.dirname(os.path.abspath(wordcount.__file__)),
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "gil_enabled": bool(probe()) if probe is not None else True,
            "memory_api": _memory_api(),
            "kernels": list(getattr(wordcount, "KERNELS", ())),
            "executors": list(getattr(wordcount, "EXECUTORS", ())),
            "pid": os.getpid(),
        }

    def load(self, request: dict) -> dict:
        if request["file"] != self.file:
            self.text, self.file = b"", None
            with open(request["file"], "rb") as f:
                self.text = f.read()
            self.file = request["file"]
        self.case = {k: request[k] for k in ("kernel", "executor", "workers", "start_method")}
        started = time.perf_counter()
        count = self._count()
        return {"count": count, "seconds": time.perf_counter() - started}

    def _count(self) -> int:
        import wordcount

        return wordcount.count_words(self.text, **self.case)

    def time(self, request: dict) -> dict:
        cpu = request.get("cpu")
        if cpu is not None:  # move to this CPU now, then let the scheduler place it freely again
            allowed = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {cpu})
            os.sched_setaffinity(0, allowed)
        times = []
        for _ in range(int(request.get("n", 1))):
            gc.collect()
            started = time.perf_counter()
            self._count()
            times.append(time.perf_counter() - started)
        return {"times": times}

    def memory(self, request: dict) -> dict:
        if _memory_api() == "none":
            return {"memory": None}
        _release_working_memory()
        _release_freed_memory()
        rss_before = _status_kib("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:  # resets VmHWM to the current RSS
            f.write("5")
        report, copied = _probed_report(self.text, self.case)
        parent_peak = max(_status_kib("VmHWM") - rss_before, 0) * 1024
        workers = {pid: m.peak_private_bytes for pid, m in report.worker_memory().items()
                   if pid != os.getpid()}
        return {"memory": {
            "count": report.count,
            "copied_bytes": copied,
            "peak_parent_bytes": parent_peak,
            "peak_workers_bytes": sum(workers.values()),
            "worker_peaks": sorted(workers.values()),
        }}


def serve(requests: Any, answers: Any) -> None:
    """Answer each request line until stdin closes; an error is answered, not raised."""
    side = Side()
    ops = {"hello": side.hello, "case": side.load, "time": side.time, "memory": side.memory}
    for line in requests:
        request = json.loads(line)
        try:
            answer = ops[request["op"]](request)
        except Exception as exc:  # the harness reports it as one line and stops
            last = traceback.extract_tb(exc.__traceback__)[-1]
            answer = {"error": f"{type(exc).__name__}: {exc}",
                      "where": f"{last.filename}:{last.lineno}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main() -> None:
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the measured code prints goes to stderr
    sys.stdout = sys.stderr
    serve(sys.stdin, answers)


if __name__ == "__main__":
    main()

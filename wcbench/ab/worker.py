"""One side of an A/B comparison: a process that counts with its own ``wordcount``.

:mod:`wcbench.ab.run` starts a fresh one a side for each block of rounds (an instance).

Started by :mod:`wcbench.ab.run` as ``python -P worker.py`` with ``PYTHONPATH`` set to the side's
checkout, so ``import wordcount`` finds that side's code while this file comes from the current
tree. It imports only the standard library and ``wordcount`` (a BASE revision may predate every
other module), and reads one JSON request per line on stdin, answering one JSON line each:

- ``{"op": "hello"}``: where ``wordcount`` came from, the interpreter, which memory API it has;
- ``{"op": "case", "file": ..., "kernel": ..., "executor": ..., "workers": ..., "start_method":
  ..., "warmup": n}``: load the text (bytes) and count it ``n`` times (default once), untimed
  (the warm-up); answers the count and the first call's seconds;
- ``{"op": "time", "n": k, "cpu": c}``: ``k`` timed calls of ``count_words`` on the loaded case,
  each after a ``gc.collect()`` outside the timing, so one round's garbage is not collected
  inside the next; answers the seconds of each. The process first moves to CPU ``c`` (then may
  run anywhere again), so both halves of a round start on the same CPU: left to the scheduler,
  a long-lived process keeps to one CPU, and one side can sit for a whole session on the CPU
  another job is hogging;
- ``{"op": "memory"}``: one untimed call with every probe on, the kernels' kept buffers emptied
  first: ``copied_bytes``, each worker's own peak, this process's exact peak growth;
- ``{"op": "instructions", "out": prefix}`` (the process runs under ``valgrind
  --tool=callgrind --instr-atstart=no --callgrind-out-file=<prefix>.%p``): one call of
  ``count_words`` on the loaded case, after a ``gc.collect()``, counted alone through callgrind's
  client requests (``_callgrind``, the C extension beside this file, loaded by its path: a BASE
  revision's package cannot be expected to have it); answers the instructions of that call, read
  from the dump it wrote (``<prefix>.<pid>.<n>``, removed after reading). ``hello`` with
  ``"callgrind": true`` loads it first and says whether valgrind runs this process.

Timing happens here, in the side's own process: interpreter start-up and the pipe are outside it.
Anything ``wordcount`` prints goes to stderr; the protocol has stdout to itself. The module body
only defines things: spawn and forkserver children re-import it as their main module.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import glob
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


def load_callgrind() -> Any:
    """``_callgrind`` (the client requests), built beside this file for this interpreter; None
    where it was not built (no valgrind headers, or another interpreter)."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(here, "_callgrind" + suffix)
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location("_callgrind", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    return None


def dump_total(path: str) -> int:
    """The instructions a callgrind dump holds (its ``totals:`` line; ``summary:`` in formats
    that have no totals)."""
    found = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("totals", "summary") and value.strip():
                found[key] = int(value.split()[0])
    if not found:
        raise RuntimeError(f"callgrind dump {path} has no totals")
    return found.get("totals", found.get("summary", 0))


def count_alone(callgrind: Any, out: str, func: Any, *args: Any, **kwargs: Any
                ) -> tuple[Any, int]:
    """``func(*args, **kwargs)`` after a ``gc.collect()``, counted alone by ``callgrind``
    (:func:`load_callgrind`) in a process under ``valgrind --tool=callgrind --instr-atstart=no
    --callgrind-out-file=<out>.%p``: its result and its instructions, read from the dump it
    wrote (removed)."""
    prefix = f"{out}.{os.getpid()}"
    gc.collect()
    result = callgrind.count_call("wcbench", func, *args, **kwargs)
    dumps = sorted(glob.glob(glob.escape(prefix) + ".*"), key=lambda p: int(p.rsplit(".", 1)[1]))
    if not dumps:
        raise RuntimeError(f"callgrind wrote no dump at {prefix}.N: is this process running "
                           "under valgrind --tool=callgrind?")
    total = dump_total(dumps[-1])
    for path in dumps:
        os.unlink(path)
    return result, total


def _native_isa() -> str | None:
    """The native kernel's instruction set here (under valgrind: the simulated CPU's)."""
    try:
        from wordcount.kernels import _native
    except ImportError:
        return None
    return getattr(_native, "ISA", None)


def _cpu_features() -> list[str]:
    """The AVX features numpy found on this CPU (under valgrind: the simulated one's), where
    ``wordcount`` has imported numpy."""
    numpy = sys.modules.get("numpy")
    core = getattr(numpy, "_core", None) or getattr(numpy, "core", None)
    umath = getattr(core, "_multiarray_umath", None)
    features = getattr(umath, "__cpu_features__", {})
    return sorted(k for k, v in features.items() if v and k.startswith("AVX"))


class Side:
    """The loaded case and the requests on it."""

    def __init__(self) -> None:
        self.text: bytes = b""
        self.file: str | None = None
        self.case: dict = {}
        self.callgrind: Any = None

    def hello(self, request: dict) -> dict:
        import wordcount

        probe = getattr(sys, "_is_gil_enabled", None)
        answer = {
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
        if request.get("callgrind"):
            self.callgrind = load_callgrind()
            answer["callgrind"] = {
                "built": self.callgrind is not None,
                "running_on_valgrind": self.callgrind.running_on_valgrind()
                if self.callgrind is not None else 0,
                "native_isa": _native_isa(),
                "cpu_features": _cpu_features(),
            }
        return answer

    def load(self, request: dict) -> dict:
        if request["file"] != self.file:
            self.text, self.file = b"", None
            with open(request["file"], "rb") as f:
                self.text = f.read()
            self.file = request["file"]
        self.case = {k: request[k] for k in ("kernel", "executor", "workers", "start_method")}
        started = time.perf_counter()
        count = self._count()
        seconds = time.perf_counter() - started
        for _ in range(int(request.get("warmup", 1)) - 1):
            if self._count() != count:
                raise RuntimeError("the warm-up calls counted differently")
        return {"count": count, "seconds": seconds}

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

    def instructions(self, request: dict) -> dict:
        import wordcount

        if self.callgrind is None:
            raise RuntimeError("no _callgrind: say hello with callgrind first")
        count, total = count_alone(self.callgrind, request["out"], wordcount.count_words,
                                   self.text, **self.case)
        return {"instructions": total, "count": count}

    def memory(self, request: dict) -> dict:
        if _memory_api() == "none":
            return {"memory": None}
        _release_working_memory()
        _release_freed_memory()
        rss_before = _status_kib("VmRSS")
        # "5" resets VmHWM to the current RSS; unbuffered (a buffered open takes 128 KiB on
        # 3.14). Written here, not by the side's wordcount.procmem.reset_peak: both sides
        # measure with this file's code, whatever their own revision does.
        fd = os.open("/proc/self/clear_refs", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"5")
        finally:
            os.close(fd)
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
    ops = {"hello": side.hello, "case": side.load, "time": side.time, "memory": side.memory,
           "instructions": side.instructions}
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

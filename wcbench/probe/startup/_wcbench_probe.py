"""wcbench's probe inside every Python process of a measured tree (standard library only).

Loaded at start-up by this directory's ``sitecustomize.py`` when ``WCBENCH_PROBE_DIR`` names a
directory (``wcbench measure`` and ``wcbench flamegraphs`` put this directory on ``PYTHONPATH``),
or installed in the running process by ``wcbench.measure_tree()``. Spawn and forkserver children,
the fork server and the resource tracker are fresh interpreters that inherit the environment, so
they load it too; a fork child inherits it loaded, and ``os.register_at_fork`` re-arms it there.

In each process it:

- counts the bytes multiprocessing pickles (and so concurrent.futures, which sends through it):
  ``ForkingPickler.dumps`` (``Connection.send``, ``Queue``/``SimpleQueue`` messages, pool tasks
  and results) and ``reduction.dump`` (a ``Process`` and its arguments written to a spawn or
  forkserver child). The counting is added when ``multiprocessing`` is imported, so a program
  that never imports it pays nothing;
- notes each named resource registered with multiprocessing's resource tracker (shared memory
  blocks, semaphores) in ``resources-<pid>.log`` as it is made, so that a killed run's leftovers
  can be found and removed;
- writes one report, ``proc-<pid>.json``, as it ends: its exact peak resident set (``VmHWM``),
  private memory, the bytes it pickled, what it is (a multiprocessing child and how it was
  started; the fork server; the resource tracker) and its command line. A worker ends through
  ``os._exit`` after multiprocessing's own exit (its finalizers: queues flushed; inside
  ``Process._bootstrap`` up to 3.13, at ``atexit`` after it from 3.14), so the report is
  written by multiprocessing's last finalizer; other processes write it at ``atexit``. A
  process stopped by SIGTERM (a worker by ``Pool.terminate()``, a command by ``wcbench
  measure --timeout``) writes it first, then dies of the signal as it would have (where
  SIGTERM had its default action).

Nothing here may raise into the program: every failure is swallowed (a report then is missing,
and wcbench says so).
"""

from __future__ import annotations

import _thread
import atexit
import os
import sys
import time

DIR_ENV = "WCBENCH_PROBE_DIR"
#: Report format (read by ``wcbench.probe``).
VERSION = 1
#: Modules whose transports do not go through multiprocessing's pickler: their bytes are not
#: counted, and a report says they were loaded.
FOREIGN_TRANSPORTS = {"joblib.externals.loky": "joblib/loky", "loky": "loky",
                      "distributed": "Dask distributed"}

_state: _State | None = None
_lock = _thread.allocate_lock()


def _read(path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return b""
    try:
        parts = []
        while chunk := os.read(fd, 4096):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def _kib_fields(path: str) -> dict[str, int]:
    fields = {}
    for line in _read(path).decode(errors="replace").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            fields[key] = int(parts[0]) * 1024
    return fields


def _cmdline() -> list[str]:
    raw = _read("/proc/self/cmdline")
    return [p.decode(errors="replace") for p in raw.split(b"\0") if p]


def _helper_of(cmdline: list[str]) -> str | None:
    """What a fresh interpreter is for multiprocessing, from the command line it was given."""
    text = " ".join(cmdline)
    if "multiprocessing.forkserver import main" in text:
        return "forkserver"
    if "multiprocessing.resource_tracker import main" in text:
        return "resource-tracker"
    if "multiprocessing.spawn import spawn_main" in text or "--multiprocessing-fork" in cmdline:
        return "spawn-child"
    return None


class _State:
    """This process's counters and facts (a fork child gets fresh ones)."""

    def __init__(self, directory: str, origin: str, parent: _State | None = None) -> None:
        self.directory = directory
        self.pid = os.getpid()
        self.origin = origin  # "exec": a fresh interpreter; "fork": forked from a probed one
        self.forked_from = parent.pid if parent else None
        self.forked_from_helper = parent.helper if parent else None
        self.cmdline = parent.cmdline if parent else _cmdline()
        self.helper = _helper_of(self.cmdline) if origin == "exec" else None
        self.started = time.time()
        self.pickled = {"process": [0, 0], "message": [0, 0]}
        #: Bytes unpickled from multiprocessing: a spawn or forkserver child's process object
        #: and arguments, messages (``ForkingPickler.loads``).
        self.received = [0, 0]
        self.mp: dict | None = None
        self.written = False
        self.extra: dict = {}  # what other parts of the probe add (the memray capture)

    def count(self, channel: str, nbytes: int) -> None:
        with _lock:
            entry = self.pickled[channel] if channel != "received" else self.received
            entry[0] += nbytes
            entry[1] += 1

    def note_process(self, process: object) -> None:
        """In a multiprocessing child, as ``_bootstrap`` starts: which kind, how started."""
        target = getattr(process, "_target", None)
        module = getattr(target, "__module__", "") or ""
        if module == "concurrent.futures.process":
            kind = "executor-worker"
        elif module == "multiprocessing.pool":
            kind = "pool-worker"
        else:
            kind = "process"
        if self.origin == "exec":
            method = "spawn"
        elif self.forked_from_helper == "forkserver":
            method = "forkserver"
        else:
            method = "fork"
        self.mp = {"kind": kind, "start_method": method,
                   "name": getattr(process, "name", None),
                   "class": type(process).__name__,
                   "target": f"{module}.{getattr(target, '__qualname__', '')}" if target else None,
                   "parent_pid": getattr(process, "_parent_pid", None)}

    def report(self, ended: str) -> dict:
        status = _kib_fields("/proc/self/status")
        rollup = _kib_fields("/proc/self/smaps_rollup")
        private = rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)
        shared = rollup.get("Rss", 0) - private
        with _lock:
            pickled = {k: {"bytes": v[0], "messages": v[1]} for k, v in self.pickled.items()}
            received = {"bytes": self.received[0], "messages": self.received[1]}
        return {
            "version": VERSION, "pid": self.pid, "ppid": os.getppid(), "origin": self.origin,
            "forked_from": self.forked_from, "helper": self.helper, "multiprocessing": self.mp,
            "argv": list(getattr(sys, "argv", [])), "cmdline": self.cmdline,
            "executable": sys.executable, "python": sys.version.split()[0],
            "started": self.started, "ended_at": time.time(), "ended": ended,
            "peak_rss_bytes": status.get("VmHWM", 0), "rss_bytes": status.get("VmRSS", 0),
            "private_bytes": private,
            # the suite's estimate of a worker's private peak (wordcount.procmem.worker_memory)
            "peak_private_bytes": max(status.get("VmHWM", 0) - shared, private),
            "pss_bytes": rollup.get("Pss", 0), "pickled": pickled, "received": received,
            "foreign_transports": sorted({label for name, label in FOREIGN_TRANSPORTS.items()
                                          if name in sys.modules}),
            **self.extra,
        }


def _write(ended: str = "normal") -> None:
    """Write this process's report once (a later call does nothing)."""
    state = _state
    if state is None or state.pid != os.getpid() or state.written:
        return
    state.written = True
    try:
        for hook in list(_before_write):
            hook(state)
        report = state.report(ended)  # read before json is imported: its import is not counted
        import json

        data = json.dumps(report).encode()
        final = os.path.join(state.directory, f"proc-{state.pid}.json")
        part = f"{final}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(part, final)
    except Exception:  # never into the program
        pass


#: Called with the state just before a report is written (the memray capture closes there).
_before_write: list = []


def _note_resource(sign: str, name: str, rtype: str) -> None:
    state = _state
    if state is None:
        return
    try:
        fd = os.open(os.path.join(state.directory, f"resources-{os.getpid()}.log"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, f"{sign} {rtype} {name}\n".encode())
        finally:
            os.close(fd)
    except OSError:
        pass


# --- the patches, applied as multiprocessing's modules are imported ------------------------------


def _patch_reduction(module: object) -> None:
    pickler = module.ForkingPickler  # type: ignore[attr-defined]
    if getattr(pickler.dumps, "_wcbench", False):
        return
    original_dumps = pickler.dumps.__func__
    original_dump = module.dump  # type: ignore[attr-defined]

    def dumps(cls: type, obj: object, protocol: int | None = None):
        buf = original_dumps(cls, obj, protocol)
        if _state is not None:
            _state.count("message", len(buf))
        return buf

    def dump(obj: object, file: object, protocol: int | None = None) -> None:
        try:
            start = file.tell()  # type: ignore[attr-defined]
        except Exception:
            start = None
        original_dump(obj, file, protocol)
        if start is not None and _state is not None:
            _state.count("process", file.tell() - start)  # type: ignore[attr-defined]

    original_loads = pickler.loads

    def loads(data: object, *args: object, **kwargs: object) -> object:
        if _state is not None:
            _state.count("received", memoryview(data).nbytes)  # type: ignore[arg-type]
        return original_loads(data, *args, **kwargs)

    dumps._wcbench = dump._wcbench = True  # type: ignore[attr-defined]
    pickler.dumps = classmethod(dumps)
    pickler.loads = staticmethod(loads)
    module.dump = dump  # type: ignore[attr-defined]
    module.pickle = _CountingPickle(module.pickle)  # type: ignore[attr-defined]


class _Counted:
    """A file whose reads are counted as received (what ``spawn._main`` unpickles)."""

    def __init__(self, file: object) -> None:
        self.file = file

    def _note(self, n: int) -> int:
        if _state is not None and n:
            _state.count("received", n)
        return n

    def read(self, *args: object) -> bytes:
        data = self.file.read(*args)  # type: ignore[attr-defined]
        self._note(len(data))
        return data

    def readline(self, *args: object) -> bytes:
        data = self.file.readline(*args)  # type: ignore[attr-defined]
        self._note(len(data))
        return data

    def readinto(self, buffer: object) -> int:
        return self._note(self.file.readinto(buffer) or 0)  # type: ignore[attr-defined]


class _CountingPickle:
    """``multiprocessing.reduction.pickle`` (the pickle module, which ``spawn._main`` reads a
    child's process object with): ``load`` counts what it reads; the rest is pickle's."""

    def __init__(self, pickle: object) -> None:
        self._pickle = pickle

    def __getattr__(self, name: str) -> object:
        return getattr(self._pickle, name)

    def load(self, file: object, *args: object, **kwargs: object) -> object:
        return self._pickle.load(_Counted(file), *args, **kwargs)  # type: ignore[attr-defined]


def _patch_process(module: object) -> None:
    base = module.BaseProcess  # type: ignore[attr-defined]
    if getattr(base._bootstrap, "_wcbench", False):
        return
    original = base._bootstrap

    def _bootstrap(self, *args, **kwargs):
        state = _state
        if state is not None and state.pid == os.getpid():
            try:
                state.note_process(self)
                _arm_sigterm()
                from multiprocessing import util

                # run by _bootstrap's own _after_fork, after it clears the finalizers
                util.register_after_fork(_ANCHOR, _write_last_at_exit)
            except Exception:
                pass
        try:
            return original(self, *args, **kwargs)
        finally:
            # 3.11-3.13 run multiprocessing's exit (its finalizers: queues flushed) inside
            # _bootstrap, so the report is written by now; 3.14 runs it after, at atexit,
            # before os._exit: the finalizer registered above writes it then
            from multiprocessing import util

            if getattr(util, "_exiting", True):
                _write()

    _bootstrap._wcbench = True  # type: ignore[attr-defined]
    base._bootstrap = _bootstrap


class _Anchor:
    """What ``util.register_after_fork`` holds (weakly) for the probe."""


_ANCHOR = _Anchor()


def _write_last_at_exit(_anchor: object) -> None:
    """In a multiprocessing child: write the report as multiprocessing's last finalizer at its
    exit, after queues have flushed what they hold (the feeder threads pickle it)."""
    from multiprocessing import util

    util.Finalize(None, _write, exitpriority=-(2 ** 30))


def _patch_resource_tracker(module: object) -> None:
    if getattr(module.register, "_wcbench", False):  # type: ignore[attr-defined]
        return
    register, unregister = module.register, module.unregister  # type: ignore[attr-defined]

    def patched_register(name: str, rtype: str) -> None:
        _note_resource("+", name, rtype)
        register(name, rtype)

    def patched_unregister(name: str, rtype: str) -> None:
        unregister(name, rtype)
        _note_resource("-", name, rtype)

    patched_register._wcbench = True  # type: ignore[attr-defined]
    module.register, module.unregister = patched_register, patched_unregister  # type: ignore[attr-defined]


_PATCHES = {"multiprocessing.reduction": _patch_reduction,
            "multiprocessing.process": _patch_process,
            "multiprocessing.resource_tracker": _patch_resource_tracker}


class _Finder:
    """A meta path finder that patches multiprocessing's modules right after they load."""

    def find_spec(self, name: str, path: object = None, target: object = None):
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec

        def exec_and_patch(module: object) -> None:
            exec_module(module)
            try:  # noqa: SIM105  (no contextlib import in every process)
                patch(module)
            except Exception:
                pass

        loader.exec_module = exec_and_patch  # type: ignore[union-attr]
        return spec


def _arm_sigterm() -> None:
    """Write the report on SIGTERM, then die of it as before (only where SIGTERM has its default
    action; ``_signal``, not ``signal``, whose import pulls in ``enum``)."""
    import _signal

    if _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:
        _signal.signal(_signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: object) -> None:
    import _signal

    _write("SIGTERM")
    _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
    os.kill(os.getpid(), _signal.SIGTERM)


def _after_fork_in_child() -> None:
    global _state
    parent = _state
    if parent is not None:
        _state = _State(parent.directory, "fork", parent)
        for hook in list(_after_fork):
            hook(parent, _state)


#: Called in a fork child with the parent's state and the child's (the memray capture).
_after_fork: list = []


def state() -> _State | None:
    """This process's state, None when the probe is not installed."""
    return _state if _state is not None and _state.pid == os.getpid() else None


def install(directory: str, *, at_exit: bool = True) -> _State:
    """Start counting in this process (idempotent): patch what multiprocessing has loaded
    already, and the rest as it loads. ``at_exit``: write this process's report when it ends."""
    global _state
    if _state is not None and _state.pid == os.getpid():
        return _state
    first = _state is None
    _state = _State(directory, "exec")
    if first:
        os.register_at_fork(after_in_child=_after_fork_in_child)
        sys.meta_path.insert(0, _Finder())
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            try:  # noqa: SIM105
                patch(sys.modules[name])
            except Exception:
                pass
    if at_exit:
        atexit.register(_write)
        try:  # noqa: SIM105
            _arm_sigterm()
        except Exception:
            pass
    capture = capture_module()
    if capture is not None:
        asked = capture.options()
        if asked is not None and at_exit:
            capture.start(_state, asked)
    return _state


def capture_module():
    """The memray capture (``_wcbench_capture`` beside this file), hooked in once; None when no
    capture is asked for (``WCBENCH_PROBE_MEMRAY`` unset) and none was loaded."""
    module = sys.modules.get("_wcbench_capture")
    if module is None:
        if not os.environ.get("WCBENCH_PROBE_MEMRAY"):
            return None
        import importlib.util

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_wcbench_capture.py")
        spec = importlib.util.spec_from_file_location("_wcbench_capture", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules["_wcbench_capture"] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    if module.close not in _before_write:
        _before_write.append(module.close)
        _after_fork.append(module.after_fork)
    return module


def load_from_environment() -> None:
    """What ``sitecustomize`` calls: install when ``WCBENCH_PROBE_DIR`` names a directory."""
    directory = os.environ.get(DIR_ENV)
    if directory and os.path.isdir(directory):
        install(directory)

"""A memray capture of every Python process of a tree, started by the probe (standard library
only until memray itself is imported).

When ``WCBENCH_PROBE_MEMRAY`` is set (``native=0,allocators=1``), the probe calls :func:`start`
in each fresh interpreter (the main process, spawn children, the fork server, the resource
tracker): a ``memray.Tracker`` writing ``memray-<pid>.bin`` in the probe's directory, with
``follow_fork`` so that memray itself records each fork child into ``memray-<pid>.bin.<child>``
(a new Tracker cannot start in a fork child of a tracked process). Every capture is closed just
before the process's report is written: at ``atexit``, after a multiprocessing child's
``Process._bootstrap`` (it then leaves through ``os._exit``, which nothing else would wait for),
or on SIGTERM. The report names the capture file, or why there is none.
"""

from __future__ import annotations

import os
import sys

ENV = "WCBENCH_PROBE_MEMRAY"

_tracker: object = None
_owner: int | None = None
_path: str | None = None


def options() -> dict[str, bool] | None:
    """The capture asked for by the environment (None: no capture)."""
    text = os.environ.get(ENV)
    if not text:
        return None
    pairs = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
    return {"native": pairs.get("native") == "1", "allocators": pairs.get("allocators") != "0"}


def start(state: object, asked: dict[str, bool]) -> None:
    """Start this fresh interpreter's capture (its failure noted in the report, not raised)."""
    global _tracker, _owner, _path
    path = os.path.join(state.directory, f"memray-{os.getpid()}.bin")  # type: ignore[attr-defined]
    try:
        import memray

        tracker = memray.Tracker(path, follow_fork=True, native_traces=asked["native"],
                                 trace_python_allocators=asked["allocators"])
        _enter_elsewhere(tracker)
    except BaseException as exc:  # memray missing in this Python, or refusing: say so
        state.extra["capture"] = {  # type: ignore[attr-defined]
            "error": f"memray could not start in {sys.executable}: {exc!r}"}
        return
    _tracker, _owner, _path = tracker, os.getpid(), path
    state.extra["capture"] = {"file": os.path.basename(path)}  # type: ignore[attr-defined]


def _enter_elsewhere(tracker: object) -> None:
    """Enter ``tracker`` from a short-lived thread: memray hides, on the thread that enters a
    Tracker, every frame as deep as the one entering it, and entered here, during start-up's
    imports, that would hide most of the program's own stacks (a spawn child's ``_main`` and
    its target among them). The thread has ended before the program runs (before any fork)."""
    import threading

    failed: list[BaseException] = []

    def enter() -> None:
        try:
            tracker.__enter__()  # type: ignore[attr-defined]
        except BaseException as exc:
            failed.append(exc)

    starter = threading.Thread(target=enter, name="wcbench-memray-start")
    starter.start()
    starter.join()
    if failed:
        raise failed[0]


def adopt(tracker: object, path: str) -> None:
    """A tracker started elsewhere in this process (the pytest plugin's, around one call):
    fork children follow it, and close it, as if the probe had started it."""
    global _tracker, _owner, _path
    _tracker, _owner, _path = tracker, os.getpid(), path


def release() -> None:
    """Forget an adopted tracker (its owner closes it)."""
    global _tracker, _owner, _path
    _tracker = _owner = _path = None


def after_fork(parent: object, child: object) -> None:
    """In a fork child: memray follows it into ``<parent's file>.<pid>``."""
    global _owner, _path
    if _tracker is None or _path is None:
        return
    _owner, _path = os.getpid(), f"{_path}.{os.getpid()}"
    child.extra["capture"] = {"file": os.path.basename(_path), "followed": True}  # type: ignore[attr-defined]


def close(state: object) -> None:
    """Stop this process's capture, its file complete, before the report is written."""
    global _tracker
    if _tracker is None or _owner != os.getpid():
        return
    tracker, _tracker = _tracker, None
    try:
        tracker.__exit__(None, None, None)  # type: ignore[attr-defined]
    except BaseException as exc:
        state.extra.setdefault("capture", {})["error"] = f"closing the capture: {exc!r}"  # type: ignore[attr-defined]

"""Isolated subinterpreters behind one small interface, whichever module this Python has.

CPython 3.12 gave each isolated subinterpreter its own GIL (PEP 684); 3.13 exposes them through
the low-level ``_interpreters`` module, 3.14 through the public ``concurrent.interpreters``
(PEP 734). The executors need five things of either: create one, bind names in its ``__main__``,
run code there (from any thread; the call blocks that thread), destroy it, and list the ones that
exist (so tests can check that none is left); and, for the pool, a queue that crosses between
them. ``AVAILABLE`` says whether this Python has them;
``UNAVAILABLE`` says why not, naming the version needed.

What crosses (CPython's ``Python/crossinterp*.c``): a ``memoryview`` is shared, not copied (the
receiver wraps the same buffer, so its owner must outlive the interpreter); ``str`` and ``bytes``
are copied once; ints and tuples of them are recreated. The receiving interpreter must have
imported ``_interpreters`` before a ``memoryview`` can be bound there (that import registers the
type), so ``create`` does it.

Walking every thread's frames is refused while an interpreter made here exists. CPython's
``sys._current_frames()`` and ``sys._current_exceptions()`` (``Python/pystate.c``) walk the
threads of every interpreter, not only the caller's: for a subinterpreter's frame the first makes
a frame object with the calling interpreter's allocator, which the subinterpreter later frees with
its own, handing it to ``free()`` (the second takes references to its exceptions, freed the other
way round); glibc aborts the process ("free(): invalid pointer", "double free or corruption") or
it segfaults. Seen on 3.13.0 (one walk while a subinterpreter ran was enough); the same loops are
in 3.13.15's source. Dask's profiler walks once a second from a thread of the caller's process.
So ``create`` installs, once, an audit hook in this (main) interpreter that makes both raise
``RuntimeError`` (``WALK_REFUSED``) for as long as any interpreter made here is alive, from before
it is created to after it is destroyed; with none alive they work as usual.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any

#: The oldest Python with isolated subinterpreters reachable from Python code.
MIN_VERSION = (3, 13)

_low: Any = None
_high: Any = None
if sys.version_info >= (3, 14):
    try:
        from concurrent import interpreters as _high
    except ImportError:  # a build without them
        _high = None
if _high is None and sys.version_info >= MIN_VERSION:
    try:
        import _interpreters as _low
    except ImportError:
        _low = None

AVAILABLE: bool = _high is not None or _low is not None
#: Why subinterpreters cannot be used here; empty when they can.
UNAVAILABLE: str = "" if AVAILABLE else (
    f"isolated subinterpreters need Python {MIN_VERSION[0]}.{MIN_VERSION[1]} or newer "
    f"(_interpreters in 3.13, concurrent.interpreters from 3.14); this is Python "
    f"{sys.version.split()[0]}"
)

#: Interpreter objects of ``concurrent.interpreters``, by id (3.14+).
_OBJECTS: dict[int, Any] = {}

#: The audit events of the calls that walk every interpreter's threads (see the module).
WALKS = frozenset({"sys._current_frames", "sys._current_exceptions"})
#: What such a call raises while an interpreter made here is alive.
WALK_REFUSED = (
    "{event}() refused while subinterpreters exist: CPython walks every interpreter's threads, "
    "and what it makes of a subinterpreter's frames or takes of its exceptions is freed by the "
    "other interpreter's allocator, which aborts the process (wordcount's interpreters "
    "executor; docs/interpreters.md)")
#: Interpreters made by ``create`` and not yet destroyed (those being created included).
_alive = 0
_alive_lock = threading.Lock()
_hooked = False


@dataclass(frozen=True)
class Failure:
    """An exception that escaped code run in a subinterpreter: only its description crosses."""

    type_name: str
    message: str
    formatted: str


def _unavailable() -> None:
    if not AVAILABLE:
        raise RuntimeError(UNAVAILABLE)


def _refuse_walks(event: str, args: tuple) -> None:
    """The audit hook: no walk of every interpreter's frames while one made here is alive."""
    if _alive and event in WALKS:
        raise RuntimeError(WALK_REFUSED.format(event=event))


def _count_alive(change: int) -> None:
    global _alive, _hooked
    with _alive_lock:
        if not _hooked:
            sys.addaudithook(_refuse_walks)  # for good: audit hooks cannot be removed
            _hooked = True
        _alive += change


def create() -> int:
    """A new isolated interpreter (own GIL, own allocator), ready to receive a memoryview; until
    it is destroyed, walks of every thread's frames are refused (see the module)."""
    _unavailable()
    _count_alive(+1)  # before it exists: its creation runs code in it
    try:
        if _high is not None:
            interp = _high.create()
            _OBJECTS[interp.id] = interp
            interp_id = interp.id
        else:
            interp_id = _low.create()
    except BaseException:
        _count_alive(-1)
        raise
    try:
        failure = run(interp_id, "import _interpreters")
    except BaseException:
        destroy(interp_id)
        raise
    if failure is not None:
        destroy(interp_id)
        raise RuntimeError(f"a new subinterpreter could not import _interpreters: "
                           f"{failure.formatted}")
    return interp_id


def bind(interp_id: int, names: dict[str, object]) -> None:
    """Bind ``names`` in the interpreter's ``__main__`` (each value shared or copied, as above)."""
    if _high is not None:
        _OBJECTS[interp_id].prepare_main(names)
    else:
        _low.set___main___attrs(interp_id, names)


def run(interp_id: int, code: str) -> Failure | None:
    """Run ``code`` in the interpreter's ``__main__``, blocking this thread until it ends; the
    exception that escaped it, described, or None."""
    if _high is not None:
        try:
            _OBJECTS[interp_id].exec(code)
        except _high.ExecutionFailed as exc:
            info = exc.excinfo
            return Failure(info.type.__name__, info.msg or "", info.formatted or str(exc))
        return None
    info = _low.exec(interp_id, code)
    if info is None:
        return None
    return Failure(info.type.__name__, info.msg or "", info.formatted or "")


def destroy(interp_id: int) -> None:
    """Finalise the interpreter and free everything it holds (it must not be running)."""
    if _high is not None:
        _OBJECTS.pop(interp_id).close()
    else:
        _low.destroy(interp_id)
    _count_alive(-1)  # only once it is gone: finalizing it runs code in it


def create_queue() -> Any:
    """A cross-interpreter queue (unbounded; shareable items shared, others refused): a
    ``concurrent.interpreters.Queue`` from 3.14, an ``_interpqueues`` queue id on 3.13."""
    _unavailable()
    if _high is not None:
        return _high.create_queue()
    return _lowq().create(0, 0, 1)  # maxsize, shared items only, unbound items removed


def queue_ref(queue: Any) -> Any:
    """What to bind in an interpreter for it to reach ``queue`` (the object, or its id)."""
    return queue


def queue_get_code(name: str) -> str:
    """Python code, run inside an interpreter where ``name`` is bound to ``queue_ref(q)``, for
    a callable that takes the next item of ``q`` without waiting."""
    if _high is not None:
        return f"{name}.get_nowait"
    return f"(lambda: __import__('_interpqueues').get({name})[0])"


def queue_put(queue: Any, item: object) -> None:
    """Put ``item`` (shared, or copied as a ``str``/``bytes`` is) on the queue."""
    if _high is not None:
        queue.put_nowait(item)
    else:
        _lowq().put(queue, item, 0, 1)


def destroy_queue(queue: Any) -> None:
    """Free the queue (3.14's is freed with its last reference)."""
    if _high is None:
        _lowq().destroy(queue)


def _lowq() -> Any:
    import _interpqueues

    return _interpqueues


def list_ids() -> list[int]:
    """Ids of every interpreter that exists in this process, the main one included."""
    _unavailable()
    if _high is not None:
        return [interp.id for interp in _high.list_all()]
    return [entry[0] for entry in _low.list_all()]


def main_id() -> int:
    """The main interpreter's id."""
    _unavailable()
    if _high is not None:
        return _high.get_main().id
    return _low.get_main()[0]

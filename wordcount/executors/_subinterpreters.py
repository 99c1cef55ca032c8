"""Isolated subinterpreters behind one small interface, whichever module this Python has.

CPython 3.12 gave each isolated subinterpreter its own GIL (PEP 684); 3.13 exposes them through
the low-level ``_interpreters`` module, 3.14 through the public ``concurrent.interpreters``
(PEP 734). The executor needs five things of either: create one, bind names in its ``__main__``,
run code there (from any thread; the call blocks that thread), destroy it, and list the ones that
exist (so tests can check that none is left). ``AVAILABLE`` says whether this Python has them;
``UNAVAILABLE`` says why not, naming the version needed.

What crosses (CPython's ``Python/crossinterp*.c``): a ``memoryview`` is shared, not copied (the
receiver wraps the same buffer, so its owner must outlive the interpreter); ``str`` and ``bytes``
are copied once; ints and tuples of them are recreated. The receiving interpreter must have
imported ``_interpreters`` before a ``memoryview`` can be bound there (that import registers the
type), so ``create`` does it.
"""

from __future__ import annotations

import sys
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


@dataclass(frozen=True)
class Failure:
    """An exception that escaped code run in a subinterpreter: only its description crosses."""

    type_name: str
    message: str
    formatted: str


def _unavailable() -> None:
    if not AVAILABLE:
        raise RuntimeError(UNAVAILABLE)


def create() -> int:
    """A new isolated interpreter (own GIL, own allocator), ready to receive a memoryview."""
    _unavailable()
    if _high is not None:
        interp = _high.create()
        _OBJECTS[interp.id] = interp
        interp_id = interp.id
    else:
        interp_id = _low.create()
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

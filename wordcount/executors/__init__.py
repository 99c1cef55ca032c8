"""Executors: how chunks reach workers.

Each executor is a module with one function of the same shape::

    run(text, workers, kernel, *, start_method, measure) -> list[ChunkResult]

It cuts ``text`` into at most ``workers`` chunks at whitespace, counts them with ``kernel``
somewhere, and returns one ``ChunkResult`` per chunk; ``measure`` (a
``wordcount.measure.Measurement``) goes on every ``Task``. Modules are imported only when chosen,
so an optional engine (Dask) costs nothing unless used. ``interpreters`` (isolated
subinterpreters, new ones every call) and ``interpreter-pool`` (the same, kept between calls)
exist only on Python 3.13 and newer; asking for either on an older one raises ``ValueError``
naming the version it needs.
"""

from __future__ import annotations

import importlib
import importlib.util
import multiprocessing as mp
from collections.abc import Callable

from wordcount.executors import _subinterpreters
from wordcount.executors._task import TERMINATING_SIGNALS

__all__ = ["INTERPRETER_EXECUTORS", "PROCESS_EXECUTORS", "REFUSED", "START_METHODS",
           "TERMINATING_SIGNALS",
           "available_executors", "default_start_method", "get_executor", "refusal",
           "resolve_start_method"]

#: Executor name -> module implementing it.
_MODULES: dict[str, str] = {
    "serial": "wordcount.executors.serial",
    "threads": "wordcount.executors.threads",
    "processes": "wordcount.executors.processes",
    "process-pool": "wordcount.executors.pool",
    "shared-memory": "wordcount.executors.shared_memory",
}
#: Executors that run chunks in isolated subinterpreters (CPython 3.13 and newer).
INTERPRETER_EXECUTORS: frozenset[str] = frozenset({"interpreters", "interpreter-pool"})
if _subinterpreters.AVAILABLE:
    _MODULES["interpreters"] = "wordcount.executors.interpreters"
    _MODULES["interpreter-pool"] = "wordcount.executors.interpreter_pool"
#: Executors this Python lacks, and why (the version each needs).
_NEEDS_PYTHON: dict[str, str] = {} if _subinterpreters.AVAILABLE else \
    dict.fromkeys(sorted(INTERPRETER_EXECUTORS), _subinterpreters.UNAVAILABLE)

#: Kernel x executor pairs that cannot work, and why: the executor refuses them before it starts
#: anything, and the benchmark matrix shows them skipped with this reason.
REFUSED: dict[tuple[str, str], str] = {
    ("numpy", executor): "the numpy kernel cannot run in a subinterpreter: NumPy refuses "
                         "to load there (numpy/numpy#24755)"
    for executor in ("interpreters", "interpreter-pool")
}
#: Optional executors and the distribution each needs.
_OPTIONAL: dict[str, str] = {"dask": "distributed"}

#: Executors that start worker processes, and so take a start method.
PROCESS_EXECUTORS: frozenset[str] = frozenset({"processes", "process-pool", "shared-memory"})

START_METHODS: tuple[str, ...] = tuple(
    m for m in ("fork", "spawn", "forkserver") if m in mp.get_all_start_methods()
)


def available_executors() -> tuple[str, ...]:
    """Executor names usable in this install (optional engines only when installed)."""
    names = list(_MODULES)
    names += [n for n, dist in _OPTIONAL.items() if importlib.util.find_spec(dist) is not None]
    return tuple(names)


def get_executor(name: str) -> Callable[..., list]:
    """The ``run`` function of executor ``name``; ``ValueError`` listing valid names otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"executor must be a name (str), not {type(name).__name__}")
    # Built-in names first: looking an optional engine's package up costs a search of sys.path
    # (about 0.1 ms), which every call would pay.
    if name not in _MODULES and name not in available_executors():
        hint = ""
        if name in _NEEDS_PYTHON:
            hint = f" ({_NEEDS_PYTHON[name]})"
        elif name in _OPTIONAL:
            hint = f" ({name!r} needs the {_OPTIONAL[name]} package: pip install "\
                   f"'wordcount-bench[{name}]')"
        raise ValueError(
            f"unknown executor {name!r}{hint}; choose one of: {', '.join(available_executors())}"
        )
    return importlib.import_module(_MODULES.get(name) or f"wordcount.executors.{name}_executor").run


def refusal(kernel: str, executor: str) -> str | None:
    """Why ``kernel`` cannot run on ``executor`` (``REFUSED``), or None."""
    return REFUSED.get((kernel, executor))


def default_start_method() -> str:
    """The start method multiprocessing uses when none is given (fork before 3.14 on Linux)."""
    return mp.get_start_method(allow_none=True) or mp.get_all_start_methods()[0]


def resolve_start_method(executor: str, start_method: str | None) -> str | None:
    """The start method ``executor`` will really use; ``ValueError`` when it takes none."""
    if start_method is not None and not isinstance(start_method, str):
        raise TypeError(f"start_method must be a name (str) or None, "
                        f"not {type(start_method).__name__}")
    if executor not in PROCESS_EXECUTORS:
        if start_method is not None:
            raise ValueError(
                f"executor {executor!r} starts no processes, so it takes no start_method "
                f"(got {start_method!r}); start methods apply to: "
                f"{', '.join(sorted(PROCESS_EXECUTORS))}"
            )
        return None
    if start_method is None:
        return default_start_method()
    if start_method not in START_METHODS:
        raise ValueError(
            f"unknown start method {start_method!r}; choose one of: {', '.join(START_METHODS)}"
        )
    return start_method

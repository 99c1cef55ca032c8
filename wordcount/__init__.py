"""Exact word counts (what ``str.split()`` splits out) by every way Python can parallelise them.

>>> import wordcount
>>> wordcount.count_words("to be or not to be", kernel="numpy", executor="threads", workers=2)
6

In the main interpreter the package imports its API, executors and kernels with itself, as worker
processes expect (a spawned worker has them all before its memory is measured). In a
subinterpreter the public names are imported on first use (PEP 562): the ``interpreters``
executor's interpreters import ``wordcount.kernels`` and one small module on every call, and the
whole package there (the API, every executor, multiprocessing) was most of each one's start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wordcount._where import in_subinterpreter

if TYPE_CHECKING:
    from wordcount.api import CountReport, count_report, count_words
    from wordcount.errors import InvalidUTF8Error, WorkerError
    from wordcount.executors import START_METHODS
    from wordcount.kernels import KERNELS

    EXECUTORS: tuple[str, ...]

#: Each public name -> the module it comes from.
_PUBLIC = {
    "CountReport": "wordcount.api",
    "count_report": "wordcount.api",
    "count_words": "wordcount.api",
    "InvalidUTF8Error": "wordcount.errors",
    "WorkerError": "wordcount.errors",
    "START_METHODS": "wordcount.executors",
    "KERNELS": "wordcount.kernels",
}

__all__ = [
    "EXECUTORS",
    "KERNELS",
    "START_METHODS",
    "CountReport",
    "InvalidUTF8Error",
    "WorkerError",
    "count_report",
    "count_words",
]


def __getattr__(name: str) -> Any:
    """A public name, imported the first time it is asked for; ``EXECUTORS`` is the executor
    names available in this install."""
    if name == "EXECUTORS":
        value: Any = importlib.import_module("wordcount.executors").available_executors()
    elif name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    else:
        raise AttributeError(f"module 'wordcount' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if not in_subinterpreter():
    for _name in __all__:
        __getattr__(_name)
    del _name

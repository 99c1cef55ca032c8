"""Exact word counts (what ``str.split()`` splits out) by every way Python can parallelise them.

>>> import wordcount
>>> wordcount.count_words("to be or not to be", kernel="numpy", executor="threads", workers=2)
6
"""

from wordcount.api import CountReport, count_report, count_words
from wordcount.errors import InvalidUTF8Error, WorkerError
from wordcount.executors import START_METHODS, available_executors
from wordcount.kernels import KERNELS

#: Executor names available in this install.
EXECUTORS: tuple[str, ...] = available_executors()

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

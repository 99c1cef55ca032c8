"""Kernels with a known memory footprint, importable by worker processes of every start method.

``holding_kernel`` (from ``holding_kernel``, re-exported here): holds a known number of MiB
until the test has seen them.

``meeting_numpy_kernel``: the numpy kernel with a scratch pool of its own whose counters meet
before giving their buffers back, so every counting thread holds its own set at the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from holding_kernel import MIB, PAGE, WAIT_SECONDS, holding_kernel, wait_for

from wordcount.kernels.numpy_kernel import ScratchPool, count_numpy

__all__ = ["MEETING_POOL", "MIB", "PAGE", "WAIT_SECONDS", "MeetingPool", "holding_kernel",
           "meeting_numpy_kernel", "wait_for"]


class MeetingPool(ScratchPool):
    """A scratch pool whose ``parties`` borrowers wait for each other before returning their set."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self._meeting = threading.Barrier(parties, timeout=WAIT_SECONDS)

    @contextmanager
    def lend(self) -> Iterator[object]:  # type: ignore[override]
        with super().lend() as buf:
            yield buf
            self._meeting.wait()


#: Two threads' worth (the tests count with two workers).
MEETING_POOL = MeetingPool(parties=2)


def meeting_numpy_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    return count_numpy(data, start, end, scratch=MEETING_POOL)  # type: ignore[arg-type]

"""Kernels with a known memory footprint, importable by worker processes of every start method.

``holding_kernel``: each chunk's first word is ``MIB`` or ``MIB@DIR``. The kernel allocates that
many MiB and touches every page so it is resident; given a directory, it then marks itself there
(``held-<pid>-<thread>``) and keeps the block until a ``go`` file appears in it. The test creates
``go`` once every counter holds its block and the tree sampler has seen them (``hold_until_seen``
in ``test_memory``), so the measured peak really holds all blocks at once, however staggered the
workers' start-up and however loaded the machine: a sign, not a fixed hold time.

``meeting_numpy_kernel``: the numpy kernel with a scratch pool of its own whose counters meet
before giving their buffers back, so every counting thread holds its own set at the same moment.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from wordcount.kernels.numpy_kernel import ScratchPool, count_numpy

MIB = 1 << 20
#: How long a counter waits for ``go`` before giving up (the test then fails on its figures).
WAIT_SECONDS = 20.0
PAGE = 4096


def wait_for(condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def holding_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    end = len(data) if end is None else end  # type: ignore[arg-type]
    chunk = data[start:end] if isinstance(data, str) else str(memoryview(data)[start:end], "utf-8")
    words = chunk.split()
    spec = words[0].split("@") if words else ["0"]
    size = int(spec[0]) * MIB
    block = bytearray(size)
    for i in range(0, size, PAGE):
        block[i] = 1
    if len(spec) == 2:
        directory = Path(spec[1])
        (directory / f"held-{os.getpid()}-{threading.get_ident()}").touch()
        wait_for((directory / "go").exists)
    del block
    return len(words)


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

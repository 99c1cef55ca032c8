"""Counting the bytes serialised to workers (``copied_bytes``), where it really happens.

Work sent to a worker travels as a ``Task`` whose ``__reduce__`` calls ``record``: it runs only
when the task is actually pickled (a spawn or forkserver ``Process`` argument, a queue or pool
message), never when ``fork`` hands the child an inherited copy. Counting is off unless a
``metered()`` block is open, so timed runs pay nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class TransferMeter:
    """Bytes and messages pickled for workers while the meter was open."""

    bytes: int = 0
    messages: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, nbytes: int) -> None:
        with self._lock:
            self.bytes += nbytes
            self.messages += 1


_active: TransferMeter | None = None


def record(nbytes_of: object) -> None:
    """Add ``nbytes_of()`` to the open meter, if any (the size is computed only then)."""
    meter = _active
    if meter is not None:
        meter.add(nbytes_of())  # type: ignore[operator]


@contextmanager
def metered() -> Iterator[TransferMeter]:
    """Count serialised bytes (in any thread of this process) until the block ends."""
    global _active
    if _active is not None:
        raise RuntimeError("a transfer meter is already open")
    _active = meter = TransferMeter()
    try:
        yield meter
    finally:
        _active = None

"""Counting the bytes serialised to workers (``copied_bytes``), where it really happens.

Work sent to a worker travels as a ``Task`` whose ``__reduce__`` adds to the call's meter
(``Measurement.meter``): it runs only when the task is actually pickled (a spawn or forkserver
``Process`` argument, a queue or pool message), never when ``fork`` hands the child an inherited
copy. A call without a meter pays nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class TransferMeter:
    """Bytes and messages pickled for workers while the meter was attached to a call."""

    bytes: int = 0
    messages: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, nbytes: int) -> None:
        """Record one message of ``nbytes`` (thread-safe: pools pickle in a feeder thread)."""
        with self._lock:
            self.bytes += nbytes
            self.messages += 1

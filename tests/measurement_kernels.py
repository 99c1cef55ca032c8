"""Kernels with a known memory footprint, importable by worker processes of every start method.

Each chunk's first word is ``MIB`` or ``MIB@DIR@N``: the kernel allocates that many MiB, touches
every page so it is resident, and, given a barrier directory, marks itself there and waits until
``N`` counters hold their blocks at once (so the tree's peak really holds all of them, however
staggered the workers' start-up), then holds a little longer for the tree sampler, frees the
block and returns the chunk's true word count.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

MIB = 1 << 20
HOLD_SECONDS = 0.3
BARRIER_TIMEOUT_SECONDS = 20.0
PAGE = 4096


def _wait_for_peers(barrier: Path, peers: int) -> None:
    (barrier / f"{os.getpid()}-{threading.get_ident()}").touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT_SECONDS
    while len(list(barrier.iterdir())) < peers and time.monotonic() < deadline:
        time.sleep(0.01)


def holding_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    end = len(data) if end is None else end  # type: ignore[arg-type]
    chunk = data[start:end] if isinstance(data, str) else str(memoryview(data)[start:end], "utf-8")
    words = chunk.split()
    spec = words[0].split("@") if words else ["0"]
    size = int(spec[0]) * MIB
    block = bytearray(size)
    for i in range(0, size, PAGE):
        block[i] = 1
    if len(spec) == 3:
        _wait_for_peers(Path(spec[1]), int(spec[2]))
    time.sleep(HOLD_SECONDS)
    del block
    return len(words)

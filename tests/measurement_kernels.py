"""Kernels with a known memory footprint, importable by worker processes of every start method.

Each chunk's first word is a number of MiB; the kernel allocates that much, touches every page so
it is resident, holds it long enough for every worker to hold its block at the same time (and for
the tree sampler to see it), frees it and returns the chunk's true word count.
"""

from __future__ import annotations

import time

MIB = 1 << 20
HOLD_SECONDS = 0.6
PAGE = 4096


def holding_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    end = len(data) if end is None else end  # type: ignore[arg-type]
    chunk = data[start:end] if isinstance(data, str) else str(memoryview(data)[start:end], "utf-8")
    words = chunk.split()
    size = int(words[0]) * MIB if words else 0
    block = bytearray(size)
    for i in range(0, size, PAGE):
        block[i] = 1
    time.sleep(HOLD_SECONDS)
    del block
    return len(words)

"""A kernel that holds a known number of MiB until told to let go: the memory tests' yardstick.

Each chunk's first word is ``MIB`` or ``MIB@DIR``. The kernel allocates that many MiB and touches
every page so it is resident; given a directory, it then marks itself there
(``held-<pid>-<thread>``) and keeps the block until a ``go`` file appears in it. The test creates
``go`` once every counter holds its block and the tree sampler has seen them (``hold_until_seen``
in ``test_memory``), so the measured peak really holds all blocks at once, however staggered the
workers' start-up and however loaded the machine: a sign, not a fixed hold time.

It imports nothing but the standard library, so worker processes of every start method and
subinterpreters (where numpy cannot load) can all import it.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

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
        go = str(directory / "go")
        (directory / f"held-{os.getpid()}-{threading.get_ident()}").touch()
        # The wait allocates nothing and runs no collection: in a fork child, a free-threaded
        # build's collector walks every object it inherited, copying the parent's whole heap
        # (tens of MiB) into the figure this yardstick is meant to fix.
        collecting = gc.isenabled()
        gc.disable()
        try:
            wait_for(lambda: os.access(go, os.F_OK))
        finally:
            if collecting:
                gc.enable()
    del block
    return len(words)


def release_when_seen(directory: str, counters: int, sampler_fd: int) -> None:
    """In a process of its own (``hold_until_seen`` in ``test_memory``): once ``counters``
    holding kernels hold their blocks in ``directory``, have the tree sampler take a sample,
    then let them go (``directory/go``). Says ``ready`` first, once its imports are done."""
    from wcbench.sampler import request_sample

    print("ready", flush=True)
    where = Path(directory)
    if wait_for(lambda: len(list(where.glob("held-*"))) >= counters):
        request_sample(sampler_fd, os.path.join(directory, "sampled"), timeout=10.0)
    (where / "go").touch()

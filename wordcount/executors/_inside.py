"""What runs inside each subinterpreter of the ``interpreters`` and ``interpreter-pool`` executors:
count, then report (and, in a pooled one, wait for the next chunk).

Kept apart, and importing only the standard library and ``wordcount.errors``, because every
new interpreter imports it afresh: its import is part of each interpreter's start-up
(``import wordcount.executors.interpreters`` there took 57-79 ms; this module, a few).
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Callable

from wordcount.errors import InvalidUTF8Error

_PAGE = 4096


def thread_faults() -> int:
    """Minor page faults of the calling thread so far: pages it was first to touch."""
    import resource

    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


def _copied(data: object) -> int:
    """Bytes CPython copied to hand ``data`` to this interpreter: a ``str``'s code points at its
    own width (measured on the fresh copy, which holds no cached UTF-8); nothing for a view."""
    if not isinstance(data, str) or not data:
        return 0
    if data.isascii():
        return len(data)
    if len(data) < 64:  # cheap to look at; and 1-char latin-1 strs are cached, with their UTF-8
        top = max(map(ord, data))
        return len(data) * (1 if top < 0x100 else 2 if top < 0x10000 else 4)
    # A non-ASCII str's header: a 2-byte-wide str of length 3 holds 4 code units with its NUL.
    header = sys.getsizeof("\u0100" * 3) - 8
    return (sys.getsizeof(data) - header) // (len(data) + 1) * len(data)


def count_inside(data: object, blocks: tuple[tuple[int, int], ...], kernel_ref: tuple[str, str],
                 stop: memoryview, out: memoryview, start_faults: int) -> None:
    """Run inside a subinterpreter: count ``blocks`` of ``data``, stopping early when ``stop`` is
    set, and write the result into ``out``. An exception other than invalid UTF-8 escapes, and
    the caller reads its description."""
    import importlib

    kernel = importlib.import_module(kernel_ref[0])
    for part in kernel_ref[1].split("."):
        kernel = getattr(kernel, part)
    ready = thread_faults()
    result: dict[str, object] = {"status": "done", "copied": _copied(data),
                                 "setup_faulted": (ready - start_faults) * _PAGE}
    count = 0
    try:
        for a, b in blocks:
            if stop[0]:
                result["status"] = "stopped"
                break
            count += int(kernel(data, a, b))
    except InvalidUTF8Error as exc:
        result.update(status="utf8", offset=a + exc.offset, reason=exc.reason)
    result.update(count=count, faulted=(thread_faults() - ready) * _PAGE)
    payload = json.dumps(result).encode()
    out[: 4 + len(payload)] = struct.pack("<I", len(payload)) + payload


def serve(get: Callable[[], object], wake: int, done: int) -> None:
    """Run inside a pooled subinterpreter, by the thread that stays in it: wait for a byte on
    ``wake``, take the chunk's four items from the queue (``get``), count it as ``count_inside``
    does, and write its index to ``done``; until the item is None. A kernel's exception escapes
    (the caller's thread reports it for the chunk, and the pool is closed)."""
    import os

    while True:
        os.read(wake, 1)
        start = thread_faults()  # a str chunk is copied in by ``get``: set-up's faults
        data = get()
        if data is None:
            return
        meta = json.loads(get())  # type: ignore[arg-type]
        stop, out = get(), get()
        blocks = tuple((a, b) for a, b in meta["blocks"])
        count_inside(data, blocks, tuple(meta["kernel"]), stop, out,  # type: ignore[arg-type]
                     start)
        del data, stop, out  # the caller's buffers, given back before it hears of the result
        os.write(done, struct.pack("<I", meta["index"]))

"""One ``threading.Thread`` per chunk, results through a ``queue.Queue``.

Threads share the text, so no chunk is copied; whether they run in parallel depends on the kernel
releasing the GIL (numpy does, ``str.split`` does not) or on a free-threaded interpreter.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from contextlib import suppress

from wordcount.executors._task import ChunkResult, Task, first_error, portable_error, run_task
from wordcount.measure import Measurement, in_caller
from wordcount.text import Text, chunk_spans

#: How often the caller wakes while waiting for its threads (seconds).
POLL_SECONDS = 0.05


def _thread_main(results: queue.Queue, task: Task) -> None:
    try:
        results.put(run_task(task))
    except BaseException as exc:
        results.put(portable_error(task.index, exc))


def run(text: Text, workers: int, kernel: Callable[..., int], *,
        start_method: str | None, measure: Measurement) -> list[ChunkResult]:
    """Start a thread per chunk over the shared text (offsets, no copies) and wait for all."""
    spans = chunk_spans(text, workers)
    measure = in_caller(measure)
    results: queue.Queue = queue.Queue()
    threads = [
        threading.Thread(target=_thread_main,
                         args=(results, Task(i, kernel, text, a, b, a, measure)),
                         name=f"wordcount-{i}", daemon=True)
        for i, (a, b) in enumerate(spans)
    ]
    for t in threads:
        t.start()
    outcomes = []
    while len(outcomes) < len(threads):
        # In short slices: a blocked get() is woken by a Ctrl-C only if the signal lands in this
        # thread; when it lands in another (a worker, numpy's), the handler runs at the next wake.
        with suppress(queue.Empty):
            outcomes.append(results.get(timeout=POLL_SECONDS))
    for t in threads:
        t.join()
    errors = [o for o in outcomes if isinstance(o, Exception)]
    if errors:
        raise first_error(errors)
    return sorted(outcomes, key=lambda r: r.index)

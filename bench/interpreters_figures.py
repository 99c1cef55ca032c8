"""Subinterpreters against threads, 64 MiB of ASCII bytes: the figures of docs/interpreters.md.

Whole calls (``count_words``: ``interpreters`` creates and destroys its interpreters inside each,
as a user pays them; ``interpreter-pool`` reuses those it made in an untimed first call) and
counting only (two interpreters made and their kernel imported first), each
configuration timed in turn, median of ``--rounds`` (a round is the mean of as many calls back to
back as last ``ROUND_SECONDS``: one for ``split``, hundreds for ``native``); memory from one
untimed ``measure_memory`` call. Run it on a quiet machine under CPython 3.13+:

    .venv-python3.13/bin/python bench/interpreters_figures.py
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from functools import partial

import wordcount
from wcbench import corpus
from wcbench.memory import measure_memory
from wcbench.units import format_bytes, parse_size
from wordcount.executors import _subinterpreters as sub
from wordcount.kernels import KERNEL_FUNCTIONS
from wordcount.text import chunk_spans

CONFIGS = [("interpreters", 1), ("interpreters", 2), ("interpreter-pool", 1),
           ("interpreter-pool", 2), ("threads", 1), ("threads", 2)]


#: A round times calls back to back for at least this long (seconds), and takes their mean: one
#: call of a few milliseconds is within the scheduler's noise.
ROUND_SECONDS = 0.05


def _ms(seconds: float) -> str:
    """Milliseconds, to a hundredth below 10 ms (``native``'s calls take one or two)."""
    return f"{seconds * 1000:.2f} ms" if seconds < 0.01 else f"{seconds * 1000:.1f} ms"


def _batch(call: Callable[[], object]) -> int:
    """How many calls of ``call`` one round makes: enough to last ``ROUND_SECONDS``."""
    call()
    started = time.perf_counter()
    call()
    return max(1, math.ceil(ROUND_SECONDS / max(time.perf_counter() - started, 1e-6)))


def whole_calls(text: bytes, rounds: int) -> list[str]:
    want = len(text.split())
    rows = ["| kernel | executor | workers | median | vs 1 worker | caller's peak growth "
            "| copied |", "|---|---|---|---:|---:|---:|---:|"]
    for kernel in ("split", "native"):
        times: dict[tuple[str, int], list[float]] = {c: [] for c in CONFIGS}
        wordcount.count_words(text, kernel=kernel, executor="interpreter-pool", workers=2)
        batch = {(ex, w): _batch(partial(wordcount.count_words, text, kernel=kernel,
                                         executor=ex, workers=w)) for ex, w in CONFIGS}
        for _ in range(rounds):
            for ex, w in CONFIGS:
                started = time.perf_counter()
                for _ in range(batch[(ex, w)]):
                    assert wordcount.count_words(text, kernel=kernel, executor=ex,
                                                 workers=w) == want
                times[(ex, w)].append((time.perf_counter() - started) / batch[(ex, w)])
        for ex, w in CONFIGS:
            m = measure_memory(text, kernel=kernel, executor=ex, workers=w)
            med, one = statistics.median(times[(ex, w)]), statistics.median(times[(ex, 1)])
            rows.append(f"| {kernel} | {ex} | {w} | {_ms(med)} | {one / med:.2f}x | "
                        f"{format_bytes(m.peak_parent_bytes)} | {format_bytes(m.copied_bytes)} |")
    return rows


def counting_only(text: bytes, rounds: int) -> list[str]:
    view = memoryview(text)
    ids = [sub.create() for _ in range(2)]
    try:
        for i in ids:
            sub.bind(i, {"p": tuple(sys.path), "v": view})
            sub.run(i, "import sys; sys.path[:] = list(p)\n"
                       "from wordcount.kernels import KERNEL_FUNCTIONS")

        def in_interpreters(kernel: str, spans: list[tuple[int, int]]) -> None:
            ts = [threading.Thread(target=sub.run,
                                   args=(i, f"KERNEL_FUNCTIONS[{kernel!r}](v, {a}, {b})"))
                  for i, (a, b) in zip(ids, spans, strict=False)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()

        def in_threads(kernel: str, spans: list[tuple[int, int]]) -> None:
            ts = [threading.Thread(target=KERNEL_FUNCTIONS[kernel], args=(view, a, b))
                  for a, b in spans]
            for t in ts:
                t.start()
            for t in ts:
                t.join()

        rows = ["| kernel | where | count in | median | vs 1 |", "|---|---|---|---:|---:|"]
        batch: dict[tuple[str, str, int], int] = {}
        for kernel in ("split", "native"):
            runs: dict[tuple[str, int], list[float]] = {}
            for _ in range(rounds):
                for how, n in [("interpreters", 1), ("interpreters", 2), ("threads", 1),
                               ("threads", 2)]:
                    fn = in_interpreters if how == "interpreters" else in_threads
                    spans = chunk_spans(view, n)
                    reps = batch.setdefault((kernel, how, n), _batch(partial(fn, kernel, spans)))
                    started = time.perf_counter()
                    for _ in range(reps):
                        fn(kernel, spans)
                    runs.setdefault((how, n), []).append((time.perf_counter() - started) / reps)
            for (how, n), v in runs.items():
                one = statistics.median(runs[(how, 1)])
                rows.append(f"| {kernel} | {how} | {n} | {_ms(statistics.median(v))} | "
                            f"{one / statistics.median(v):.2f}x |")
        return rows
    finally:
        for i in ids:
            sub.run(i, "del v")
            sub.destroy(i)
        view.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="64MiB")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    text = corpus.load(parse_size(args.size), "ascii")
    print(f"CPython {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.size} of ASCII bytes, "
          f"median of {args.rounds} rounds of at least {ROUND_SECONDS * 1000:.0f} ms each, "
          f"load average {os.getloadavg()[0]:.1f} at the start\n")
    print("Whole calls:\n")
    print("\n".join(whole_calls(text, args.rounds)))
    print("\nCounting only:\n")
    print("\n".join(counting_only(text, args.rounds)))


if __name__ == "__main__":
    main()

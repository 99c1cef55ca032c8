"""Subinterpreters against threads, 64 MiB of ASCII bytes: the figures of docs/interpreters.md.

Whole calls (``count_words``: ``interpreters`` creates and destroys its interpreters inside each,
as a user pays them; ``interpreter-pool`` reuses those it made in an untimed first call) and
counting only (two interpreters made and their kernel imported first), each
configuration timed in turn, median of ``--rounds``; memory from one untimed ``measure_memory``
call. Run it on a quiet machine under CPython 3.13+:

    .venv-python3.13/bin/python bench/interpreters_figures.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

import wordcount
from wcbench import corpus
from wcbench.memory import measure_memory
from wcbench.units import format_bytes, parse_size
from wordcount.executors import _subinterpreters as sub
from wordcount.kernels import KERNEL_FUNCTIONS
from wordcount.text import chunk_spans

CONFIGS = [("interpreters", 1), ("interpreters", 2), ("interpreter-pool", 1),
           ("interpreter-pool", 2), ("threads", 1), ("threads", 2)]


def whole_calls(text: bytes, rounds: int) -> list[str]:
    want = len(text.split())
    rows = ["| kernel | executor | workers | median | vs 1 worker | caller's peak growth "
            "| copied |", "|---|---|---|---:|---:|---:|---:|"]
    for kernel in ("split", "native"):
        times: dict[tuple[str, int], list[float]] = {c: [] for c in CONFIGS}
        wordcount.count_words(text, kernel=kernel, executor="interpreter-pool", workers=2)
        for _ in range(rounds):
            for ex, w in CONFIGS:
                started = time.perf_counter()
                assert wordcount.count_words(text, kernel=kernel, executor=ex, workers=w) == want
                times[(ex, w)].append(time.perf_counter() - started)
        for ex, w in CONFIGS:
            m = measure_memory(text, kernel=kernel, executor=ex, workers=w)
            med, one = statistics.median(times[(ex, w)]), statistics.median(times[(ex, 1)])
            rows.append(f"| {kernel} | {ex} | {w} | {med * 1000:.1f} ms | {one / med:.2f}x | "
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
        for kernel in ("split", "native"):
            runs: dict[tuple[str, int], list[float]] = {}
            for _ in range(rounds):
                for how, n in [("interpreters", 1), ("interpreters", 2), ("threads", 1),
                               ("threads", 2)]:
                    fn = in_interpreters if how == "interpreters" else in_threads
                    started = time.perf_counter()
                    fn(kernel, chunk_spans(view, n))
                    runs.setdefault((how, n), []).append(time.perf_counter() - started)
            for (how, n), v in runs.items():
                one = statistics.median(runs[(how, 1)])
                rows.append(f"| {kernel} | {how} | {n} | {statistics.median(v) * 1000:.1f} ms | "
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
          f"median of {args.rounds}, load average {os.getloadavg()[0]:.1f} at the start\n")
    print("Whole calls:\n")
    print("\n".join(whole_calls(text, args.rounds)))
    print("\nCounting only:\n")
    print("\n".join(counting_only(text, args.rounds)))


if __name__ == "__main__":
    main()

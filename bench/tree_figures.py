"""Tree figures of a few cases, to see what a change of the memory sampler does to them.

The tree's peak (``peak_tree_bytes``) was sampled by a thread of the measuring process until
2026-12-07 and is sampled by a separate process since (``wcbench/sampler.py``). This prints, for
numpy at 32 MiB with 2 workers under each process executor and start method and ``split`` in 2
threads, the median over ``--calls`` calls of the tree figure and of the workers' own summed peaks,
with whichever ``wcbench`` is imported: run it once with the current checkout and once with an
older one first on ``PYTHONPATH`` (docs/benchmark-suite.md gives the figures):

    git worktree add /tmp/before 4f3187e^
    PYTHONPATH=/tmp/before .venv/bin/python bench/tree_figures.py --calls 7
    .venv/bin/python bench/tree_figures.py --calls 7
    .venv/bin/python bench/tree_figures.py --calls 5 --beside-thread

``--beside-thread`` measures the same calls with both: a thread of this process reads the tree's
PSS every 2 ms as the old sampler did (its growth over a reading taken just before the call),
while ``measure_memory`` uses the sampler process (a thread beside fork cases: the hazard the
change removed, taken here on purpose). Never timed; memory only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import threading

import wcbench
from wcbench.memory import measure_memory

MIB = 1 << 20
LINE = b"lorem ipsum dolor sit amet, consectetur adipiscing elit\n"
CASES = [("split", "threads", None)] + [
    ("numpy", executor, method) for executor in ("processes", "process-pool", "shared-memory")
    for method in ("fork", "spawn", "forkserver")]


class ThreadSampler:
    """The tree's PSS read by a thread of this process, as the suite did until 2026-12-07
    (the sampler process left out: the old code had none). Current code only: the old one has
    no ``wcbench.sampler``, and this is imported when asked for."""

    def __init__(self) -> None:
        from wcbench.sampler import shared, tree_pss

        self.me = os.getpid()
        self.leave_out = frozenset({shared().pid})
        self.tree_pss = tree_pss
        self.stop = threading.Event()
        self.before = self.peak = 0

    def _read(self) -> int:
        return self.tree_pss(self.me, leave_out=self.leave_out)

    def _run(self) -> None:
        while not self.stop.wait(0.002):
            self.peak = max(self.peak, self._read())

    def __enter__(self) -> ThreadSampler:
        self.before = self.peak = self._read()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self._read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=7, help="calls per case (default 7)")
    parser.add_argument("--mib", type=int, default=32, help="MiB of text (default 32)")
    parser.add_argument("--beside-thread", action="store_true",
                        help="also read each call's tree from a thread, as before 2026-12-07")
    args = parser.parse_args()
    text = LINE * (args.mib * MIB // len(LINE))
    measure_memory(text[:1000], kernel="numpy", executor="serial", workers=1)  # start-up
    print(f"# wcbench from {os.path.dirname(wcbench.__file__)}; medians of {args.calls} calls")
    print("| case | tree peak | workers' own peaks | thread's tree peak, same calls |")
    print("|---|---:|---:|---:|")
    for kernel, executor, method in CASES:
        trees, workers, threads = [], [], []
        for _ in range(args.calls):
            with ThreadSampler() if args.beside_thread else contextlib.nullcontext() as thread:
                figures = measure_memory(text, kernel=kernel, executor=executor, workers=2,
                                         start_method=method)
            if thread is not None:
                threads.append(max(thread.peak - thread.before, figures.peak_parent_bytes))
            trees.append(figures.peak_tree_bytes)
            workers.append(figures.peak_workers_bytes)
        name = f"{kernel}-{executor}" + (f"-{method}" if method else "") + f"-{args.mib}MiB-w2"
        beside = f"{statistics.median(threads) / MIB:.1f} MiB" if threads else "–"
        print(f"| {name} | {statistics.median(trees) / MIB:.1f} MiB | "
              f"{statistics.median(workers) / MIB:.1f} MiB | {beside} |", flush=True)


if __name__ == "__main__":
    main()

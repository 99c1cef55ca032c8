"""One page across Pythons: the same quick matrix run under several interpreters, side by side.

Each column is a saved run (one per interpreter: 3.11, 3.13, a free-threaded 3.13t, 3.14...).
Every figure is read within its own run, never across runs: the speed-up of a strategy is its
run's serial ``split`` median divided by the strategy's median, so a machine that was busier on
one day than another moves both alike; memory is the tree's peak growth divided by the text, as
everywhere in this project. Each run's default start method (what ``multiprocessing`` uses when
told nothing: ``fork`` on Linux before 3.14, ``forkserver`` from 3.14) is named in its column's
heading and starred in its cells, since that is what code that names none gets.

    wcbench report --across RUN RUN ... [--size 32MiB] [--output results/pythons.md]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wcbench import record
from wcbench.report.findings import baseline, gil_status, strategy_label
from wcbench.results import MeasuredCase, SavedRun, kernel_order
from wcbench.units import format_ratio, format_size, parse_size

#: The text size the page compares at, unless told otherwise.
DEFAULT_SIZE = "32MiB"


@dataclass(frozen=True)
class Column:
    """One run's figures at the page's size: ``(kernel, executor, start method)`` -> its case
    with the most workers there, and the run's serial ``split`` baseline."""

    run: SavedRun
    label: str
    default_method: str
    cases: dict[tuple[str, str, str | None], MeasuredCase]
    base: MeasuredCase | None

    def speedup(self, key: tuple[str, str, str | None]) -> float | None:
        case = self.cases.get(key)
        if case is None or self.base is None or not case.median:
            return None
        return self.base.median / case.median

    def memory(self, key: tuple[str, str, str | None]) -> float | None:
        case = self.cases.get(key)
        if case is None or case.peak_tree_bytes is None:
            return None
        return case.peak_tree_bytes / case.text_bytes


def column(run: SavedRun, size: int) -> Column:
    """The run's column at ``size`` bytes of text."""
    at_size = [c for c in run.cases if c.text_bytes == size]
    cases: dict[tuple[str, str, str | None], MeasuredCase] = {}
    for c in sorted(at_size, key=lambda c: c.workers):
        cases[c.strategy] = c  # the most workers win
    gil = gil_status(run)
    python = run.machine.python_version or "?"
    label = f"{python}" + ("t (GIL off)" if gil.startswith("disabled") else "")
    details = {**run.machine.wordcount, record.PYTHON: python}
    return Column(run, label, record.default_start_method(details), cases, baseline(at_size))


def _cell(col: Column, key: tuple[str, str, str | None]) -> str:
    speed, memory = col.speedup(key), col.memory(key)
    if speed is None:
        return "–"
    star = "\\*" if key[2] is not None and key[2] == col.default_method else ""
    return f"{format_ratio(speed)}{star} · {format_ratio(memory)}"


def _order(key: tuple[str, str, str | None]) -> tuple:
    executors = ("serial", "threads", "interpreters", "interpreter-pool", "processes",
                 "process-pool", "shared-memory", "dask")
    kernel, executor, method = key
    methods = ("fork", "spawn", "forkserver")
    return (kernel_order(kernel), executors.index(executor) if executor in executors else 99,
            methods.index(method) if method in methods else -1)


def table_lines(columns: Sequence[Column]) -> list[str]:
    """The strategies as rows, one column per run: speed-up against that run's serial split,
    and the tree's peak growth per byte of text."""
    keys = sorted({k for col in columns for k in col.cases}, key=_order)
    head = "| strategy | " + " | ".join(
        f"{col.label} (default {col.default_method})" for col in columns) + " |"
    lines = [head, "|---|" + "---:|" * len(columns)]
    for key in keys:
        lines.append(f"| {strategy_label(*key)} | "
                     + " | ".join(_cell(col, key) for col in columns) + " |")
    return lines


def _best(col: Column) -> tuple[tuple[str, str, str | None], float] | None:
    speeds = [(k, s) for k in col.cases if (s := col.speedup(k)) is not None]
    return max(speeds, key=lambda ks: ks[1]) if speeds else None


def sentences(columns: Sequence[Column]) -> list[str]:
    """What changed for this job from the first run's Python to the others, derived."""
    lines = []
    for col in columns:
        best = _best(col)
        if best is not None:
            lines.append(f"On {col.label}, the fastest strategy is {strategy_label(*best[0])}: "
                         f"{format_ratio(best[1])} serial split.")
    default = [(col, ("numpy", "processes", col.default_method)) for col in columns]
    parts = [f"{col.label} ({key[2]}) {format_ratio(col.speedup(key))} serial split, tree "
             f"{format_ratio(col.memory(key))} the text" for col, key in default
             if col.speedup(key) is not None]
    if len({col.default_method for col in columns}) > 1 and parts:
        lines.append("numpy in processes with the default start method (what code that names "
                     "none gets): " + "; ".join(parts) + ".")
    threads = [f"{col.label} {format_ratio(s)}" for col in columns
               if (s := col.speedup(("split", "threads", None))) is not None]
    if threads:
        lines.append("split in threads, against serial split: " + "; ".join(threads)
                     + " (the GIL serialises str.split; a free-threaded build does not).")
    pooled = [f"{col.label} {format_ratio(s)}" for col in columns
              if (s := col.speedup(("split", "interpreter-pool", None))) is not None]
    per_call = [f"{col.label} {format_ratio(s)}" for col in columns
                if (s := col.speedup(("split", "interpreters", None))) is not None]
    if pooled or per_call:
        lines.append("split in subinterpreters, against serial split: made per call "
                     + ("; ".join(per_call) or "not run") + "; pooled "
                     + ("; ".join(pooled) or "not run") + ".")
    return lines


def across_lines(runs: Sequence[SavedRun], size: str = DEFAULT_SIZE) -> list[str]:
    """The whole page."""
    n = parse_size(size)
    columns = [column(run, n) for run in runs]
    lines = [f"# The same job on {len(columns)} Pythons, at {format_size(n)}", "",
             "Each cell: the strategy's speed-up against its own run's serial `split` "
             "(higher is faster), then the process tree's peak growth per byte of text (lower "
             "is smaller). \\* marks the Python's default start method. Read across a row to see "
             "what a Python changed; every figure comes from one run, so a busier day moves a "
             "whole column alike.", ""]
    lines += [*table_lines(columns), "", "## What changed", ""]
    lines += [f"- {s}" for s in sentences(columns)] + ["", "## The runs", ""]
    for col in columns:
        facts = col.run
        lines.append(f"- {col.label}: `{facts.path}` ({facts.datetime or 'undated'}, "
                     f"{facts.machine.cpu_brand or '?'}, GIL {gil_status(facts)}, "
                     f"default start method {col.default_method})")
    return lines

"""The Markdown of two runs side by side: BASE and NEW, with NEW/BASE ratios per benchmark.

For before and after a change, or a GIL build against a free-threaded one. Benchmarks are matched
by what they measure (:attr:`wcbench.record.MeasuredCase.key`), not by name, so runs of
different builds line up. Ratios are descriptive; ``make compare`` is what judges regressions.
"""

from __future__ import annotations

import math

from wcbench.limits import reads_at
from wcbench.record import MeasuredCase
from wcbench.report.findings import case_label, run_facts, thread_sentences
from wcbench.report.markdown import table
from wcbench.results import SavedRun, case_order
from wcbench.units import format_bytes_spaced, format_ratio, format_size, format_time_spaced

#: One benchmark in both runs: (BASE's case, NEW's case).
Pair = tuple[MeasuredCase, MeasuredCase]
_RATIO_HEADER = ["kernel", "executor", "start method", "workers", "BASE time", "NEW time",
                 "time NEW/BASE", "BASE peak tree", "NEW peak tree", "memory NEW/BASE"]


def _ratio(new: float | None, old: float | None) -> float | None:
    if new is None or old is None or old == 0:
        return None
    return new / old


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _in_order(cases: list[MeasuredCase]) -> list[MeasuredCase]:
    return sorted(cases, key=lambda c: (c.text_bytes, c.corpus, case_order(c)))


def pairs_of(base: SavedRun, new: SavedRun) -> list[Pair]:
    """The benchmarks both runs measured, matched by key, in NEW's table order."""
    old = {c.key: c for c in base.cases}
    return [(old[c.key], c) for c in _in_order(list(new.cases)) if c.key in old]


def summary_sentence(pairs: list[Pair]) -> str:
    """Geometric means of the ratios, and the biggest gain and loss in time."""
    times = [n.median / b.median for b, n in pairs if b.median > 0 and n.median > 0]
    mems = [r for b, n in pairs if (r := _ratio(n.peak_tree_bytes, b.peak_tree_bytes))]
    gain = min(pairs, key=lambda p: p[1].median / p[0].median)
    loss = max(pairs, key=lambda p: p[1].median / p[0].median)
    summary = (f"Over the {len(pairs)} benchmarks in both runs, NEW takes "
               f"{format_ratio(_geomean(times))} BASE's median time (geometric mean)")
    if mems:
        summary += f" and {format_ratio(_geomean(mems))} its peak tree memory"
    moves = [(word, pair) for word, pair, faster in (("gain", gain, True), ("loss", loss, False))
             if (pair[1].median < pair[0].median) == faster and pair[1].median != pair[0].median]
    for word, (b, n) in moves:
        summary += (f"; the biggest {word} in time is {case_label(n)} at "
                    f"{format_size(n.text_bytes)} ({format_ratio(n.median / b.median)})")
    return summary + ". Ratios are NEW / BASE: below 1× NEW is faster or smaller."


def ratio_table(base: SavedRun, new: SavedRun, pairs: list[Pair], size: int) -> list[str]:
    """One size's table: both medians and tree peaks and their ratios, then the reads both runs
    took alike (same threads, same method: numpy's sum against the native read is no ratio)."""
    rows = []
    for b, n in (p for p in pairs if p[1].text_bytes == size):
        rows.append([n.kernel, n.executor, n.start_method or "–", str(n.workers),
                     format_time_spaced(b.median), format_time_spaced(n.median),
                     format_ratio(n.median / b.median), format_bytes_spaced(b.peak_tree_bytes),
                     format_bytes_spaced(n.peak_tree_bytes),
                     format_ratio(_ratio(n.peak_tree_bytes, b.peak_tree_bytes))])
    for n_read in reads_at(new.memory_read, size):  # a read of the same threads and method
        b_read = base.memory_read.get((size, n_read.threads))
        if b_read is not None and b_read.method == n_read.method:
            rows.append([n_read.label, "", "", str(n_read.threads),
                         format_time_spaced(b_read.seconds), format_time_spaced(n_read.seconds),
                         format_ratio(n_read.seconds / b_read.seconds), "", "", ""])
    return [f"### {format_size(size)}", "", *table(rows, _RATIO_HEADER, {3, 4, 5, 6, 7, 8, 9}),
            ""]


def unmatched_lines(base: SavedRun, new: SavedRun) -> list[str]:
    """Benchmarks only one of the runs has, named."""
    base_keys, new_keys = {c.key for c in base.cases}, {c.key for c in new.cases}
    lines = []
    for label, alone in (("BASE", [c for c in base.cases if c.key not in new_keys]),
                         ("NEW", [c for c in new.cases if c.key not in base_keys])):
        if alone:
            lines += [f"Only in {label}: " + "; ".join(
                f"{case_label(c)} at {format_size(c.text_bytes)}" for c in _in_order(alone))
                + ".", ""]
    return lines


def comparison_lines(base: SavedRun, new: SavedRun) -> list[str]:
    """BASE and NEW side by side: their facts, then per benchmark the NEW/BASE ratios of median
    time and peak tree memory (below 1: NEW is faster or smaller)."""
    base_facts, new_facts = run_facts(base), run_facts(new)
    lines = ["## BASE and NEW", ""]
    lines += table([[k, base_facts[k], new_facts[k]] for k in base_facts],
                   ["", "BASE", "NEW"], set())
    pairs = pairs_of(base, new)
    lines += ["", "## NEW against BASE", ""]
    if not pairs:
        return [*lines, "The two runs share no benchmark (same kernel, executor, start method, "
                "workers and text size): nothing to compare.", ""]
    lines += [summary_sentence(pairs), ""]
    # Threads are where a GIL build and a free-threaded one differ: say both runs' scaling.
    lines += [f"- {label}: {sentence}" for label, run in (("BASE", base), ("NEW", new))
              for sentence in thread_sentences(run)]
    lines.append("")
    for size in sorted({n.text_bytes for _, n in pairs}):
        lines += ratio_table(base, new, pairs, size)
    return lines + unmatched_lines(base, new)

"""The report's section "How cost grows with the text": a line per strategy, a plot, sentences.

For a run over several sizes (``make bench-scale``: 1 MiB to 8 GiB) each strategy's peak tree
memory and median time are fitted with a straight line in the text size (:mod:`wcbench.scaling`):
what it costs whatever the text (interpreters, start-up) and what each byte of text adds (copies,
seconds per GB). The section checks the seed's claim (pickling to processes doubles the text) at
the largest text run under spawn, and says which strategy fits the most text into the machine
that ran it. A run with fewer than ``scaling.MIN_SIZES`` sizes (the default matrix has two) gets
no section: two points always lie on a line.

Formatting only, over :class:`wcbench.results.SavedRun`; the figures come from the fit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wcbench import record, scaling
from wcbench.limits import MemoryRead
from wcbench.record import MeasuredCase
from wcbench.report.findings import (
    capacity_sentence,
    gil_status,
    read_line_sentences,
    seed_claim_sentence,
)
from wcbench.report.markdown import table
from wcbench.report.plots import (
    READ_DASHES,
    _bytes_axis,
    _legend_below,
    _pyplot,
    _style,
    _time_axis,
)
from wcbench.results import SavedRun, kernel_order, strategy_order
from wcbench.units import format_bytes_spaced, format_size, format_time_spaced

#: The section's plot, beside the report's other plots.
PLOT_NAME = "cost-vs-size.png"
TITLE = "How cost grows with the text"


def scale_cases(run: SavedRun) -> list[MeasuredCase]:
    """The run's matrix cases with a tree peak: the points the lines are fitted through."""
    return [c for c in run.cases if c.peak_tree_bytes is not None]


def scale_fits(run: SavedRun) -> list[scaling.StrategyFit]:
    """A line per strategy measured at enough sizes, in the report's strategy order."""
    fits = scaling.fit_strategies(scale_cases(run))
    return sorted(fits, key=lambda f: (strategy_order((f.kernel, f.executor, f.start_method)),
                                       f.workers))


def read_series(run: SavedRun) -> dict[int, list[MemoryRead]]:
    """Threads -> that thread count's reads over the sizes, ascending: a line each."""
    series: dict[int, list[MemoryRead]] = {}
    for (_, threads), read in sorted(run.memory_read.items()):
        series.setdefault(threads, []).append(read)
    return series


def memory_read_lines(run: SavedRun) -> dict[int, tuple[str, scaling.Line]]:
    """Reading the same bytes (the memory-read benchmarks) as a line per thread count, with its
    label: the physical limit of a strategy with that many workers."""
    lines = {}
    for threads, reads in read_series(run).items():
        if len(reads) >= scaling.MIN_SIZES:
            lines[threads] = (reads[-1].series_label, scaling.fit_line(
                [r.text_bytes for r in reads], [r.seconds for r in reads],
                scaling.TIME_FLOOR_SECONDS))
    return lines


def memory_total(run: SavedRun) -> int:
    """The machine's memory as the run recorded it (0 when the run does not say)."""
    return record.memory_total(run.machine.wordcount)


def _fit_quality(line: scaling.Line) -> str:
    return f"{line.r2:.3f} / {100 * line.worst_residual:.0f}%"


def _rows(run: SavedRun, fits: list[scaling.StrategyFit], memory: int) -> list[list[str]]:
    largest: dict[tuple, int] = {}
    for c in run.cases:
        key = (c.kernel, c.executor, c.start_method, c.workers)
        largest[key] = max(largest.get(key, 0), c.text_bytes)
    rows = []
    for f in fits:
        rows.append([
            f.kernel, f.executor, f.start_method or "–", str(f.workers),
            format_bytes_spaced(f.memory.fixed), f"{f.memory.per_byte:.2f}",
            _fit_quality(f.memory), format_time_spaced(f.time.fixed),
            f"{f.seconds_per_gb:.3g}", _fit_quality(f.time),
            format_size(largest[(f.kernel, f.executor, f.start_method, f.workers)]),
            format_bytes_spaced(scaling.capacity_bytes(f, memory)) if memory else "n/a",
        ])
    return rows


def scale_section_lines(run: SavedRun, plot: str | None) -> list[str]:
    """The section's Markdown lines; none when no strategy ran at ``MIN_SIZES`` sizes."""
    fits = scale_fits(run)
    if not fits:
        return []
    sizes = sorted({c.text_bytes for c in run.cases})
    memory = memory_total(run)
    lines = [f"## {TITLE}", "",
             f"Each strategy's figures over the {len(sizes)} sizes run "
             f"({format_size(sizes[0])} to {format_size(sizes[-1])}), fitted with a straight "
             "line (`wcbench/scaling.py`: least squares weighted so that every size counts "
             "alike, costs kept non-negative): peak tree memory = fixed + bytes per byte x "
             "text; median time = start-up + seconds per GB x text. Fit: weighted R² / the "
             "largest relative residual.", ""]
    sentences = [seed_claim_sentence(scale_cases(run), fits),
                 capacity_sentence(fits, memory, run.skipped)]
    sentences += read_line_sentences(memory_read_lines(run))
    lines += [f"- {s}" for s in sentences if s] + [""]
    if plot:
        lines += [f"![time and peak memory against text size, fitted lines]({plot})", ""]
    header = ["kernel", "executor", "start method", "workers", "memory: fixed",
              "bytes per byte", "fit", "time: start-up", "s per GB", "fit", "largest text run",
              f"fits in {format_bytes_spaced(memory)}" if memory else "fits"]
    lines += table(_rows(run, fits, memory), header, {3, 4, 5, 6, 7, 8, 9, 10, 11})
    return [*lines, ""]


def _draw_strategy(time_ax, mem_ax, fit: scaling.StrategyFit,
                   points: list[MeasuredCase]) -> None:
    """One strategy's measured points (markers) and fitted lines (drawn densely: ``a + b*n``
    bends on log-log axes), 0 B peaks left out (no place on a log axis)."""
    style = _style(fit.executor, fit.start_method)
    mine = sorted((p for p in points if scaling.strategy_key(p) == (
        fit.kernel, fit.executor, fit.start_method, fit.workers)), key=lambda p: p.text_bytes)
    xs = [p.text_bytes for p in mine]
    label = fit.executor + (f" ({fit.start_method})" if fit.start_method else "")
    dense = np.geomspace(xs[0], xs[-1], 40)
    for ax, ys, line in ((time_ax, [p.median for p in mine], fit.time),
                         (mem_ax, [p.peak_tree_bytes or 0 for p in mine], fit.memory)):
        kept = [(x, y) for x, y in zip(xs, ys, strict=True) if y > 0]
        if kept:
            ax.plot(*zip(*kept, strict=True), linestyle="none", marker=style["marker"],
                    color=style["color"])
        ax.plot([], [], label=label, **style)  # the legend's entry: marker and line style
        fitted = [(x, line.at(x)) for x in dense if line.at(x) > 0]
        if fitted:
            ax.plot(*zip(*fitted, strict=True), color=style["color"],
                    linestyle=style["linestyle"], linewidth=1)


def _axes(time_ax, mem_ax, kernel: str) -> None:
    from matplotlib.ticker import NullLocator

    for ax, what in ((time_ax, "median time"), (mem_ax, "peak tree memory")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        _bytes_axis(ax.xaxis, True)
        ax.set_xlabel("text size (log scale)")
        ax.set_ylabel(f"{what} (log scale)")
        ax.set_title(f"kernel {kernel}: {what}")
        ax.grid(True, which="both", alpha=0.3)
    _time_axis(time_ax.yaxis)
    _bytes_axis(mem_ax.yaxis, True)
    for axis in (time_ax.xaxis, time_ax.yaxis, mem_ax.xaxis, mem_ax.yaxis):
        axis.set_minor_locator(NullLocator())  # four decades of minor ticks: slow, unread


def plot_cost_vs_size(run: SavedRun, path: Path) -> bool:
    """Time and peak memory against text size, log-log, measured points and fitted lines, one row
    per kernel; the memory-read limit beside the times. False when there is nothing to fit."""
    fits = scale_fits(run)
    if not fits:
        return False
    plt = _pyplot()
    kernels = sorted({f.kernel for f in fits}, key=kernel_order)
    fig, grid = plt.subplots(len(kernels), 2, figsize=(13, 4.8 * len(kernels)), squeeze=False)
    points = scale_cases(run)
    sizes = sorted({p.text_bytes for p in points})
    series = read_series(run)
    for (time_ax, mem_ax), kernel in zip(grid, kernels, strict=True):
        for fit in (f for f in fits if f.kernel == kernel):
            _draw_strategy(time_ax, mem_ax, fit, points)
        for reads, dashes in zip(series.values(), READ_DASHES * len(series), strict=False):
            time_ax.plot([r.text_bytes for r in reads], [r.seconds for r in reads],
                         color="black", linestyle=dashes, linewidth=1.5,
                         label=f"reading the bytes, {reads[-1].series_label} (limit)")
        mem_ax.plot(sizes, sizes, color="#999999", linewidth=1, linestyle=(0, (1, 3)),
                    label="1× the text")
        _axes(time_ax, mem_ax, kernel)
    fig.suptitle("Cost against text size: measured (markers) and fitted lines, "
                 f"GIL {gil_status(run)}; 0 B peaks (nothing grew) left out")
    _legend_below(fig, list(grid.ravel()))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True

"""The report's PNG plots: time against workers, memory against size, throughput.

matplotlib is imported only when a plot is drawn (with the Agg backend: no screen needed), so the
rest of the report, and everything else that reads runs, works without it. Each function draws
one figure of a :class:`wcbench.results.SavedRun` into the path it is given.
"""

from __future__ import annotations

from pathlib import Path

from wcbench.limits import reads_at
from wcbench.record import MeasuredCase
from wcbench.report.findings import gil_status, section_slug, section_title, strategy_label
from wcbench.results import SavedRun, kernel_order, strategy_order
from wcbench.units import (
    format_bytes_tick,
    format_mbps,
    format_size,
    format_time_tick,
    significant,
)

#: What :func:`write_plots` draws; removed first, so a report never links a stale plot.
PLOT_NAMES = ("throughput.png", "memory-vs-size.png", "time-vs-workers-*.png")


class PlotError(Exception):
    """Plots cannot be drawn here (matplotlib missing): the CLI prints it and exits 2."""


_COLOURS = {"serial": "#333333", "threads": "#1f77b4", "processes": "#d62728",
            "process-pool": "#ff7f0e", "shared-memory": "#2ca02c", "dask": "#9467bd"}
_MARKERS = {"serial": "s", "threads": "o", "processes": "v", "process-pool": "^",
            "shared-memory": "D", "dask": "P"}
_LINES = {None: "-", "fork": "-", "spawn": "--", "forkserver": ":"}


def _pyplot():
    """matplotlib's pyplot on the Agg backend, imported only when a plot is asked for."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - matplotlib is in the dev extra
        raise PlotError("plots need matplotlib: pip install -e '.[dev]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _style(executor: str, start_method: str | None) -> dict:
    return {"color": _COLOURS.get(executor, "#7f7f7f"), "marker": _MARKERS.get(executor, "x"),
            "linestyle": _LINES.get(start_method, "-.")}


def _bytes_axis(axis, log: bool) -> None:
    """Byte ticks people read: powers of two on a log axis, labelled 1MiB, 4MiB, ..."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if log:
        axis.set_major_locator(LogLocator(base=4))
        axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(FuncFormatter(lambda v, _: format_bytes_tick(v)))


def _time_axis(axis) -> None:
    """Log-scale time ticks at 1, 2 and 5 of each decade, labelled ``20 ms`` not ``2×10^-2``."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: format_time_tick(v)))
    axis.set_minor_formatter(NullFormatter())


def _kernel_panels(plt, kernels: list[str], width: float = 6.0, height: float = 4.5):
    fig, axes = plt.subplots(1, len(kernels), figsize=(width * len(kernels), height),
                             squeeze=False)
    return fig, list(axes[0])


def _legend_below(fig, axes) -> None:
    handles, labels = {}, {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
            labels[lab] = lab
    fig.legend(list(handles.values()), list(labels), loc="lower center",
               ncol=min(4, len(handles)), fontsize=8, frameon=False)


def plot_time_vs_workers(run: SavedRun, size: int, corpus: str, path: Path) -> None:
    """Median time against worker count, one line per strategy, one panel per kernel."""
    plt = _pyplot()
    cases = run.at(size, corpus)
    kernels = sorted({c.kernel for c in cases}, key=kernel_order)
    fig, axes = _kernel_panels(plt, kernels)
    workers = sorted({c.workers for c in cases})
    for ax, kernel in zip(axes, kernels, strict=True):
        strategies: dict[tuple, list[MeasuredCase]] = {}
        for c in cases:
            if c.kernel == kernel:
                strategies.setdefault(c.strategy, []).append(c)
        for (_, executor, method), points in strategies.items():
            points.sort(key=lambda c: c.workers)
            label = executor + (f" ({method})" if method else "")
            if len(points) == 1 and len(workers) > 1:  # serial: a reference across the axis
                ax.axhline(points[0].median, color=_style(executor, method)["color"],
                           linestyle="-.", linewidth=1, label=label + ", 1 worker")
                continue
            ax.plot([c.workers for c in points], [c.median for c in points], label=label,
                    **_style(executor, method))
        ax.set_xscale("log", base=2)
        ax.set_xticks(workers, [str(w) for w in workers])
        ax.set_yscale("log")
        _time_axis(ax.yaxis)
        ax.set_xlabel("workers")
        ax.set_ylabel("median time (log scale)")
        ax.set_title(f"kernel {kernel}")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"Time against worker count, {section_title(size, corpus)} "
                 f"(GIL {gil_status(run)})")
    _legend_below(fig, axes)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_memory_vs_size(run: SavedRun, path: Path) -> None:
    """Peak tree memory against text size per strategy, each at its largest worker count."""
    plt = _pyplot()
    kernels = sorted({c.kernel for c in run.cases}, key=kernel_order)
    fig, axes = _kernel_panels(plt, kernels)
    sizes = sorted({c.text_bytes for c in run.cases})
    log = sizes[-1] >= 10 * sizes[0]
    dropped = 0
    for ax, kernel in zip(axes, kernels, strict=True):
        best: dict[tuple, dict[int, MeasuredCase]] = {}
        for c in run.cases:
            if c.kernel != kernel or c.peak_tree_bytes is None:
                continue
            slot = best.setdefault(c.strategy, {})
            if c.text_bytes not in slot or c.workers > slot[c.text_bytes].workers:
                slot[c.text_bytes] = c
        for (_, executor, method), by_size in best.items():
            points = [by_size[s] for s in sorted(by_size)]
            if log:  # a 0 B peak (no growth measured) has no place on a log axis
                dropped += sum(c.peak_tree_bytes <= 0 for c in points)
                points = [c for c in points if c.peak_tree_bytes > 0]
            if not points:
                continue
            most = max(c.workers for c in points)
            ax.plot([c.text_bytes for c in points], [c.peak_tree_bytes for c in points],
                    label=executor + (f" ({method})" if method else "") + f", {most}w",
                    **_style(executor, method))
        ax.plot(sizes, sizes, color="#999999", linewidth=1, linestyle=(0, (1, 3)),
                label="1× the text")
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xticks(sizes, [format_size(s) for s in sizes])
        _bytes_axis(ax.yaxis, log)
        ax.set_xlabel("text size" + (" (log scale)" if log else ""))
        ax.set_ylabel("peak tree memory" + (" (log scale)" if log else ""))
        ax.set_title(f"kernel {kernel}")
        ax.grid(True, which="both", alpha=0.3)
    note = f"; {dropped} points of 0 B left out" if dropped else ""
    fig.suptitle("Peak memory of parent + workers against text size\n"
                 f"(each strategy at its largest worker count, nw = n workers{note})")
    _legend_below(fig, axes)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: How the reads of one size are told apart, fewest threads first (solid would read as a bar).
READ_DASHES = ["--", ":", "-.", (0, (5, 1, 1, 1, 1, 1))]


def plot_throughput(run: SavedRun, path: Path) -> None:
    """Each strategy's best throughput (over worker counts) beside the reads of the same run, one
    line per thread count (a bar's case of N workers is against the N-thread line), one panel
    per size."""
    plt = _pyplot()
    sections = run.sections
    strategies = sorted({c.strategy for c in run.cases}, key=strategy_order, reverse=True)
    labels = [strategy_label(*s) for s in strategies]
    fig, axes = plt.subplots(1, len(sections), sharey=True, squeeze=False,
                             figsize=(2.5 + 4.2 * len(sections), 1.2 + 0.28 * len(labels)))
    for ax, (size, corpus) in zip(axes[0], sections, strict=True):
        best: dict[tuple, MeasuredCase] = {}
        for c in run.at(size, corpus):
            if c.strategy not in best or c.median < best[c.strategy].median:
                best[c.strategy] = c
        ys = [i for i, s in enumerate(strategies) if s in best]
        values = [best[strategies[i]].throughput / 1e6 for i in ys]
        ax.barh(ys, values, color=[_COLOURS.get(strategies[i][1], "#7f7f7f") for i in ys])
        for y, v in zip(ys, values, strict=True):
            ax.annotate(f"{significant(v, grouped=True)} ({best[strategies[y]].workers}w)", (v, y),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
        reads = reads_at(run.memory_read, size)
        for read, dashes in zip(reads, READ_DASHES * len(reads), strict=False):
            ax.axvline(read.throughput / 1e6, color="black", linestyle=dashes, linewidth=1.2,
                       label=f"{read.label}: {format_mbps(read.throughput)} MB/s")
        if reads:
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("MB/s of text (log scale)")
        ax.set_title(section_title(size, corpus))
        ax.grid(True, axis="x", which="both", alpha=0.3)
        ax.set_xlim(right=ax.get_xlim()[1] * 3)  # room for the annotations
    axes[0][0].set_yticks(range(len(labels)), labels, fontsize=8)
    fig.suptitle(f"Best throughput of each strategy over worker counts (nw = n workers), "
                 f"GIL {gil_status(run)}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(run: SavedRun, plot_dir: Path, link_prefix: str) -> dict[str, str]:
    """Draw every plot of a run into ``plot_dir``; return plot keys -> links for the report.

    Plots this module drew earlier are removed first, so a report never links a stale size.
    """
    plot_dir.mkdir(parents=True, exist_ok=True)
    for pattern in PLOT_NAMES:
        for old in plot_dir.glob(pattern):
            old.unlink()
    if not run.cases:
        return {}
    links = {}
    plot_throughput(run, plot_dir / "throughput.png")
    links["throughput"] = f"{link_prefix}throughput.png"
    plot_memory_vs_size(run, plot_dir / "memory-vs-size.png")
    links["memory"] = f"{link_prefix}memory-vs-size.png"
    corpora = len({c for _, c in run.sections})
    for size, corpus in run.sections:
        slug = section_slug(size, corpus, corpora)
        name = f"time-vs-workers-{slug}.png"
        plot_time_vs_workers(run, size, corpus, plot_dir / name)
        links["time-" + slug] = f"{link_prefix}{name}"
    return links

"""What ``wcbench measure`` shows: the tree as a table, the totals, and a memory-over-time plot
(matplotlib imported only to plot). Functions return lines; only the command prints."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from wcbench.measure.command import CommandError
from wcbench.measure.tree import ProcessFigures, TreeFigures, tree_order
from wcbench.units import format_bytes, format_bytes_tick, format_time, format_time_tick

#: Widest command line shown in the table (the saved run keeps it whole).
CMDLINE_WIDTH = 60


def _b(n: int | None) -> str:
    return "-" if n is None else format_bytes(n)


def _pickled(p: ProcessFigures) -> str:
    if p.pickled_bytes is None:
        return "not measured" if p.role.startswith("python") else "-"
    arrow = "back" if p.is_worker else "sent"
    return f"{format_bytes(p.pickled_bytes)} {arrow}" if p.pickled_bytes else "0 B"


def process_lines(figures: TreeFigures) -> list[str]:
    """The tree, one line per process, indented under its parent."""
    if not figures.processes:
        return ["no process seen: the command ended before the first sample"]
    head = ["pid", "role", "peak PSS", "peak USS", "peak RSS", "pickled", "command line"]
    rows = []
    for depth, p in tree_order(figures.processes):
        cmd = " ".join(p.cmdline)
        cmd = cmd if len(cmd) <= CMDLINE_WIDTH else cmd[:CMDLINE_WIDTH - 3] + "..."
        rows.append(["  " * depth + str(p.pid), p.label, _b(p.peak_pss_bytes),
                     _b(p.peak_uss_bytes), _b(p.peak_rss_bytes), _pickled(p), cmd])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = {2, 3, 4, 5}
    lines = []
    for row in [head, *rows]:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return lines


def pickled_line(figures: TreeFigures) -> str:
    """``bytes pickled by multiprocessing: 68.0MiB to workers (4 pickles), 34B back``, each
    figure "not measured" where it is not, and why."""
    to = (f"{format_bytes(figures.counted_to_workers)} to workers "
          f"({figures.messages_to_workers} pickles)")
    back = f"{format_bytes(figures.counted_back)} back"
    if figures.copied_not_measured:
        to = f"to workers not measured ({to} counted where seen)"
    if figures.returned_not_measured:
        back = f"back not measured ({back} counted where seen)"
    line = f"bytes pickled by multiprocessing: {to}, {back}"
    if figures.not_measured:
        line += "; " + "; ".join(figures.not_measured)
    return line


def summary_lines(figures: TreeFigures, measured_seconds: float) -> list[str]:
    """The tree's peak and the bytes pickled, with how they were read."""
    main = figures.main
    lines = [f"tree peak: {format_bytes(figures.peak_tree_bytes)} (summed PSS, sampled from "
             f"outside: {figures.samples} samples over {format_time(figures.seconds)}); main "
             f"process peak {_b(main.peak_rss_bytes) if main else '-'} (VmHWM, exact); "
             f"workers' peak private memory {format_bytes(figures.peak_workers_bytes)} "
             f"({len(figures.workers)} worker(s))",
             pickled_line(figures)]
    lines.append(f"measured run (untimed, probes on): {format_time(measured_seconds)}")
    return lines


def timing_line(seconds: Sequence[float], cpu: Sequence[float], pilot: int) -> str:
    """``time: median 1.02s of 5 bare runs (min 0.98s, max 1.10s); CPU of the tree 1.90s``."""
    if not seconds:
        return "time: no timed run"
    text = (f"time: median {format_time(statistics.median(seconds))} of {len(seconds)} bare "
            f"run(s) (min {format_time(min(seconds))}, max {format_time(max(seconds))})")
    if pilot:
        text += f" after {pilot} pilot run(s)"
    if cpu:
        text += f"; CPU of the tree {format_time(statistics.median(cpu))} (median)"
    return text


def plot(figures: TreeFigures, path: Path, title: str) -> Path:
    """Memory over time: the tree's summed PSS and one line per process (PNG)."""
    try:
        import matplotlib
    except ImportError:
        raise CommandError("the memory plot needs matplotlib (pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(9, 5))
    times = [t for t, _, _ in figures.timeline]
    ax.plot(times, [total for _, total, _ in figures.timeline], color="black", linewidth=2,
            label="tree (summed PSS)")
    labels = {p.pid: f"{p.label} {p.pid}" for p in figures.processes}
    for pid in sorted({int(pid) for _, _, each in figures.timeline for pid in each}):
        ys = [each.get(str(pid), each.get(pid, 0)) for _, _, each in figures.timeline]
        ax.plot(times, ys, linewidth=1, label=labels.get(pid, str(pid)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_bytes_tick(v)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_time_tick(v)))
    ax.set_xlabel("time since the command started")
    ax.set_ylabel("PSS")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

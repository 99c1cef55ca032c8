"""The commands of a saved run (``wcbench measure``): their lines in ``wcbench summary`` and
their section of the report, one table of figures and one of processes per command."""

from __future__ import annotations

from collections.abc import Sequence

from wcbench.record import MeasuredCommand
from wcbench.report.markdown import header_lines, table
from wcbench.results import SavedRun
from wcbench.units import format_bytes_spaced, format_ratio, format_time_spaced


def _bytes(n: int | None, reasons: Sequence[str] = ()) -> str:
    return "not measured" if n is None and reasons else format_bytes_spaced(n)


def summary_line(c: MeasuredCommand) -> str:
    """``measure[pq spawn]: median 603 ms (5 runs); tree peak 39.8 MiB, ...``."""
    state = f"FAILED ({c.failure}); " if c.failed else ""
    return (f"{c.name}: {state}median {format_time_spaced(c.median)} ({c.timed_runs} timed "
            f"runs); tree peak {format_bytes_spaced(c.peak_tree_bytes)}, main "
            f"{format_bytes_spaced(c.peak_parent_bytes)}, workers "
            f"{format_bytes_spaced(c.peak_workers_bytes)}; pickled "
            f"{_bytes(c.copied_bytes, c.not_measured)} to workers")


def _process_rows(c: MeasuredCommand) -> list[list[str]]:
    rows = []
    for p in c.processes:
        role = p["role"] + (f" ({p['start_method']})" if p.get("start_method") else "")
        rows.append([str(p["pid"]), str(p["ppid"]), role,
                     format_bytes_spaced(p.get("peak_pss_bytes")),
                     format_bytes_spaced(p.get("peak_rss_bytes")),
                     "–" if p.get("pickled_bytes") is None
                     else format_bytes_spaced(p["pickled_bytes"]),
                     "`" + " ".join(p.get("cmdline") or [])[:80].replace("|", "\\|") + "`"])
    return rows


def command_lines(run: SavedRun) -> list[str]:
    """The section of a run's measured commands."""
    if not run.commands:
        return []
    lines = ["## Commands measured (`wcbench measure`)", "",
             "Memory from one untimed run with probes on (the tree's PSS sampled from outside, "
             "each Python process's exact peak and pickled bytes from inside); time from bare "
             "runs.", ""]
    rows = [[f"`{c.name}`", "failed: " + str(c.failure) if c.failed else "ok",
             format_time_spaced(c.median), str(c.timed_runs),
             format_bytes_spaced(c.peak_tree_bytes), format_bytes_spaced(c.peak_parent_bytes),
             format_bytes_spaced(c.peak_workers_bytes), _bytes(c.copied_bytes, c.not_measured),
             format_bytes_spaced(c.returned_bytes)] for c in run.commands]
    lines += table(rows, ["command", "status", "median", "runs", "tree peak", "main peak",
                          "workers' peaks", "pickled to workers", "back"], {2, 3, 4, 5, 6, 7, 8})
    for c in run.commands:
        lines += ["", f"### `{c.name}`", ""]
        lines += [f"- not measured: {r}" for r in c.not_measured]
        lines += table(_process_rows(c), ["pid", "parent", "role", "peak PSS", "peak RSS",
                                          "pickled", "command line"], {0, 1, 3, 4, 5})
    return [*lines, ""]


def command_report(run: SavedRun) -> list[str]:
    """A report of a run that holds commands only."""
    return ["# wordcount-bench report: measured commands", "", *header_lines(run), "",
            *command_lines(run)]


def command_comparison(base: SavedRun, new: SavedRun) -> list[str]:
    """Commands in both runs, NEW against BASE."""
    old = {c.name: c for c in base.commands}
    rows = []
    for c in new.commands:
        b = old.get(c.name)
        if b is None:
            continue
        rows.append([f"`{c.name}`", format_ratio(c.median / b.median) if b.median else "n/a",
                     *(format_ratio(n / o) if o and n is not None else "n/a" for n, o in (
                         (c.peak_tree_bytes, b.peak_tree_bytes),
                         (c.peak_parent_bytes, b.peak_parent_bytes),
                         (c.copied_bytes, b.copied_bytes)))])
    if not rows:
        return []
    return ["## Commands: NEW against BASE", "",
            *table(rows, ["command", "median", "tree peak", "main peak", "pickled"],
                   {1, 2, 3, 4}), ""]

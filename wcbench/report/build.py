"""Turn saved benchmark runs into ``results/report.md`` with PNG plots beside it.

People would rather look at a report than read pytest-benchmark's JSON, so this reads the saved
runs (:mod:`wcbench.results`) and writes a Markdown page: a header saying where and on what the
run ran, sentences derived from the figures (never written by hand), one table per text size,
and plots. Given two runs it puts them side by side with ratios, for before/after a change or GIL
on vs free-threaded.

It reads saved JSON only, so a report can be built on a machine that never ran the suite. The
work is split by job: :mod:`wcbench.report.findings` (names, facts, sentences),
:mod:`wcbench.report.markdown` (one run's page), :mod:`wcbench.report.comparison` (BASE against
NEW), :mod:`wcbench.report.plots` (matplotlib, imported only when plotting); this module is the
command line, the only place that writes files and prints.

    wcbench report [--results results] [--base RUN] [--new RUN] [--output FILE]

``RUN`` is a saved file's path or its ``NNNN`` number. Without ``--new`` the latest saved run is
reported (latest as :mod:`wcbench.results` defines it); ``--base`` alone compares that run with
the latest.
"""

from __future__ import annotations

from pathlib import Path

from wcbench.ab.page import ab_report_lines
from wcbench.ab.result import find_ab, load_ab
from wcbench.report.commands import command_comparison, command_lines, command_report
from wcbench.report.comparison import comparison_lines
from wcbench.report.markdown import report_lines
from wcbench.report.plots import write_plots
from wcbench.report.scale import PLOT_NAME, plot_cost_vs_size, scale_section_lines
from wcbench.report.versions import across_lines
from wcbench.results import find_run, latest_run, load_run


class ReportError(Exception):
    """A run with nothing to report: the CLI prints it on one line and exits 2."""


def build(results: Path, output: Path, base: str | None = None, new: str | None = None) -> Path:
    """Write the report (and its plots) for the chosen runs; return the report's path."""
    new_run = (load_run(find_run(new, results)) if new is not None
               else latest_run(results, with_cases=True))
    if not new_run.cases and not new_run.commands:
        raise ReportError(f"{new_run.path} holds no matrix benchmark nor measured command "
                          "(extra_info kind 'wordcount' or 'command'): nothing to report")
    base_run = load_run(find_run(base, results)) if base is not None else None
    if not new_run.cases:  # commands only (wcbench measure)
        lines = command_report(new_run)
        if base_run is not None:
            lines += command_comparison(base_run, new_run)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("\n".join(lines).rstrip("\n") + "\n")
        return output
    plot_dir = output.parent / output.stem
    links = write_plots(new_run, plot_dir, f"{output.stem}/")
    (plot_dir / PLOT_NAME).unlink(missing_ok=True)
    scale_plot = f"{output.stem}/{PLOT_NAME}" \
        if plot_cost_vs_size(new_run, plot_dir / PLOT_NAME) else None
    if base_run is None:
        lines = report_lines(new_run, links) + scale_section_lines(new_run, scale_plot)
        lines += command_lines(new_run)
    else:
        lines = ["# wordcount-bench report: NEW against BASE", ""]
        lines += comparison_lines(base_run, new_run)
        lines += ["# NEW in detail", "", *report_lines(new_run, links, title=False)]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines).rstrip("\n") + "\n")
    return output


def build_across(results: Path, output: Path, specs: list[str], size: str) -> Path:
    """Write one page of several runs side by side (``wcbench.report.versions``)."""
    runs = [load_run(find_run(spec, results)) for spec in specs]
    empty = [str(run.path) for run in runs if not run.cases]
    if empty:
        raise ReportError(f"no matrix benchmark in {', '.join(empty)}: nothing to compare")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(across_lines(runs, size)).rstrip("\n") + "\n")
    return output


def build_ab(results: Path, output: Path, spec: str) -> Path:
    """Write the page of a saved A/B comparison (``spec``: a file or ``latest``)."""
    path = find_ab(spec, results)
    lines = ab_report_lines(load_ab(path), str(path))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n")
    return output


"""The Markdown of one run's report: header table, findings, one table per text size, skips.

Formatting only: the figures come from :mod:`wcbench.results`, the sentences from
:mod:`wcbench.report.findings`; functions return lines, and only :mod:`wcbench.report.build`
writes them.
"""

from __future__ import annotations

import re

from wcbench.limits import BEYOND, MemoryRead, reads_at, thread_labelled
from wcbench.record import MeasuredCase, SkippedCase
from wcbench.report.findings import (
    baseline,
    findings,
    is_refused,
    run_facts,
    section_slug,
    section_title,
)
from wcbench.results import SavedRun
from wcbench.units import (
    format_bytes_spaced,
    format_mbps,
    format_percent,
    format_ratio,
    format_size,
    format_time_spaced,
)


def table(value_rows: list[list[str]], header: list[str], right: set[int]) -> list[str]:
    """A Markdown table; columns whose index is in ``right`` are right-aligned (figures)."""
    align = ["---:" if i in right else "---" for i in range(len(header))]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |",
            *("| " + " | ".join(row) + " |" for row in value_rows)]


def header_lines(run: SavedRun) -> list[str]:
    """A table of where, on what and when the run ran."""
    facts = run_facts(run)
    return table([[k, v] for k, v in facts.items()], ["", "run"], set())


def section_lines(run: SavedRun, size: int, corpus: str, plot: str | None) -> list[str]:
    """One size: the memory-read limit, the table of every case, skipped cases and the plot."""
    cases = run.at(size, corpus)
    base = baseline(cases)
    lines = [f"## {section_title(size, corpus)}", "",
             *_limit_lines(reads_at(run.memory_read, size))]
    # An old run's one figure (numpy's one-thread sum) matches only one-worker cases: no column.
    column = thread_labelled(run.memory_read)
    rows = []
    for c in cases:
        tree = c.peak_tree_bytes
        rows.append([
            c.kernel, c.executor, c.start_method or "–", str(c.workers),
            format_time_spaced(c.median), format_mbps(c.throughput),
            format_ratio(base.median / c.median) if base else "n/a", format_bytes_spaced(tree),
            format_ratio(tree / size) if tree is not None and size else "n/a",
            format_bytes_spaced(c.copied_bytes),
            *([_percent_cell(run, c)] if column else []),
        ])
    lines += table(rows, ["kernel", "executor", "start method", "workers", "median time",
                          "MB/s", "vs serial split", "peak tree memory", "× text", "copied",
                          *(["% of limit"] if column else [])],
                   {3, 4, 5, 6, 7, 8, 9, 10})
    if column and any(row[-1].endswith("*") for row in rows):
        lines += ["", f"\\* above {BEYOND:.0%} of its read: beyond the read, noise to look at "
                  "(the read or the case disturbed), not a result."]
    skipped = [s for s in run.skipped if _names_size(s, size)]
    for heading, group in (("Skipped (would not fit in memory):",
                            [s for s in skipped if not is_refused(s)]),
                           ("Refused by the executor:", [s for s in skipped if is_refused(s)])):
        if group:
            lines += ["", heading, ""] + [f"- `{s.name}`: {s.reason}" for s in group]
    if plot:
        lines += ["", f"![time against worker count at {format_size(size)}]({plot})"]
    return [*lines, ""]


def _limit_lines(reads: list[MemoryRead]) -> list[str]:
    """The reads of one size: what each case's "% of limit" is against."""
    if not reads:
        return []
    if all(r.legacy for r in reads):  # an old run: one figure, numpy's one-thread sum
        (read,) = reads
        return [f"Memory-read limit (numpy summing the same bytes as uint64): "
                f"{format_time_spaced(read.seconds)}, {format_mbps(read.throughput)} MB/s.", ""]
    figures = "; ".join(f"{r.label}: {format_time_spaced(r.seconds)}, "
                        f"{format_mbps(r.throughput)} MB/s" for r in reads)
    return [f"Limits, reading the same bytes once (median; a case with N workers, threads or "
            f"processes, is against the N-thread read): {figures}.", ""]


def _percent_cell(run: SavedRun, case: MeasuredCase) -> str:
    """The case's "% of limit" cell: against the read of its worker count, ``*`` past 105%."""
    found = run.read_match(case)
    if found is None:
        return "n/a"
    return format_percent(found.fraction) + ("*" if found.beyond else "")


def _names_size(skip: SkippedCase, size: int) -> bool:
    """Whether a skipped case's name spells this size (``1MiB`` but not inside ``11MiB``)."""
    pattern = rf"(?<![\d.]){re.escape(format_size(size))}(?![A-Za-z])"
    return re.search(pattern, str(skip.name or "")) is not None


def _unplaced_skips(run: SavedRun) -> list[SkippedCase]:
    """Skipped cases whose name names no size of a section (they are listed on their own)."""
    return [s for s in run.skipped if not any(_names_size(s, z) for z, _ in run.sections)]


def report_lines(run: SavedRun, plots: dict[str, str], title: bool = True) -> list[str]:
    """The whole report of one run; ``plots`` maps plot keys to paths relative to the report."""
    lines = ["# wordcount-bench report", ""] if title else []
    lines += ["Generated by `make report` from the saved run below; every sentence and figure "
              "is computed from it. Times are medians; MB/s is text bytes (10^6) per second; "
              "speed-ups are against serial `split` (`len(text.split())`) at the same size; "
              "peak tree memory counts the parent and its workers together, as the growth of "
              "resident memory during the call (`wcbench/memory.py`): memory the process already "
              "held, freed by an earlier call and reused, does not count, so small in-process "
              "cases can show 0 B.", ""]
    lines += [*header_lines(run), "", "## Findings", ""]
    lines += [f"- {s}" for s in findings(run)] + [""]
    for key, alt in (("throughput", "throughput of each strategy beside the memory-read limit"),
                     ("memory", "peak tree memory against text size")):
        if key in plots:
            lines += [f"![{alt}]({plots[key]})", ""]
    corpora = len({c for _, c in run.sections})
    for size, corpus in run.sections:
        lines += section_lines(run, size, corpus,
                               plots.get("time-" + section_slug(size, corpus, corpora)))
    stray = _unplaced_skips(run)
    if stray:
        lines += ["## Skipped cases", ""] + [f"- `{s.name}`: {s.reason}"
                                             for s in stray] + [""]
    return lines

"""A saved ``make ab`` comparison (``results/ab/*.json``) as a Markdown page.

``wcbench report --ab FILE`` (``make report AB=FILE``, or ``AB=latest``) writes it;
this module reads the typed result (:mod:`wcbench.ab.result`) and returns lines, the report's
CLI writes the file.
"""

from __future__ import annotations

from wcbench import record
from wcbench.ab.result import AbResult, format_interval
from wcbench.ab.text import describe_side
from wcbench.units import format_bytes, format_time

_FIGURES = {record.COPIED_BYTES: "copied", record.PEAK_WORKERS_BYTES: "workers' own peaks",
            record.PEAK_PARENT_BYTES: "parent's peak"}


def _how(result: AbResult) -> str:
    """How the rounds were run and the ratio judged, as the result's own rounds show."""
    return ("- Rounds alternate BASE and NEW (A B B A)"
            + (", both halves of a round starting on the same CPU" if result.pinned else "")
            + (", in blocks of rounds each run by fresh processes; the ratio is the median "
               "over those processes of their ratio of median times, its interval (95%) a "
               "bootstrap over the processes (the two medians shown, over all rounds, are for "
               "scale: when processes ran in different regimes their quotient differs); "
               if result.in_instances
               else "; the interval is a paired bootstrap (95%) of the ratio of median times; ")
            + f"budget {result.settings.budget_seconds:g} s of timing.")


def _memory_rows(result: AbResult) -> list[str]:
    lines = []
    for c in result.cases:
        figures = c.memory.figures if c.memory is not None else {}
        cells = []
        for key in _FIGURES:
            f = figures.get(key)
            text = f"{format_bytes(f.base)} → {format_bytes(f.new)}" if f else "–"
            text += "" if not f or f.is_exact else " ~"
            cells.append(f"**{text}**" if f and f.grew else text)
        lines.append(f"| {c.name} | " + " | ".join(cells) + " |")
    return lines


def ab_report_lines(result: AbResult, source: str) -> list[str]:
    """The page: sides, how it was measured, one time row and one memory row per case."""
    m = result.machine
    status = "**regression**" if result.regression else "no regression"
    stop = result.incomplete
    lines = ["# A/B comparison: NEW against BASE", "",
             f"From `{source}`, measured {result.created} in "
             f"{format_time(result.duration_seconds)}: {status}.", "",
             *([f"**Incomplete**: stopped by {stop.reason} while {stop.running} ran; the "
                f"{len(result.cases)} finished case(s) below were saved.", ""] if stop else []),
             f"- {describe_side('BASE', result.sides.base)}",
             f"- {describe_side('NEW', result.sides.new)}",
             f"- {m.cpu_count} CPUs, load average {m.loadavg_before[0]:.1f} at the start "
             f"and {m.loadavg_after[0]:.1f} at the end",
             _how(result), "",
             "| case | kind | rounds | BASE median | NEW median | NEW/BASE [95% interval] | "
             "verdict |", "|---|---|---:|---:|---:|---|---|"]
    for c in result.cases:
        times = [format_time(c.median[k]) if c.median else "–" for k in ("base", "new")]
        lines.append(f"| {c.name} | {c.kind} | {len(c.rounds)} | {times[0]} "
                     f"| {times[1]} | {format_interval(c.interval, '–')} | {c.verdict} "
                     f"(±{c.threshold:.0%}) |")
    lines += ["", f"Memory, median of {result.settings.memory_calls} untimed calls a side "
              "(**bold**: grew past its limit; ~: not exact, shaped by scheduling, judged at "
              "the wide tolerance):", "",
              "| case | " + " | ".join(_FIGURES.values()) + " |",
              "|---|" + "---|" * len(_FIGURES)]
    return lines + _memory_rows(result)

"""A saved ``make ab`` comparison (``results/ab/*.json``) as a Markdown page.

``wcbench report --ab FILE`` (``make report AB=FILE``, or ``AB=latest``) writes it;
this module reads the typed result (:mod:`wcbench.ab.result`) and returns lines, the report's
CLI writes the file.
"""

from __future__ import annotations

from wcbench import record
from wcbench.ab.result import INSTRUCTIONS, TIME, AbResult, format_interval
from wcbench.ab.text import describe_side
from wcbench.units import format_bytes, format_change, format_count, format_time

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


def _counted(result: AbResult) -> str:
    """How the instructions were counted, as the saved settings say."""
    how = result.settings.instructions or {}
    cpu = (how.get("simulated_cpu") or {}).get("new") or {}
    return ("- Instructions: each side's process ran under callgrind "
            f"({how.get('version', 'valgrind')}), counting only the measured calls: "
            f"{how.get('calls', '?')} a side after {how.get('warmup_calls', '?')} uncounted "
            "warm-up calls, both sides at once (counts do not depend on the load); the ratio is "
            "that of the median counts, the range that of NEW/BASE over every pair of calls; "
            "valgrind's simulated CPU offers "
            + (", ".join(cpu.get("cpu_features") or ()) or "?") + " (no AVX-512).")


def _instruction_rows(result: AbResult, timed: bool) -> list[str]:
    lines = ["| case | kind | calls | BASE instructions | NEW instructions | change | "
             "NEW/BASE [range] | verdict |" + (" time NEW/BASE [95%] | time verdict |"
                                              if timed else ""),
             "|---|---|---:|---:|---:|---:|---|---|" + ("---|---|" if timed else "")]
    for c in result.cases:
        n = c.instructions
        if n is None:
            continue
        lines.append(f"| {c.name} | {c.kind} | {len(n.calls.new)} | "
                     f"{format_count(n.median.base)} | {format_count(n.median.new)} | "
                     f"{format_change(n.interval.ratio)} | "
                     f"{format_interval(n.interval, '–', 4)} | {n.verdict} "
                     f"(±{n.threshold * 100:g}%) |"
                     + (f" {format_interval(c.interval, '–')} | {c.verdict} |" if timed else ""))
    return lines


def ab_report_lines(result: AbResult, source: str) -> list[str]:
    """The page: sides, how it was measured, one time row and one memory row per case, and
    one instructions row per case counted (with the time ratio beside it where both exist)."""
    m = result.machine
    measured = result.settings.measured
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
             *([_how(result)] if TIME in measured else []),
             *([_counted(result)] if INSTRUCTIONS in measured else []), ""]
    if TIME in measured:
        lines += ["| case | kind | rounds | BASE median | NEW median | NEW/BASE [95% interval] "
                  "| verdict |", "|---|---|---:|---:|---:|---|---|"]
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
        lines += _memory_rows(result)
    if INSTRUCTIONS in measured:
        lines += [*([""] if TIME in measured else []), "Instructions" + (
            ", with the time ratio of the same case beside them" if TIME in measured else "")
            + ":", "", *_instruction_rows(result, TIME in measured)]
    if result.refused and INSTRUCTIONS in measured:
        lines += ["", "Not counted or not run:", "",
                  *[f"- {r.name}: {r.reason}" for r in result.refused]]
    return lines

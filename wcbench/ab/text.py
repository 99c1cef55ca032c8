"""A saved A/B comparison (:class:`wcbench.ab.result.AbResult`) as text: sides, a table per
case, one summary.

Reads the typed result only, so ``make ab`` prints it and a report can render a saved one.
"""

from __future__ import annotations

from wcbench import record
from wcbench.ab.result import (
    INSTRUCTIONS,
    TIME,
    WRONG_COUNT,
    AbResult,
    CaseResult,
    Settings,
    Side,
    format_interval,
)
from wcbench.units import format_bytes, format_change, format_count, format_time

_MEMORY_SHORT = {record.COPIED_BYTES: "copied", record.PEAK_WORKERS_BYTES: "workers' peaks",
                 record.PEAK_PARENT_BYTES: "parent's peak"}


def describe_side(label: str, side: Side) -> str:
    """``BASE: HEAD (6ad25ae1c2) on CPython 3.11.7, GIL on, /path/python``."""
    gil = "GIL on" if side.gil_enabled else "GIL off"
    what = side.describe if side.describe is not None else side.rev
    return (f"{label}: {what} on {_or(side.implementation, 'Python')} {_or(side.python, '?')}, "
            f"{gil}, {_or(side.executable, '?')}")


def _or(value: str | None, default: str) -> str:
    return default if value is None else value


def time_table(cases: tuple[CaseResult, ...]) -> list[str]:
    """One line per case: rounds, both medians, the ratio with its interval, the verdict."""
    head = ("case", "kind", "rounds", "BASE", "NEW", "NEW/BASE [95% CI]", "verdict")
    rows = [head]
    for c in cases:
        rows.append((c.name, c.kind, str(len(c.rounds)),
                     format_time(c.median.base) if c.median else "-",
                     format_time(c.median.new) if c.median else "-",
                     format_interval(c.interval, "-"), f"{c.verdict} (+-{c.threshold:.0%})"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def instructions_table(cases: tuple[CaseResult, ...], timed: bool) -> list[str]:
    """One line per case counted: calls a side, both median counts, the change, the ratio with
    its range over every pair of calls, the verdict (``timed``: the time ratio beside it)."""
    head = ("case", "kind", "calls", "BASE", "NEW", "change", "NEW/BASE [range]", "verdict",
            *(("time NEW/BASE",) if timed else ()))
    rows = [head]
    for c in cases:
        n = c.instructions
        if n is None:
            continue
        rows.append((c.name, c.kind, str(len(n.calls.new)), format_count(n.median.base),
                     format_count(n.median.new), format_change(n.interval.ratio),
                     format_interval(n.interval, "-", 4),
                     f"{n.verdict} (+-{n.threshold * 100:g}%)",
                     *((format_interval(c.interval, "-"),) if timed else ())))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def how_counted(settings: Settings) -> str:
    """How the instructions were counted, from the saved settings."""
    how = settings.instructions or {}
    cpu = (how.get("simulated_cpu") or {}).get("new") or {}
    features = ", ".join(cpu.get("cpu_features") or ()) or "?"
    return (f"instructions: counted by callgrind ({how.get('version', 'valgrind')}) around each "
            f"measured call alone, {how.get('calls', '?')} calls a side after "
            f"{how.get('warmup_calls', '?')} uncounted ones, both sides at once; simulated CPU: "
            f"{features}; NEW/BASE: ratio of median counts [its range over every pair of calls]")


def memory_table(cases: tuple[CaseResult, ...]) -> list[str]:
    """One line per case: each memory figure BASE -> NEW, '!' where it grew past its limit."""
    lines = []
    width = max((len(c.name) for c in cases), default=0)
    for c in cases:
        figures = c.memory.figures if c.memory is not None else {}
        if not figures:
            lines.append(f"{c.name:<{width}}  no memory figures (a side lacks count_report)")
            continue
        parts = [f"{_MEMORY_SHORT[k]}{'' if f.is_exact else '~'} "
                 f"{format_bytes(f.base)}->{format_bytes(f.new)}"
                 + (" !" if f.grew else "") for k, f in figures.items()]
        lines.append(f"{c.name:<{width}}  " + "  ".join(parts))
    return lines


def summary_line(result: AbResult, saved: str | None = None) -> str:
    """``ab: 1 slower, 4 same of 5 case(s); memory: no growth; 2m31s; saved ...``."""
    cases = result.cases
    measured = result.settings.measured
    verdicts = _verdicts([c.verdict for c in cases if c.timed or TIME not in measured
                          or c.verdict == WRONG_COUNT])
    if INSTRUCTIONS in measured and TIME in measured:
        verdicts = (f"time {verdicts}; instructions "
                    + _verdicts([c.instructions.verdict for c in cases if c.instructions]))
    elif INSTRUCTIONS in measured:
        verdicts = f"instructions {verdicts}"
    grew = [f"{c.name} {_MEMORY_SHORT[k]}" for c in cases for k in c.memory_grew]
    memory = f"memory grew: {', '.join(grew)}" if grew else "memory: no growth past its limits"
    if TIME not in measured:
        memory = "memory: not measured"
    slower = [c.name for c in cases if c.verdict in ("slower", WRONG_COUNT)
              or (c.instructions and c.instructions.verdict == "slower")]
    status = "REGRESSION" if result.regression else "no regression"
    line = (f"ab: {status}: {verdicts} of {len(cases)} case(s)"
            + (f" ({', '.join(slower)})" if slower else "")
            + f"; {memory}; {format_time(result.duration_seconds)}")
    if saved:
        line += f"; saved {saved}"
    return line


def _verdicts(verdicts: list[str]) -> str:
    """``1 slower, 4 same``."""
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v] = counts.get(v, 0) + 1
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "none"


def format_result(result: AbResult, saved: str | None = None) -> list[str]:
    """Sides, the time table, the memory table, the instructions table (each where measured)
    and the summary line (``saved``: where the result was saved, named in it)."""
    m = result.machine
    measured = result.settings.measured
    load = "/".join(f"{x:.1f}" for x in (m.loadavg_before[0], m.loadavg_after[0]))
    lines = [describe_side("BASE", result.sides.base),
             describe_side("NEW ", result.sides.new),
             f"{m.cpu_count} CPUs, load average {load} (start/end)"
             + ("; rounds alternate BASE/NEW (A B B A) from one CPU, in blocks of fresh "
                "processes; ratio: median over those processes of their ratio of medians (not "
                "the quotient of the two medians shown, which are over all rounds), interval: "
                "bootstrap over processes" if TIME in measured else ""), ""]
    if TIME in measured:
        lines += time_table(result.cases)
        lines += ["", f"memory (median of {result.settings.memory_calls} untimed calls a side; "
                  "'!' grew past its limit; '~' not exact, judged at the wide tolerance):"]
        lines += memory_table(result.cases)
        lines.append("")
    if INSTRUCTIONS in measured:
        lines += [how_counted(result.settings), *instructions_table(
            result.cases, TIME in measured)]
        wrong = [c for c in result.cases if c.verdict == WRONG_COUNT]
        lines += [f"{c.name}: wrong count {c.counts_differ.base} -> {c.counts_differ.new}"
                  for c in wrong if c.counts_differ and TIME not in measured]
        lines.append("")
    lines += [summary_line(result, saved)]
    lines += [f"refused: {r.name}: {r.reason}" for r in result.refused]
    if result.incomplete:
        stop = result.incomplete
        lines.append(f"incomplete: stopped by {stop.reason} while {stop.running} ran; "
                     f"{stop.finished} finished case(s) saved")
    return lines

"""A saved A/B comparison (``wcbench.ab``'s JSON) as text: sides, a table per case, one summary.

Reads the result dict only, so ``make ab`` prints it and a report can render a saved one.
"""

from __future__ import annotations

from wcbench.units import format_bytes, format_time

_MEMORY_SHORT = {"copied_bytes": "copied", "peak_workers_bytes": "workers' peaks",
                 "peak_parent_bytes": "parent's peak"}


def describe_side(label: str, side: dict) -> str:
    """``BASE: HEAD (6ad25ae1c2) on CPython 3.11.7, GIL on, /path/python``."""
    gil = "GIL on" if side.get("gil_enabled", True) else "GIL off"
    return (f"{label}: {side.get('describe', side.get('rev'))} on "
            f"{side.get('implementation', 'Python')} {side.get('python', '?')}, {gil}, "
            f"{side.get('executable', '?')}")


def _interval(case: dict) -> str:
    i = case.get("interval")
    if not i:
        return "-"
    return f"{i['ratio']:.3f} [{i['low']:.3f}-{i['high']:.3f}]"


def time_table(cases: list[dict]) -> list[str]:
    """One line per case: rounds, both medians, the ratio with its interval, the verdict."""
    head = ("case", "kind", "rounds", "BASE", "NEW", "NEW/BASE [95% CI]", "verdict")
    rows = [head]
    for c in cases:
        median = c.get("median") or {}
        rows.append((c["name"], c["kind"], str(len(c.get("rounds", []))),
                     format_time(median["base"]) if median else "-",
                     format_time(median["new"]) if median else "-",
                     _interval(c), f"{c['verdict']} (+-{c['threshold']:.0%})"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def memory_table(cases: list[dict]) -> list[str]:
    """One line per case: each memory figure BASE -> NEW, '!' where it grew past its limit."""
    lines = []
    width = max((len(c["name"]) for c in cases), default=0)
    for c in cases:
        figures = (c.get("memory") or {}).get("figures")
        if not figures:
            lines.append(f"{c['name']:<{width}}  no memory figures (a side lacks count_report)")
            continue
        parts = [f"{_MEMORY_SHORT[k]}{'' if f.get('exact', True) else '~'} "
                 f"{format_bytes(f['base'])}->{format_bytes(f['new'])}"
                 + (" !" if f["grew"] else "") for k, f in figures.items()]
        lines.append(f"{c['name']:<{width}}  " + "  ".join(parts))
    return lines


def summary_line(result: dict) -> str:
    """``ab: 1 slower, 4 same of 5 case(s); memory: no growth; 2m31s; saved ...``."""
    cases = result["cases"]
    counts: dict[str, int] = {}
    for c in cases:
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    verdicts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    grew = [f"{c['name']} {_MEMORY_SHORT[k]}" for c in cases for k in c.get("memory_grew", [])]
    memory = f"memory grew: {', '.join(grew)}" if grew else "memory: no growth past its limits"
    slower = [c["name"] for c in cases if c["verdict"] in ("slower", "wrong count")]
    status = "REGRESSION" if result["regression"] else "no regression"
    line = (f"ab: {status}: {verdicts} of {len(cases)} case(s)"
            + (f" ({', '.join(slower)})" if slower else "")
            + f"; {memory}; {format_time(result['duration_seconds'])}")
    if result.get("saved"):
        line += f"; saved {result['saved']}"
    return line


def format_result(result: dict) -> list[str]:
    """Sides, the time table, the memory table and the summary line."""
    m = result["machine"]
    load = "/".join(f"{x:.1f}" for x in (m["loadavg_before"][0], m["loadavg_after"][0]))
    lines = [describe_side("BASE", result["sides"]["base"]),
             describe_side("NEW ", result["sides"]["new"]),
             f"{m['cpu_count']} CPUs, load average {load} (start/end); rounds alternate "
             "BASE/NEW (A B B A) from one CPU, in blocks of fresh processes; ratio: median over "
             "those processes of their ratio of medians (not the quotient of the two medians "
             "shown, which are over all rounds), interval: bootstrap over processes", ""]
    lines += time_table(result["cases"])
    lines += ["", f"memory (median of {result['settings']['memory_calls']} untimed calls a side; "
              "'!' grew past its limit; '~' not exact, judged at the wide tolerance):"]
    lines += memory_table(result["cases"])
    lines += ["", summary_line(result)]
    lines += [f"refused: {r['name']}: {r['reason']}" for r in result.get("refused", ())]
    if result.get("incomplete"):
        stop = result["incomplete"]
        lines.append(f"incomplete: stopped by {stop['reason']} while {stop['running']} ran; "
                     f"{stop['finished']} finished case(s) saved")
    return lines

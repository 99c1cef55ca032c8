"""A saved ``make ab`` comparison (``results/ab/*.json``) as a Markdown page.

``wcbench report --ab FILE`` (``make report AB=FILE``, or ``AB=latest``) writes it;
this module reads the JSON and returns lines, the report's CLI writes the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from wcbench.ab.text import describe_side
from wcbench.units import format_bytes, format_time

#: What ``wcbench.ab`` writes in ``format``, and the versions of it this module reads.
FORMAT, VERSIONS = "wcbench-ab", (1, 2)

_FIGURES = {"copied_bytes": "copied", "peak_workers_bytes": "workers' own peaks",
            "peak_parent_bytes": "parent's peak"}


class SavedAbError(Exception):
    """A file that is not a saved A/B comparison (the CLI prints it on one line, exit 2)."""


def find_ab(spec: str, results: Path) -> Path:
    """``spec`` as a path, or ``latest``: the newest ``results/ab/*.json``."""
    if spec != "latest":
        return Path(spec)
    saved = sorted((results / "ab").glob("*.json"))
    if not saved:
        raise SavedAbError(f"no saved A/B comparison in {results / 'ab'}: run `make ab` first")
    return saved[-1]  # names start with the UTC time of the run


def load_ab(path: Path) -> dict:
    """The saved comparison; ``SavedAbError`` when it is missing or not one."""
    try:
        result = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SavedAbError(f"no saved A/B comparison at {path}") from None
    except (OSError, ValueError) as exc:
        raise SavedAbError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(result, dict) or result.get("format") != FORMAT \
            or result.get("version") not in VERSIONS:
        raise SavedAbError(f"{path} is not a saved A/B comparison (format {FORMAT}, version "
                           f"{', '.join(map(str, VERSIONS))})")
    return result


def _interval(case: dict) -> str:
    i = case.get("interval")
    return f"{i['ratio']:.3f} [{i['low']:.3f}–{i['high']:.3f}]" if i else "–"


def ab_report_lines(result: dict, source: str) -> list[str]:
    """The page: sides, how it was measured, one time row and one memory row per case."""
    m, s = result["machine"], result["settings"]
    status = "**regression**" if result["regression"] else "no regression"
    pinned = any("cpu" in r for c in result["cases"] for r in c.get("rounds", []))
    lines = ["# A/B comparison: NEW against BASE", "",
             f"From `{source}`, measured {result['created']} in "
             f"{format_time(result['duration_seconds'])}: {status}.", "",
             *([f"**Incomplete**: stopped by {result['incomplete']['reason']} while "
                f"{result['incomplete']['running']} ran; the {len(result['cases'])} finished "
                "case(s) below were saved.", ""] if result.get("incomplete") else []),
             f"- {describe_side('BASE', result['sides']['base'])}",
             f"- {describe_side('NEW', result['sides']['new'])}",
             f"- {m['cpu_count']} CPUs, load average {m['loadavg_before'][0]:.1f} at the start "
             f"and {m['loadavg_after'][0]:.1f} at the end",
             "- Rounds alternate BASE and NEW (A B B A)"
             + (", both halves of a round starting on the same CPU" if pinned else "")
             + (", in blocks of rounds each run by fresh processes; the ratio is the median "
                "over those processes of their ratio of median times, its interval (95%) a "
                "bootstrap over the processes (the two medians shown, over all rounds, are for "
                "scale: when processes ran in different regimes their quotient differs); "
                if any("instance" in r for c in result["cases"] for r in c.get("rounds", []))
                else "; the interval is a paired bootstrap (95%) of the ratio of median times; ")
             + f"budget {s['budget_seconds']:g} s of timing.", "",
             "| case | kind | rounds | BASE median | NEW median | NEW/BASE [95% interval] | "
             "verdict |", "|---|---|---:|---:|---:|---|---|"]
    for c in result["cases"]:
        med = c.get("median") or {}
        times = [format_time(med[k]) if med else "–" for k in ("base", "new")]
        lines.append(f"| {c['name']} | {c['kind']} | {len(c.get('rounds', []))} | {times[0]} "
                     f"| {times[1]} | {_interval(c)} | {c['verdict']} (±{c['threshold']:.0%}) |")
    lines += ["", f"Memory, median of {s['memory_calls']} untimed calls a side (**bold**: grew "
              "past its limit; ~: not exact, shaped by scheduling, judged at the wide "
              "tolerance):", "",
              "| case | " + " | ".join(_FIGURES.values()) + " |",
              "|---|" + "---|" * len(_FIGURES)]
    for c in result["cases"]:
        figures = (c.get("memory") or {}).get("figures") or {}
        cells = []
        for key in _FIGURES:
            f = figures.get(key)
            text = f"{format_bytes(f['base'])} → {format_bytes(f['new'])}" if f else "–"
            text += "" if not f or f.get("exact", True) else " ~"
            cells.append(f"**{text}**" if f and f["grew"] else text)
        lines.append(f"| {c['name']} | " + " | ".join(cells) + " |")
    return lines

"""A saved run or a saved A/B comparison in the formats dashboards read: BMF, and the custom JSON
of github-action-benchmark.

Their own pytest adapters keep time only (github-action-benchmark's ``tool: pytest`` reads
``stats.ops``; Bencher's reads timings): every memory figure is dropped. Both also take a custom
format with any measure, so this module writes time and memory in those:

- Bencher Metric Format (``bencher run --adapter json``): ``{benchmark: {measure: {"value": v,
  "lower_value": lo, "upper_value": hi}}}``, bounds optional. Measures are slugs (at most 64
  characters, Bencher's limit) that carry their unit, since a measure Bencher creates from a
  name has none: ``latency`` (Bencher's built-in measure, nanoseconds), ``peak-parent-bytes``,
  ``peak-workers-bytes``, ``peak-tree-bytes``, ``copied-bytes``, ``instructions`` (a case's
  count, callgrind's, where it was counted: ``wcbench ab --measure instructions``, ``pytest
  bench/bench_wordcount.py --instructions``), and for an A/B ``time-ratio`` and
  ``instructions-ratio`` (NEW / BASE).
- github-action-benchmark ``tool: customSmallerIsBetter``: a non-empty list of ``{"name",
  "unit", "value", "range"?, "extra"?}``, ``range`` and ``extra`` strings; every figure here is
  smaller-is-better. Time in ``ns`` (a unit the action converts between runs).

A saved run gives each benchmark's median with its 95% interval (the notch ``wcbench compare``
uses), its memory figures and its instructions where counted (the median of its counted calls,
their range as bounds); an A/B gives each case's ratio of medians with its bootstrap interval,
NEW's median and NEW's memory figures (BASE's beside them in ``extra``), and where instructions
were counted NEW's median count (its calls' range as bounds) and the ratio of counts with its
range over every pair of calls, beside the time figures where both exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wcbench import record
from wcbench.ab.result import AbResult
from wcbench.compare.rules import SHORT
from wcbench.compare.runs import median_interval
from wcbench.record import MEMORY_KEYS
from wcbench.results import SavedRun
from wcbench.units import format_count, format_time

FORMATS = ("bmf", "github-action-benchmark")
NS = 1e9
#: ``extra_info`` key -> BMF measure slug (the unit in the name).
MEASURES = {key: key.replace("_", "-") for key in MEMORY_KEYS}
LATENCY, RATIO = "latency", "time-ratio"
INSTRUCTIONS, INSTRUCTIONS_RATIO = "instructions", "instructions-ratio"
#: What the bounds of instruction figures are: the whole range over the calls counted.
CALLS_RANGE = "range of the calls"
_LABELS = {LATENCY: "median", RATIO: "time ratio NEW/BASE", INSTRUCTIONS: "instructions",
           INSTRUCTIONS_RATIO: "instructions ratio NEW/BASE"}


@dataclass(frozen=True)
class Metric:
    """One figure of one benchmark, in a unit either format can carry."""

    benchmark: str
    measure: str
    unit: str
    value: float
    lower: float | None = None
    upper: float | None = None
    extra: str | None = None
    #: What the bounds are: a 95% interval, or the whole range of the counted calls.
    bounds: str = "95%"



def from_run(run: SavedRun) -> list[Metric]:
    """Every benchmark's median (ns, with its interval) and its memory figures (bytes)."""
    metrics = []
    for bench in run.benchmarks:
        lo, hi = median_interval(bench.stats)
        rounds = bench.stats.rounds
        metrics.append(Metric(bench.name, LATENCY, "ns", bench.median * NS, lo * NS, hi * NS,
                              f"median of {rounds} rounds; 95% interval from the quartiles"
                              if rounds else None))
        for key in MEMORY_KEYS:
            if bench.extra_info.get(key) is not None:
                metrics.append(Metric(bench.name, MEASURES[key], "bytes",
                                      int(bench.extra_info[key])))
        calls = record.instruction_calls(bench.extra_info)
        if calls:
            metrics.append(Metric(bench.name, INSTRUCTIONS, "instructions",
                                  int(bench.extra_info[record.INSTRUCTIONS]), min(calls),
                                  max(calls), f"median of {len(calls)} calls under callgrind",
                                  bounds=CALLS_RANGE))
    return metrics


def from_ab(result: AbResult) -> list[Metric]:
    """Every case's NEW/BASE ratio with its interval, NEW's median and NEW's memory figures."""
    metrics = []
    for case in result.cases:
        name, interval = case.name, case.interval
        if interval:
            metrics.append(Metric(name, RATIO, "x", interval.ratio, interval.low,
                                  interval.high, f"{case.verdict} at "
                                  f"+-{case.threshold:.0%}, {interval.rounds} rounds"))
        if case.median:
            metrics.append(Metric(name, LATENCY, "ns", case.median.new * NS,
                                  extra=f"BASE {format_time(case.median.base)}"))
        for key, fig in (case.memory.figures if case.memory else {}).items():
            metrics.append(Metric(name, MEASURES[key], "bytes", round(fig.new),
                                  extra=f"BASE {fig.base:.0f} bytes"
                                        + ("; grew past its limit" if fig.grew else "")))
        counted = case.instructions
        if counted:
            ratio, calls = counted.interval, len(counted.calls.new)
            metrics.append(Metric(name, INSTRUCTIONS_RATIO, "x", ratio.ratio, ratio.low,
                                  ratio.high, f"{counted.verdict} at +-{counted.threshold:.1%}, "
                                  f"range over every pair of {calls} calls a side",
                                  bounds=CALLS_RANGE))
            metrics.append(Metric(name, INSTRUCTIONS, "instructions", counted.median.new,
                                  min(counted.calls.new), max(counted.calls.new),
                                  f"BASE {format_count(counted.median.base)}", bounds=CALLS_RANGE))
    return metrics


def to_bmf(metrics: list[Metric]) -> dict[str, dict[str, dict[str, float]]]:
    """``{benchmark: {measure: {value, lower_value?, upper_value?}}}``."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for m in metrics:
        entry = {"value": m.value}
        if m.lower is not None and m.upper is not None:
            entry.update(lower_value=m.lower, upper_value=m.upper)
        out.setdefault(m.benchmark, {})[m.measure] = entry
    return out


def _label(measure: str) -> str:
    return _LABELS.get(measure) or SHORT[measure.replace("-", "_")]


def to_github_action(metrics: list[Metric]) -> list[dict[str, Any]]:
    """``[{name, unit, value, range?, extra?}]`` for ``tool: customSmallerIsBetter``."""
    out = []
    for m in metrics:
        entry: dict[str, Any] = {"name": f"{m.benchmark} - {_label(m.measure)}", "unit": m.unit,
                                 "value": m.value}
        if m.lower is not None and m.upper is not None:
            entry["range"] = f"{m.lower:.6g} to {m.upper:.6g} ({m.bounds})"
        if m.extra:
            entry["extra"] = m.extra
        out.append(entry)
    return out


def export(metrics: list[Metric], fmt: str) -> Any:
    """The metrics in format ``fmt`` (one of :data:`FORMATS`), ready for ``json.dumps``."""
    if not metrics:
        raise ValueError("nothing to export: no benchmark in the input")
    if fmt == "bmf":
        return to_bmf(metrics)
    if fmt == "github-action-benchmark":
        return to_github_action(metrics)
    raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")

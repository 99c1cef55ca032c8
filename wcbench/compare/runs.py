"""Compare two saved benchmark runs: median time and every memory figure, with tolerances.

pytest-benchmark compares times only; memory regressions are this suite's own. Memory and copies
are judged tightly where they are read exactly; time is reported with the noise the runs show
and judged only where that noise allows. Two runs saved in different sessions cannot tell a time
change from the machine's drift between them (the same suite on two days moved every median, by
1.68x in the middle case): ``make ab`` times old and new code side by side for that.

- median time: each run's median gets its 95% interval from the run's own spread (the notch of
  a box plot, ``median +- 1.57 IQR / sqrt(rounds)``), and the ratio NEW/BASE the interval those
  allow. ``slower`` (a regression) when ``new - base > max(base * time_tolerance, time_floor)``
  and the whole interval lies beyond ``1 + time_tolerance``; ``same`` when the interval lies
  within ``SAME_BAND`` (10%) or the change is under the floor whatever the spread; ``faster``
  when it lies below ``1 / (1 + SAME_BAND)``; otherwise ``inconclusive``, never "no
  regression". The floor keeps sub-millisecond cases (a thread switch, a page fault) from
  flagging on scheduler noise;
- memory figures: by the one rule set of :mod:`wcbench.compare.rules` (shared with the memory
  table of ``pytest --benchmark-compare`` and with ``wcbench ab``): copies and the exact peaks
  at the noise identical runs show, the figures that are not exact (the sampled tree peak, peaks
  shaped by scheduling) at a wide tolerance, marked ``~``.

The defaults were chosen by re-running the same code on the 2-core machine this project is
measured on (see the README, "Comparing runs"): they pass on unchanged code and still catch a
strategy that gets markedly slower or whose memory grows by more than the text it counts.

Usage: ``wcbench compare [--base RUN] [--new RUN] [--storage results]``; a RUN is a path
to a saved JSON file, a run number (``3`` or ``0003``) or a unique part of a file name in this
interpreter's folder of the storage. Without them: the two latest runs. Exit status 0 when
nothing regressed, 1 when something did, 2 when the runs cannot be found or read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from wcbench.compare import rules as memory_rules
from wcbench.compare.rules import (  # noqa: F401  (the figures and executors, re-exported)
    EXACT_EXECUTORS,
    EXACT_KEYS,
    MEMORY_KEYS,
    Rules,
    Tolerance,
)
from wcbench.matrix import NOTCH
from wcbench.results import (
    SavedRun,
    SavedRunError,
    Stats,
    find_run,
    machine_id,
    readable_runs,
)
from wcbench.units import (
    format_bytes,
    format_time,
)

#: Default tolerated growth of a median time (fraction): see the module docstring and README.
TIME_TOLERANCE = 2.0
#: Growth of a median time below this many seconds is never a regression.
TIME_FLOOR_SECONDS = 0.005
#: A time ratio whose interval lies within this band (either way) is ``same``.
SAME_BAND = 0.10
#: Default tolerated growth of a memory figure that is not exact (fraction), and its floors:
#: :data:`wcbench.compare.rules.WIDE`.
MEMORY_TOLERANCE = memory_rules.WIDE.relative
MEMORY_FLOOR_BYTES = memory_rules.WIDE.floor
MEMORY_FLOOR_TEXT = memory_rules.WIDE.floor_text
#: ``copied_bytes`` is counted exactly: :data:`wcbench.compare.rules.COPIED`.
COPIED_TOLERANCE = memory_rules.COPIED.relative
COPIED_FLOOR_BYTES = memory_rules.COPIED.floor

_SHORT = {"median": "median", **memory_rules.SHORT}


@dataclass(frozen=True)
class Change:
    """One figure of one benchmark in both runs, and whether its growth is a regression.

    A median time also carries its verdict and the interval of NEW/BASE its runs' spread allows.
    """

    benchmark: str
    figure: str
    base: float
    new: float
    regression: bool
    verdict: str | None = None
    interval: tuple[float, float] | None = None
    #: False for a memory figure judged at the wide tolerance (sampled, or shaped by scheduling).
    exact: bool = True

    @property
    def relative(self) -> float | None:
        """``new / base - 1``; None when the base is zero."""
        return self.new / self.base - 1 if self.base else None


@dataclass(frozen=True)
class Tolerances:
    """How much growth passes: see the module docstring."""

    time: float = TIME_TOLERANCE
    memory: float = MEMORY_TOLERANCE
    memory_floor: int = MEMORY_FLOOR_BYTES
    time_floor: float = TIME_FLOOR_SECONDS
    memory_floor_text: float = MEMORY_FLOOR_TEXT
    copied: float = COPIED_TOLERANCE
    #: When given, replaces the relative tolerance of both exact peaks (parent's and workers').
    exact: float | None = None

    def rules(self) -> Rules:
        """The memory rule set these tolerances make (floors of the exact figures fixed)."""
        base = Rules(copied=Tolerance(self.copied, COPIED_FLOOR_BYTES),
                     wide=Tolerance(self.memory, self.memory_floor, self.memory_floor_text))
        if self.exact is None:
            return base
        return base.with_relative({"parent": self.exact, "workers": self.exact})


@dataclass
class Comparison:
    """Everything ``compare_runs`` found: per-figure changes and benchmarks in only one run."""

    base: SavedRun
    new: SavedRun
    tolerances: Tolerances
    changes: list[Change] = field(default_factory=list)
    only_base: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]


def pick_runs(storage: Path, base: str | None = None, new: str | None = None,
              machine: str | None = None) -> tuple[Path, Path]:
    """The two runs to compare: those named, else the two latest of this machine's folder
    (latest as :mod:`wcbench.results` orders runs)."""
    machine = machine or machine_id()
    folder = storage / machine
    runs = readable_runs(storage, machine) if not (base and new) else []  # skips named on stderr
    new_path = find_run(new, storage, machine) if new else None
    base_path = find_run(base, storage, machine) if base else None
    if new_path is None:
        candidates = [p for p in runs if p != base_path]
        if not candidates:
            raise SavedRunError(f"no saved run to compare in {folder}: run `make bench` first")
        new_path = candidates[-1]
    if base_path is None:
        older = runs[:runs.index(new_path)] if new_path in runs else []
        older = older or [p for p in runs if p != new_path]
        if not older:
            raise SavedRunError(
                f"only one saved run in {folder}: run `make bench` again or give BASE=")
        base_path = older[-1]
    return base_path, new_path


def median_interval(stats: Stats) -> tuple[float, float]:
    """The 95% interval of a run's median from its own spread; a point without quartiles."""
    if not stats.iqr or not stats.rounds:
        return stats.median, stats.median
    half = NOTCH * stats.iqr / stats.rounds ** 0.5
    return max(stats.median - half, 0.0), stats.median + half


def judge_time(base: Stats, new: Stats, tol: Tolerances) -> Change:
    """The median time's verdict (see the module docstring); ``benchmark`` is filled later."""
    (bl, bh), (nl, nh) = median_interval(base), median_interval(new)
    lo, hi = nl / bh if bh > 0 else 0.0, nh / bl if bl > 0 else float("inf")
    growth = new.median - base.median
    if growth > max(base.median * tol.time, tol.time_floor) and lo > 1 + tol.time:
        verdict = "slower"
    elif (lo >= 1 / (1 + SAME_BAND) and hi <= 1 + SAME_BAND) \
            or max(nh - bl, bh - nl) <= tol.time_floor:
        verdict = "same"
    elif hi < 1 / (1 + SAME_BAND):
        verdict = "faster"
    else:
        verdict = "inconclusive"
    return Change("", "median", base.median, new.median, verdict == "slower", verdict, (lo, hi))


def compare_runs(base: SavedRun, new: SavedRun,
                 tolerances: Tolerances | None = None) -> Comparison:
    """Every figure of every benchmark present in both runs, flagged against ``tolerances``."""
    tol = tolerances or Tolerances()
    mem = tol.rules()
    result = Comparison(base, new, tol)
    old, now = base.by_name, new.by_name
    result.only_base = sorted(set(old) - set(now))
    result.only_new = sorted(set(now) - set(old))
    common = sorted(set(old) & set(now), key=lambda n: (now[n].group or "", n))
    for name in common:
        b, n = old[name], now[name]
        result.changes.append(replace(judge_time(b.stats, n.stats, tol), benchmark=name))
        for j in memory_rules.judge(b.extra_info, n.extra_info, mem):
            result.changes.append(Change(name, j.key, j.base, j.new, j.regression,
                                         exact=j.exact))
    return result


def _fmt_change(change: Change) -> str:
    fmt = format_time if change.figure == "median" else format_bytes
    rel = change.relative
    delta = ("new" if change.new else "=") if rel is None else f"{rel:+.0%}"
    mark = " !" if change.regression else ""
    name = _SHORT[change.figure] + ("" if change.exact else "~")
    if change.interval is not None:
        lo, hi = change.interval
        delta += f" [{lo:.2f}-{hi:.2f}] {change.verdict}"
    return f"{name} {fmt(change.base)}->{fmt(change.new)} {delta}{mark}"


def _time_summary(changes: list[Change]) -> str:
    """``times: 3 same, 40 inconclusive ...``, pointing to ``make ab`` when any is inconclusive."""
    counts: dict[str, int] = {}
    for c in changes:
        if c.verdict is not None:
            counts[c.verdict] = counts.get(c.verdict, 0) + 1
    text = "times: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    if counts.get("inconclusive"):
        text += (" (two saved runs cannot tell such a change from the machine's drift between "
                 "sessions: time it with `make ab`)")
    return text


def format_comparison(result: Comparison) -> list[str]:
    """The comparison as lines: one per benchmark, then what is in one run only, then a verdict."""
    tol = result.tolerances
    lines = [
        f"base: {result.base.path}",
        *([f"      {result.base.incomplete_note}"] if result.base.incomplete else []),
        f"new:  {result.new.path}",
        *([f"      {result.new.incomplete_note}"] if result.new.incomplete else []),
        f"tolerances: median time +{tol.time:.0%} (and at least {format_time(tol.time_floor)}) "
        f"with its interval clear of it, 'same' within {SAME_BAND:.0%}, intervals from each "
        "run's quartiles; "
        "memory: " + "; ".join(tol.rules().describe()) + "; "
        "'!' marks a regression",
        "",
    ]
    by_bench: dict[str, list[Change]] = {}
    for change in result.changes:
        by_bench.setdefault(change.benchmark, []).append(change)
    width = max((len(n) for n in by_bench), default=0)
    for name, changes in by_bench.items():
        lines.append(f"{name:<{width}}  " + "  ".join(_fmt_change(c) for c in changes))
    for label, names in (("only in base", result.only_base), ("only in new", result.only_new)):
        if names:
            lines.append(f"{label}: {', '.join(names)}")
    for label, run in (("skipped in base", result.base), ("skipped in new", result.new)):
        for skip in run.skipped:
            lines.append(f"{label}: {skip.name}: {skip.reason}")
    regressions = result.regressions
    times = _time_summary(result.changes)
    if regressions:
        lines.append(f"{len(regressions)} regression(s): " + ", ".join(
            f"{c.benchmark} {_SHORT[c.figure]}" for c in regressions) + f"; {times}")
    else:
        lines.append(f"no regression in memory or copies of {len(by_bench)} benchmark(s) "
                     f"present in both runs; {times}")
    return lines

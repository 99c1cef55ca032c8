"""Turn saved benchmark runs into ``results/report.md`` with PNG plots beside it.

People would rather look at a report than read pytest-benchmark's JSON, so this module reads the
saved runs (pytest-benchmark's own file storage, ``results/<machine>/NNNN_*.json``) and writes a
Markdown page: a header saying where and on what the run ran, sentences derived from the figures
(never written by hand), one table per text size, and plots. Given two runs it puts them side by
side with ratios, for before/after a change or GIL on vs free-threaded.

It reads saved JSON only: no import of the measurement code, so a report can be built on a machine
that never ran the suite. Formatting functions return lines; only :func:`main` writes files and
prints. matplotlib is imported only when plotting, with the Agg backend (no screen here).

    python -m wcbench.report [--results results] [--base RUN] [--new RUN] [--output FILE]

``RUN`` is a saved file's path or its ``NNNN`` number. Without ``--new`` the latest saved run is
reported; ``--base`` alone compares that run with the latest.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from wcbench.corpus import format_size

KERNEL_ORDER = ("split", "numpy")
EXECUTOR_ORDER = ("serial", "threads", "processes", "process-pool", "shared-memory", "dask")
START_METHOD_ORDER = ("fork", "spawn", "forkserver")
#: Executors whose start method decides what crosses to the workers.
PROCESS_EXECUTORS = ("processes", "process-pool", "shared-memory")
#: A copy of at least this fraction of the text counts as "the whole text" in the findings.
WHOLE_COPY = 0.9
#: A copy below this fraction of the text counts as "almost nothing" (names and offsets).
TINY_COPY = 0.01

_RUN_NAME = re.compile(r"^(\d{4})_.*\.json$")
#: extra_info fields that say which interpreter and machine ran a case (kept per run).
_INTERPRETER_FIELDS = ("python", "implementation", "gil_enabled", "cpu_count")
_PLOT_NAMES = ("throughput.png", "memory-vs-size.png", "time-vs-workers-*.png")


class ReportError(Exception):
    """A problem the user can fix (no saved run, an unknown run, a malformed file): the CLI
    prints it on one line and exits 2."""


@dataclass(frozen=True)
class Case:
    """One matrix benchmark of a saved run: a strategy at a size and worker count."""

    name: str
    kernel: str
    executor: str
    start_method: str | None
    workers: int
    text_bytes: int
    corpus: str
    median: float
    peak_tree_bytes: int | None
    peak_parent_bytes: int | None
    peak_workers_bytes: int | None
    copied_bytes: int | None

    @property
    def strategy(self) -> tuple[str, str, str | None]:
        """What a line in a plot follows across worker counts or sizes."""
        return (self.kernel, self.executor, self.start_method)

    @property
    def key(self) -> tuple:
        """What identifies the same benchmark in two runs (names may differ between builds)."""
        return ("wordcount", self.corpus, self.text_bytes, *self.strategy, self.workers)

    @property
    def throughput(self) -> float:
        """Bytes of text per second."""
        return self.text_bytes / self.median if self.median > 0 else math.inf


@dataclass(frozen=True)
class Run:
    """A saved run, reduced to what the report shows."""

    path: Path
    machine: dict
    commit: dict
    datetime: str
    cases: tuple[Case, ...]
    #: text size -> median seconds of numpy summing the same bytes (the memory-read limit)
    memory_read: dict[int, float]
    skipped: tuple[dict, ...]
    #: extra_info field -> its distinct values over the matrix cases (python, gil_enabled, ...)
    interpreter: dict[str, tuple]

    @property
    def sections(self) -> list[tuple[int, str]]:
        """(text size, corpus) pairs in ascending size: one report section each."""
        return sorted({(c.text_bytes, c.corpus) for c in self.cases})

    def at(self, size: int, corpus: str) -> list[Case]:
        """The cases of one section, in table order."""
        return sorted((c for c in self.cases if (c.text_bytes, c.corpus) == (size, corpus)),
                      key=_case_order)


# --- loading -----------------------------------------------------------------------------------


def _rank(value: str | None, order: Sequence[str | None]) -> tuple[int, str]:
    return (order.index(value), "") if value in order else (len(order), str(value))


def _strategy_order(strategy: tuple[str, str, str | None]) -> tuple:
    kernel, executor, start_method = strategy
    return (_rank(kernel, KERNEL_ORDER), _rank(executor, EXECUTOR_ORDER),
            _rank(start_method, (None, *START_METHOD_ORDER)))


def _case_order(case: Case) -> tuple:
    return (*_strategy_order(case.strategy), case.workers)


def _optional_int(value: object) -> int | None:
    return None if value is None else int(value)


def load_run(path: Path) -> Run:
    """Read one pytest-benchmark JSON file written by ``make bench``."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read saved run {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ReportError(f"{path} is not a pytest-benchmark saved run (no 'benchmarks' list)")
    cases: list[Case] = []
    memory_read: dict[int, float] = {}
    interpreter: dict[str, list] = {f: [] for f in _INTERPRETER_FIELDS}
    try:
        for bench in data["benchmarks"]:
            info = bench.get("extra_info") or {}
            kind = info.get("kind")
            if kind == "memory-read":
                memory_read[int(info["text_bytes"])] = float(bench["stats"]["median"])
            elif kind == "wordcount":
                for field, values in interpreter.items():
                    if field in info and info[field] not in values:
                        values.append(info[field])
                cases.append(Case(
                    name=bench["name"], kernel=info["kernel"], executor=info["executor"],
                    start_method=info.get("start_method"), workers=int(info["workers"]),
                    text_bytes=int(info["text_bytes"]), corpus=str(info.get("corpus", "")),
                    median=float(bench["stats"]["median"]),
                    peak_tree_bytes=_optional_int(info.get("peak_tree_bytes")),
                    peak_parent_bytes=_optional_int(info.get("peak_parent_bytes")),
                    peak_workers_bytes=_optional_int(info.get("peak_workers_bytes")),
                    copied_bytes=_optional_int(info.get("copied_bytes")),
                ))
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: malformed benchmark entry ({exc!r})") from exc
    return Run(path=Path(path), machine=data.get("machine_info") or {},
               commit=data.get("commit_info") or {}, datetime=str(data.get("datetime", "")),
               cases=tuple(cases), memory_read=memory_read,
               skipped=tuple(data.get("wordcount_skipped") or ()),
               interpreter={k: tuple(v) for k, v in interpreter.items()})


def saved_runs(results: Path) -> list[Path]:
    """Every saved run under ``results`` (one folder per machine), oldest first.

    Order is the run's own ``datetime`` (file modification time when it has none), so "latest"
    means the last one measured whichever machine folder it is in.
    """
    paths = [p for p in Path(results).glob("*/*.json") if _RUN_NAME.match(p.name)]

    def when(path: Path) -> tuple[float, str]:
        try:
            stamp = json.loads(path.read_text()).get("datetime")
            return (datetime.fromisoformat(stamp).timestamp(), str(path))
        except (OSError, ValueError, TypeError, AttributeError):
            return (path.stat().st_mtime, str(path))

    return sorted(paths, key=when)


def latest_run(results: Path) -> Run:
    """The last saved run that holds matrix benchmarks (a run of only the kernel benchmarks,
    ``pytest bench/bench_kernels.py``, has nothing for this report)."""
    runs = saved_runs(results)
    if not runs:
        raise ReportError(f"no saved run under {results}/: run `make bench` first")
    for path in reversed(runs):
        run = load_run(path)
        if run.cases:
            return run
    raise ReportError(f"no saved run under {results}/ holds matrix benchmarks: run `make bench`")


def machine_folder() -> str:
    """The folder pytest-benchmark saves this interpreter's runs in (``Linux-CPython-3.11-64bit``):
    a run number names a run there first, as ``make compare`` reads it."""
    return "-".join((platform.system(), platform.python_implementation(),
                     ".".join(platform.python_version_tuple()[:2]), platform.architecture()[0]))


def resolve_run(spec: str, results: Path) -> Path:
    """A saved run from a path, its ``NNNN`` number (``3`` and ``0003`` alike) or a unique part
    of its file name. A number found in several machine folders means this interpreter's."""
    path = Path(spec)
    if path.is_file():
        return path
    runs = saved_runs(results)
    if spec.strip().isdigit():
        found = [p for p in runs if p.name[:4] == f"{int(spec):04d}"]
        if len(found) > 1:
            found = [p for p in found if p.parent.name == machine_folder()] or found
    else:
        found = [p for p in runs if spec and spec in p.name]
    if len(found) == 1:
        return found[0]
    if found:
        raise ReportError(f"run {spec!r} is ambiguous: " + ", ".join(map(str, found))
                          + "; give the path")
    raise ReportError(f"no saved run {spec!r} (give a file path, a run number or part of a file "
                      f"name under {results})")


# --- formatting --------------------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    """A duration with three significant digits in a unit people read at a glance."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{_sig(seconds / scale)} {unit}"
    return f"{_sig(seconds / 1e-9)} ns"


def fmt_bytes(n: float | None) -> str:
    """Bytes in binary units, three significant digits (``"16.0 MiB"``); ``n/a`` when unknown."""
    if n is None:
        return "n/a"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{_sig(n / scale)} {unit}"
    return f"{int(n)} B"


def fmt_rate(bytes_per_second: float) -> str:
    """Throughput in MB/s (decimal), the unit FACTS.md and most tools use."""
    return f"{_sig(bytes_per_second / 1e6, grouped=True)}"


def fmt_ratio(x: float | None) -> str:
    """A multiple such as ``"1.75×"``."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{_sig(x, grouped=True)}×"


def fmt_percent(fraction: float) -> str:
    """A share of the text: whole percent when large, significant digits when tiny."""
    if fraction >= 0.01:
        return f"{fraction:.0%}"
    if fraction == 0:
        return "0%"
    return f"{fraction * 100:.2g}%"


def _sig(x: float, grouped: bool = False) -> str:
    """Three significant digits, no exponent; thousands grouped on request."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{decimals}f}" if grouped else f"{x:.{decimals}f}"
    return text


def strategy_label(kernel: str, executor: str, start_method: str | None) -> str:
    """``numpy · processes (spawn)``: how a strategy is named in tables, plots and sentences."""
    return f"{kernel} · {executor}" + (f" ({start_method})" if start_method else "")


def case_label(case: Case) -> str:
    """A strategy with its worker count, as sentences name it."""
    workers = f"{case.workers} worker" + ("s" if case.workers != 1 else "")
    return f"{strategy_label(*case.strategy)} with {workers}"


def section_title(size: int, corpus: str) -> str:
    """``16MiB of text (ascii)``."""
    return f"{format_size(size)} of text" + (f" ({corpus})" if corpus else "")


def section_slug(size: int, corpus: str, corpora: int) -> str:
    """A file-name-safe key of a section; the corpus is named only when a run holds several."""
    slug = format_size(size) + (f"-{corpus}" if corpora > 1 and corpus else "")
    return re.sub(r"[^A-Za-z0-9.-]+", "_", slug)


def _baseline(cases: Iterable[Case]) -> Case | None:
    """Serial ``split``: the classic ``len(text.split())`` every speed-up is measured against."""
    return next((c for c in cases if (c.kernel, c.executor) == ("split", "serial")), None)


def _table(value_rows: list[list[str]], header: list[str], right: set[int]) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(header))]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |",
            *("| " + " | ".join(row) + " |" for row in value_rows)]


def gil_status(run: Run) -> str:
    """``enabled``, ``disabled (free-threaded)``, ``mixed`` or ``unknown``, from the cases."""
    states = set(run.interpreter.get("gil_enabled", ()))
    if states == {True}:
        return "enabled"
    if states == {False}:
        return "disabled (free-threaded)"
    return "mixed" if len(states) > 1 else "unknown"


def _values(run: Run, field: str, default: object) -> str:
    """A field the cases agree on (``a / b`` when they do not), else the machine_info default."""
    values = run.interpreter.get(field) or (default,)
    return " / ".join(map(str, values))


def run_facts(run: Run) -> dict[str, str]:
    """What the header says about a run: where, on what, when."""
    machine = run.machine
    cpu = machine.get("cpu") or {}
    processor = cpu.get("brand_raw") or machine.get("processor") or machine.get("machine") or "?"
    python = _values(run, "python", machine.get("python_version", "unknown"))
    implementation = _values(run, "implementation",
                             machine.get("python_implementation", "unknown"))
    cpus = _values(run, "cpu_count", cpu.get("count", "unknown"))
    commit = run.commit.get("id", "")
    dirty = " (uncommitted changes)" if run.commit.get("dirty") else ""
    return {
        "run": str(run.path),
        "date": run.datetime or "unknown",
        "machine": f"{machine.get('node', '?')}, {processor}, {cpus} CPUs",
        "system": f"{machine.get('system', '?')} {machine.get('release', '')}".strip(),
        "python": f"{implementation} {python}",
        "GIL": gil_status(run),
        "commit": (commit[:12] + dirty) if commit else "unknown",
        "benchmarks": f"{len(run.cases)} matrix cases, {len(run.skipped)} skipped",
    }


# --- derived sentences -------------------------------------------------------------------------


def winner_sentences(run: Run) -> list[str]:
    """Per size: the fastest strategy and the smallest and largest memory peaks."""
    lines = []
    for size, corpus in run.sections:
        cases = run.at(size, corpus)
        fastest = min(cases, key=lambda c: c.median)
        text = f"At {section_title(size, corpus)}, the fastest is {case_label(fastest)}: " \
               f"{fmt_time(fastest.median)}, {fmt_rate(fastest.throughput)} MB/s"
        base = _baseline(cases)
        if base is not None and base is not fastest:
            text += f", {fmt_ratio(base.median / fastest.median)} the speed of serial split"
        limit = run.memory_read.get(size)
        if limit:
            text += f", {fmt_percent(limit / fastest.median)} of the memory-read limit"
        measured = [c for c in cases if c.peak_tree_bytes is not None]
        if measured:
            small = min(measured, key=lambda c: c.peak_tree_bytes)
            large = max(measured, key=lambda c: c.peak_tree_bytes)
            none = ": no growth of resident memory measured" if small.peak_tree_bytes <= 0 else ""
            text += f". The smallest memory peak is {case_label(small)} " \
                    f"({fmt_bytes(small.peak_tree_bytes)}, " \
                    f"{fmt_ratio(small.peak_tree_bytes / size)} the text{none}); the largest is " \
                    f"{case_label(large)} ({fmt_bytes(large.peak_tree_bytes)}, " \
                    f"{fmt_ratio(large.peak_tree_bytes / size)} the text)"
        lines.append(text + ".")
    return lines


def copy_fractions(run: Run) -> dict[tuple[str, str], tuple[float, float]]:
    """At the largest size: (executor, start method) -> (min, max) copied bytes / text bytes
    over kernels and worker counts."""
    if not run.cases:
        return {}
    size = max(c.text_bytes for c in run.cases)
    spans: dict[tuple[str, str], list[float]] = {}
    for c in run.cases:
        if (c.text_bytes == size and c.executor in PROCESS_EXECUTORS and c.start_method
                and c.copied_bytes is not None):
            spans.setdefault((c.executor, c.start_method), []).append(c.copied_bytes / size)
    return {k: (min(v), max(v)) for k, v in spans.items()}


def _span(low: float, high: float) -> str:
    a, b = fmt_percent(low), fmt_percent(high)
    return a if a == b else f"{a}–{b}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def copy_sentences(run: Run) -> list[str]:
    """What each start method sends to the workers, as a share of the text."""
    fractions = copy_fractions(run)
    if not fractions:
        return []
    size = max(c.text_bytes for c in run.cases)
    lines = []
    executors = sorted({e for e, _ in fractions}, key=lambda e: _rank(e, EXECUTOR_ORDER))
    for executor in executors:
        methods = sorted((m for e, m in fractions if e == executor),
                         key=lambda m: _rank(m, START_METHOD_ORDER))
        parts = [f"under {m} {_span(*fractions[executor, m])}" for m in methods]
        parts[0] += " of the text"
        lines.append(f"At {format_size(size)}, {executor} copies to its workers "
                     f"{_join(parts)} (over kernels and worker counts).")
    ordered = sorted(fractions.items(), key=lambda item: (_rank(item[0][0], EXECUTOR_ORDER),
                                                          _rank(item[0][1], START_METHOD_ORDER)))
    whole = [f"{e} ({m})" for (e, m), (lo, _) in ordered if lo >= WHOLE_COPY]
    tiny = [f"{e} ({m})" for (e, m), (_, hi) in ordered if hi < TINY_COPY]
    if whole:
        lines.append(f"The whole text (at least {WHOLE_COPY:.0%}) is serialised to the workers "
                     f"by {_join(whole)}.")
    if tiny:
        lines.append(f"Less than {TINY_COPY:.0%} of it crosses in {_join(tiny)}: the workers "
                     "inherit the text or read it in place.")
    return lines


def thread_scaling(run: Run) -> dict[str, tuple[int, float]]:
    """At the largest size, per kernel: (most threads, speed-up of that many over one thread)."""
    if not run.cases:
        return {}
    size = max(c.text_bytes for c in run.cases)
    out = {}
    for kernel in sorted({c.kernel for c in run.cases}, key=lambda k: _rank(k, KERNEL_ORDER)):
        threads = {c.workers: c for c in run.cases
                   if c.text_bytes == size and c.kernel == kernel and c.executor == "threads"}
        if 1 in threads and len(threads) > 1:
            most = max(threads)
            out[kernel] = (most, threads[1].median / threads[most].median)
    return out


def thread_sentences(run: Run) -> list[str]:
    """How far threads scale, with the GIL status of the run said beside it."""
    scaling = thread_scaling(run)
    if not scaling:
        return []
    size = max(c.text_bytes for c in run.cases)
    facts = run_facts(run)
    parts = [f"{kernel} in {most} threads runs {fmt_ratio(speedup)} as fast as in one"
             for kernel, (most, speedup) in scaling.items()]
    cpus = facts["machine"].rsplit(", ", 1)[-1]
    return [f"With the GIL {facts['GIL']} on {facts['python']} and {cpus}, at "
            f"{format_size(size)}: {'; '.join(parts)}."]


def findings(run: Run) -> list[str]:
    """Every derived sentence of a run, in the order the report shows them."""
    return winner_sentences(run) + copy_sentences(run) + thread_sentences(run)


# --- sections ----------------------------------------------------------------------------------


def header_lines(run: Run) -> list[str]:
    """A table of where, on what and when the run ran."""
    facts = run_facts(run)
    return _table([[k, v] for k, v in facts.items()], ["", "run"], set())


def section_lines(run: Run, size: int, corpus: str, plot: str | None) -> list[str]:
    """One size: the memory-read limit, the table of every case, skipped cases and the plot."""
    cases = run.at(size, corpus)
    base = _baseline(cases)
    lines = [f"## {section_title(size, corpus)}", ""]
    limit = run.memory_read.get(size)
    if limit:
        lines += [f"Memory-read limit (numpy summing the same bytes as uint64): "
                  f"{fmt_time(limit)}, {fmt_rate(size / limit)} MB/s.", ""]
    rows = []
    for c in cases:
        tree = c.peak_tree_bytes
        rows.append([
            c.kernel, c.executor, c.start_method or "–", str(c.workers), fmt_time(c.median),
            fmt_rate(c.throughput), fmt_ratio(base.median / c.median) if base else "n/a",
            fmt_bytes(tree), fmt_ratio(tree / size) if tree is not None and size else "n/a",
            fmt_bytes(c.copied_bytes),
        ])
    lines += _table(rows, ["kernel", "executor", "start method", "workers", "median time",
                           "MB/s", "vs serial split", "peak tree memory", "× text", "copied"],
                    {3, 4, 5, 6, 7, 8, 9})
    skipped = [s for s in run.skipped if _names_size(s, size)]
    if skipped:
        lines += ["", "Skipped (would not fit in memory):", ""]
        lines += [f"- `{s.get('name')}`: {s.get('reason')}" for s in skipped]
    if plot:
        lines += ["", f"![time against worker count at {format_size(size)}]({plot})"]
    return [*lines, ""]


def _names_size(skip: dict, size: int) -> bool:
    """Whether a skipped case's name spells this size (``1MiB`` but not inside ``11MiB``)."""
    pattern = rf"(?<![\d.]){re.escape(format_size(size))}(?![A-Za-z])"
    return re.search(pattern, str(skip.get("name", ""))) is not None


def _unplaced_skips(run: Run) -> list[dict]:
    """Skipped cases whose name names no size of a section (they are listed on their own)."""
    return [s for s in run.skipped if not any(_names_size(s, z) for z, _ in run.sections)]


def report_lines(run: Run, plots: dict[str, str], title: bool = True) -> list[str]:
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
        lines += ["## Skipped cases", ""] + [f"- `{s.get('name')}`: {s.get('reason')}"
                                             for s in stray] + [""]
    return lines


# --- comparison --------------------------------------------------------------------------------


def _ratio(new: float | None, old: float | None) -> float | None:
    if new is None or old is None or old == 0:
        return None
    return new / old


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def comparison_lines(base: Run, new: Run) -> list[str]:
    """BASE and NEW side by side: their facts, then per benchmark the NEW/BASE ratios of median
    time and peak tree memory (below 1: NEW is faster or smaller)."""
    base_facts, new_facts = run_facts(base), run_facts(new)
    lines = ["## BASE and NEW", ""]
    lines += _table([[k, base_facts[k], new_facts[k]] for k in base_facts],
                    ["", "BASE", "NEW"], set())
    old = {c.key: c for c in base.cases}
    pairs = [(old[c.key], c) for c in sorted(new.cases, key=lambda c: (c.text_bytes, c.corpus,
                                                                         _case_order(c)))
             if c.key in old]
    lines += ["", "## NEW against BASE", ""]
    if not pairs:
        return [*lines, "The two runs share no benchmark (same kernel, executor, start method, "
                "workers and text size): nothing to compare.", ""]
    times = [n.median / b.median for b, n in pairs if b.median > 0 and n.median > 0]
    mems = [r for b, n in pairs if (r := _ratio(n.peak_tree_bytes, b.peak_tree_bytes))]
    gain = min(pairs, key=lambda p: p[1].median / p[0].median)
    loss = max(pairs, key=lambda p: p[1].median / p[0].median)
    summary = (f"Over the {len(pairs)} benchmarks in both runs, NEW takes "
               f"{fmt_ratio(_geomean(times))} BASE's median time (geometric mean)")
    if mems:
        summary += f" and {fmt_ratio(_geomean(mems))} its peak tree memory"
    moves = [(word, pair) for word, pair, faster in (("gain", gain, True), ("loss", loss, False))
             if (pair[1].median < pair[0].median) == faster and pair[1].median != pair[0].median]
    for word, (b, n) in moves:
        summary += (f"; the biggest {word} in time is {case_label(n)} at "
                    f"{format_size(n.text_bytes)} ({fmt_ratio(n.median / b.median)})")
    summary += ". Ratios are NEW / BASE: below 1× NEW is faster or smaller."
    lines += [summary, ""]
    # Threads are where a GIL build and a free-threaded one differ: say both runs' scaling.
    lines += [f"- {label}: {sentence}" for label, run in (("BASE", base), ("NEW", new))
              for sentence in thread_sentences(run)]
    lines.append("")
    for size in sorted({n.text_bytes for _, n in pairs}):
        rows = []
        for b, n in (p for p in pairs if p[1].text_bytes == size):
            rows.append([n.kernel, n.executor, n.start_method or "–", str(n.workers),
                         fmt_time(b.median), fmt_time(n.median), fmt_ratio(n.median / b.median),
                         fmt_bytes(b.peak_tree_bytes), fmt_bytes(n.peak_tree_bytes),
                         fmt_ratio(_ratio(n.peak_tree_bytes, b.peak_tree_bytes))])
        if size in base.memory_read and size in new.memory_read:
            b_lim, n_lim = base.memory_read[size], new.memory_read[size]
            rows.append(["memory read", "", "", "", fmt_time(b_lim), fmt_time(n_lim),
                         fmt_ratio(n_lim / b_lim), "", "", ""])
        lines += [f"### {format_size(size)}", ""]
        lines += _table(rows, ["kernel", "executor", "start method", "workers", "BASE time",
                               "NEW time", "time NEW/BASE", "BASE peak tree", "NEW peak tree",
                               "memory NEW/BASE"], {3, 4, 5, 6, 7, 8, 9})
        lines.append("")
    new_keys = {c.key for c in new.cases}
    for label, alone in (("BASE", [c for c in base.cases if c.key not in new_keys]),
                         ("NEW", [c for c in new.cases if c.key not in old])):
        alone.sort(key=lambda c: (c.text_bytes, c.corpus, _case_order(c)))
        if alone:
            lines += [f"Only in {label}: " + "; ".join(
                f"{case_label(c)} at {format_size(c.text_bytes)}" for c in alone) + ".", ""]
    return lines


# --- plots -------------------------------------------------------------------------------------

_COLOURS = {"serial": "#333333", "threads": "#1f77b4", "processes": "#d62728",
            "process-pool": "#ff7f0e", "shared-memory": "#2ca02c", "dask": "#9467bd"}
_MARKERS = {"serial": "s", "threads": "o", "processes": "v", "process-pool": "^",
            "shared-memory": "D", "dask": "P"}
_LINES = {None: "-", "fork": "-", "spawn": "--", "forkserver": ":"}


def _pyplot():
    """matplotlib's pyplot on the Agg backend, imported only when a plot is asked for."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - matplotlib is in the dev extra
        raise ReportError("plots need matplotlib: pip install -e '.[dev]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _style(executor: str, start_method: str | None) -> dict:
    return {"color": _COLOURS.get(executor, "#7f7f7f"), "marker": _MARKERS.get(executor, "x"),
            "linestyle": _LINES.get(start_method, "-.")}


def _tick_bytes(value: float) -> str:
    """``4MiB`` on a power-of-two tick, else three significant digits."""
    whole = int(value)
    if value > 0 and whole == value and whole & (whole - 1) == 0:
        return format_size(whole)
    return fmt_bytes(value) if value > 0 else "0"


def _bytes_axis(axis, log: bool) -> None:
    """Byte ticks people read: powers of two on a log axis, labelled 1MiB, 4MiB, ..."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if log:
        axis.set_major_locator(LogLocator(base=4))
        axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(FuncFormatter(lambda v, _: _tick_bytes(v)))


def _tick_time(seconds: float) -> str:
    """``20 ms``, ``500 µs``: a round tick needs no trailing zeros."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale * 0.999:
            return f"{seconds / scale:.3g} {unit}"
    return "0"


def _time_axis(axis) -> None:
    """Log-scale time ticks at 1, 2 and 5 of each decade, labelled ``20 ms`` not ``2×10^-2``."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _tick_time(v)))
    axis.set_minor_formatter(NullFormatter())


def _kernel_panels(plt, kernels: list[str], width: float = 6.0, height: float = 4.5):
    fig, axes = plt.subplots(1, len(kernels), figsize=(width * len(kernels), height),
                             squeeze=False)
    return fig, list(axes[0])


def _legend_below(fig, axes) -> None:
    handles, labels = {}, {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
            labels[lab] = lab
    fig.legend(list(handles.values()), list(labels), loc="lower center",
               ncol=min(4, len(handles)), fontsize=8, frameon=False)


def plot_time_vs_workers(run: Run, size: int, corpus: str, path: Path) -> None:
    """Median time against worker count, one line per strategy, one panel per kernel."""
    plt = _pyplot()
    cases = run.at(size, corpus)
    kernels = sorted({c.kernel for c in cases}, key=lambda k: _rank(k, KERNEL_ORDER))
    fig, axes = _kernel_panels(plt, kernels)
    workers = sorted({c.workers for c in cases})
    for ax, kernel in zip(axes, kernels, strict=True):
        strategies: dict[tuple, list[Case]] = {}
        for c in cases:
            if c.kernel == kernel:
                strategies.setdefault(c.strategy, []).append(c)
        for (_, executor, method), points in strategies.items():
            points.sort(key=lambda c: c.workers)
            label = executor + (f" ({method})" if method else "")
            if len(points) == 1 and len(workers) > 1:  # serial: a reference across the axis
                ax.axhline(points[0].median, color=_style(executor, method)["color"],
                           linestyle="-.", linewidth=1, label=label + ", 1 worker")
                continue
            ax.plot([c.workers for c in points], [c.median for c in points], label=label,
                    **_style(executor, method))
        ax.set_xscale("log", base=2)
        ax.set_xticks(workers, [str(w) for w in workers])
        ax.set_yscale("log")
        _time_axis(ax.yaxis)
        ax.set_xlabel("workers")
        ax.set_ylabel("median time (log scale)")
        ax.set_title(f"kernel {kernel}")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"Time against worker count, {section_title(size, corpus)} "
                 f"(GIL {gil_status(run)})")
    _legend_below(fig, axes)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_memory_vs_size(run: Run, path: Path) -> None:
    """Peak tree memory against text size per strategy, each at its largest worker count."""
    plt = _pyplot()
    kernels = sorted({c.kernel for c in run.cases}, key=lambda k: _rank(k, KERNEL_ORDER))
    fig, axes = _kernel_panels(plt, kernels)
    sizes = sorted({c.text_bytes for c in run.cases})
    log = sizes[-1] >= 10 * sizes[0]
    dropped = 0
    for ax, kernel in zip(axes, kernels, strict=True):
        best: dict[tuple, dict[int, Case]] = {}
        for c in run.cases:
            if c.kernel != kernel or c.peak_tree_bytes is None:
                continue
            slot = best.setdefault(c.strategy, {})
            if c.text_bytes not in slot or c.workers > slot[c.text_bytes].workers:
                slot[c.text_bytes] = c
        for (_, executor, method), by_size in best.items():
            points = [by_size[s] for s in sorted(by_size)]
            if log:  # a 0 B peak (no growth measured) has no place on a log axis
                dropped += sum(c.peak_tree_bytes <= 0 for c in points)
                points = [c for c in points if c.peak_tree_bytes > 0]
            if not points:
                continue
            most = max(c.workers for c in points)
            ax.plot([c.text_bytes for c in points], [c.peak_tree_bytes for c in points],
                    label=executor + (f" ({method})" if method else "") + f", {most}w",
                    **_style(executor, method))
        ax.plot(sizes, sizes, color="#999999", linewidth=1, linestyle=(0, (1, 3)),
                label="1× the text")
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xticks(sizes, [format_size(s) for s in sizes])
        _bytes_axis(ax.yaxis, log)
        ax.set_xlabel("text size" + (" (log scale)" if log else ""))
        ax.set_ylabel("peak tree memory" + (" (log scale)" if log else ""))
        ax.set_title(f"kernel {kernel}")
        ax.grid(True, which="both", alpha=0.3)
    note = f"; {dropped} points of 0 B left out" if dropped else ""
    fig.suptitle("Peak memory of parent + workers against text size\n"
                 f"(each strategy at its largest worker count, nw = n workers{note})")
    _legend_below(fig, axes)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_throughput(run: Run, path: Path) -> None:
    """Each strategy's best throughput (over worker counts) beside the memory-read limit of the
    same run, one panel per size."""
    plt = _pyplot()
    sections = run.sections
    strategies = sorted({c.strategy for c in run.cases}, key=_strategy_order, reverse=True)
    labels = [strategy_label(*s) for s in strategies]
    fig, axes = plt.subplots(1, len(sections), sharey=True, squeeze=False,
                             figsize=(2.5 + 4.2 * len(sections), 1.2 + 0.28 * len(labels)))
    for ax, (size, corpus) in zip(axes[0], sections, strict=True):
        best: dict[tuple, Case] = {}
        for c in run.at(size, corpus):
            if c.strategy not in best or c.median < best[c.strategy].median:
                best[c.strategy] = c
        ys = [i for i, s in enumerate(strategies) if s in best]
        values = [best[strategies[i]].throughput / 1e6 for i in ys]
        ax.barh(ys, values, color=[_COLOURS.get(strategies[i][1], "#7f7f7f") for i in ys])
        for y, v in zip(ys, values, strict=True):
            ax.annotate(f"{_sig(v, grouped=True)} ({best[strategies[y]].workers}w)", (v, y),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
        limit = run.memory_read.get(size)
        if limit:
            ax.axvline(size / limit / 1e6, color="black", linestyle="--", linewidth=1.2,
                       label=f"memory read: {fmt_rate(size / limit)} MB/s")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("MB/s of text (log scale)")
        ax.set_title(section_title(size, corpus))
        ax.grid(True, axis="x", which="both", alpha=0.3)
        ax.set_xlim(right=ax.get_xlim()[1] * 3)  # room for the annotations
    axes[0][0].set_yticks(range(len(labels)), labels, fontsize=8)
    fig.suptitle(f"Best throughput of each strategy over worker counts (nw = n workers), "
                 f"GIL {gil_status(run)}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(run: Run, plot_dir: Path, link_prefix: str) -> dict[str, str]:
    """Draw every plot of a run into ``plot_dir``; return plot keys -> links for the report.

    Plots this module drew earlier are removed first, so a report never links a stale size.
    """
    plot_dir.mkdir(parents=True, exist_ok=True)
    for pattern in _PLOT_NAMES:
        for old in plot_dir.glob(pattern):
            old.unlink()
    if not run.cases:
        return {}
    links = {}
    plot_throughput(run, plot_dir / "throughput.png")
    links["throughput"] = f"{link_prefix}throughput.png"
    plot_memory_vs_size(run, plot_dir / "memory-vs-size.png")
    links["memory"] = f"{link_prefix}memory-vs-size.png"
    corpora = len({c for _, c in run.sections})
    for size, corpus in run.sections:
        slug = section_slug(size, corpus, corpora)
        name = f"time-vs-workers-{slug}.png"
        plot_time_vs_workers(run, size, corpus, plot_dir / name)
        links["time-" + slug] = f"{link_prefix}{name}"
    return links


# --- entry -------------------------------------------------------------------------------------


def build(results: Path, output: Path, base: str | None = None, new: str | None = None) -> Path:
    """Write the report (and its plots) for the chosen runs; return the report's path."""
    new_run = load_run(resolve_run(new, results)) if new is not None else latest_run(results)
    if not new_run.cases:
        raise ReportError(f"{new_run.path} holds no matrix benchmark (extra_info kind "
                          "'wordcount'): nothing to report")
    base_run = load_run(resolve_run(base, results)) if base is not None else None
    plot_dir = output.parent / output.stem
    links = write_plots(new_run, plot_dir, f"{output.stem}/")
    if base_run is None:
        lines = report_lines(new_run, links)
    else:
        lines = ["# wordcount-bench report: NEW against BASE", ""]
        lines += comparison_lines(base_run, new_run)
        lines += ["# NEW in detail", "", *report_lines(new_run, links, title=False)]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines).rstrip("\n") + "\n")
    return output


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wcbench.report``: exit 0 with the report written, 2 on a user error."""
    parser = argparse.ArgumentParser(prog="python -m wcbench.report", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="folder of saved runs (default: results)")
    parser.add_argument("--output", type=Path, default=None,
                        help="report file (default: RESULTS/report.md); plots go in a folder of "
                             "the same stem beside it")
    parser.add_argument("--base", help="run to compare against: a file path or NNNN number")
    parser.add_argument("--new", help="run to report (default: the latest saved run)")
    args = parser.parse_args(argv)
    output = args.output or args.results / "report.md"
    try:
        written = build(args.results, output, base=args.base or None, new=args.new or None)
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    print(f"report written to {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

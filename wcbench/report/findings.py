"""What the report says about a run, computed from its figures: names, facts and sentences.

Every sentence of ``results/report.md`` comes from here (never written by hand): which strategy
wins at each size in time and in memory, what each start method copies to the workers, how far
threads scale; and the names tables, plots and sentences share (``numpy · processes (spawn)``,
``32MiB of text (ascii)``). Functions return strings; nothing is printed or written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from wcbench.results import (
    MeasuredCase,
    SavedRun,
    SkippedCase,
    executor_order,
    kernel_order,
    start_method_order,
)
from wcbench.units import (
    format_bytes_spaced,
    format_mbps,
    format_percent,
    format_ratio,
    format_size,
    format_time_spaced,
)
from wordcount.executors import PROCESS_EXECUTORS, REFUSED

#: A copy of at least this fraction of the text counts as "the whole text" in the findings.
WHOLE_COPY = 0.9
#: A copy below this fraction of the text counts as "almost nothing" (names and offsets).
TINY_COPY = 0.01


# --- names -------------------------------------------------------------------------------------


def strategy_label(kernel: str, executor: str, start_method: str | None) -> str:
    """``numpy · processes (spawn)``: how a strategy is named in tables, plots and sentences."""
    return f"{kernel} · {executor}" + (f" ({start_method})" if start_method else "")


def case_label(case: MeasuredCase) -> str:
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


def is_refused(skip: SkippedCase) -> bool:
    """Whether a case was skipped because its executor refuses its kernel
    (``wordcount.executors.REFUSED``: numpy in subinterpreters), not by an estimate."""
    return skip.reason in REFUSED.values()


def baseline(cases: Iterable[MeasuredCase]) -> MeasuredCase | None:
    """Serial ``split``: the classic ``len(text.split())`` every speed-up is measured against."""
    return next((c for c in cases if (c.kernel, c.executor) == ("split", "serial")), None)


# --- facts -------------------------------------------------------------------------------------


def gil_status(run: SavedRun) -> str:
    """``enabled``, ``disabled (free-threaded)``, ``mixed`` or ``unknown``, from the cases."""
    states = set(run.distinct("gil_enabled"))
    if states == {True}:
        return "enabled"
    if states == {False}:
        return "disabled (free-threaded)"
    return "mixed" if len(states) > 1 else "unknown"


def _values(run: SavedRun, field: str, default: object) -> str:
    """A field the cases agree on (``a / b`` when they do not), else the machine_info default."""
    values = run.distinct(field) or (default,)
    return " / ".join(map(str, values))


def run_facts(run: SavedRun) -> dict[str, str]:
    """What the header says about a run: where, on what, when."""
    machine = run.machine
    processor = machine.cpu_brand or machine.processor or machine.machine or "?"
    python = _values(run, "python", machine.python_version or "unknown")
    implementation = _values(run, "implementation", machine.python_implementation or "unknown")
    cpus = _values(run, "cpu_count", machine.cpu_count or "unknown")
    commit = run.commit.id or ""
    dirty = " (uncommitted changes)" if run.commit.dirty else ""
    return {
        "run": str(run.path),
        "date": run.datetime or "unknown",
        "machine": f"{machine.node or '?'}, {processor}, {cpus} CPUs",
        "system": f"{machine.system or '?'} {machine.release or ''}".strip(),
        "python": f"{implementation} {python}",
        "GIL": gil_status(run),
        "commit": (commit[:12] + dirty) if commit else "unknown",
        "benchmarks": f"{len(run.cases)} matrix cases, {len(run.skipped)} skipped",
        **({"matrix": matrix_label(run.matrix)} if run.matrix else {}),
        **({"incomplete": run.incomplete_note} if run.incomplete else {}),
    }


def matrix_label(matrix: Mapping[str, Any]) -> str:
    """``quick`` or ``full, sizes 1MiB``: the named matrix and what replaced its lists."""
    options = matrix.get("options") or {}
    given = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in options.items())
    return f"{matrix.get('name', '?')}" + (f" ({given})" if given else "")


# --- sentences -------------------------------------------------------------------------------


def _peak(case: MeasuredCase, size: int) -> str:
    """``183 MiB, 5.72× the text``."""
    tree = case.peak_tree_bytes
    return f"{format_bytes_spaced(tree)}, {format_ratio(tree / size)} the text"


def winner_sentences(run: SavedRun) -> list[str]:
    """Per size: the fastest strategy and the smallest and largest memory peaks."""
    lines = []
    for size, corpus in run.sections:
        cases = run.at(size, corpus)
        fastest = min(cases, key=lambda c: c.median)
        text = f"At {section_title(size, corpus)}, the fastest is {case_label(fastest)}: " \
               f"{format_time_spaced(fastest.median)}, {format_mbps(fastest.throughput)} MB/s"
        base = baseline(cases)
        if base is not None and base is not fastest:
            text += f", {format_ratio(base.median / fastest.median)} the speed of serial split"
        limit = run.limit(fastest)  # the read of its size and worker count, if the run has it
        if limit is not None:
            text += f", {limit.describe()}"
        elif any(s == size for s, _ in run.memory_read):
            text += f", against no limit (the run has no {fastest.workers}-thread read)"
        measured = [c for c in cases if c.peak_tree_bytes is not None]
        if measured:
            small = min(measured, key=lambda c: c.peak_tree_bytes)
            large = max(measured, key=lambda c: c.peak_tree_bytes)
            none = ": no growth of resident memory measured" if small.peak_tree_bytes <= 0 else ""
            text += (f". The smallest memory peak is {case_label(small)} "
                     f"({_peak(small, size)}{none}); the largest is {case_label(large)} "
                     f"({_peak(large, size)})")
        lines.append(text + ".")
    return lines


def copy_fractions(run: SavedRun) -> dict[tuple[str, str], tuple[float, float]]:
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
    a, b = format_percent(low), format_percent(high)
    return a if a == b else f"{a}–{b}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def copy_sentences(run: SavedRun) -> list[str]:
    """What each start method sends to the workers, as a share of the text."""
    fractions = copy_fractions(run)
    if not fractions:
        return []
    size = max(c.text_bytes for c in run.cases)
    lines = []
    executors = sorted({e for e, _ in fractions}, key=lambda e: executor_order(e))
    for executor in executors:
        methods = sorted((m for e, m in fractions if e == executor),
                         key=lambda m: start_method_order(m))
        parts = [f"under {m} {_span(*fractions[executor, m])}" for m in methods]
        parts[0] += " of the text"
        lines.append(f"At {format_size(size)}, {executor} copies to its workers "
                     f"{_join(parts)} (over kernels and worker counts).")
    ordered = sorted(fractions.items(), key=lambda item: (executor_order(item[0][0]),
                                                          start_method_order(item[0][1])))
    whole = [f"{e} ({m})" for (e, m), (lo, _) in ordered if lo >= WHOLE_COPY]
    tiny = [f"{e} ({m})" for (e, m), (_, hi) in ordered if hi < TINY_COPY]
    if whole:
        lines.append(f"The whole text (at least {WHOLE_COPY:.0%}) is serialised to the workers "
                     f"by {_join(whole)}.")
    if tiny:
        lines.append(f"Less than {TINY_COPY:.0%} of it crosses in {_join(tiny)}: the workers "
                     "inherit the text or read it in place.")
    return lines


def thread_scaling(run: SavedRun) -> dict[str, tuple[int, float]]:
    """At the largest size, per kernel: (most threads, speed-up of that many over one thread)."""
    if not run.cases:
        return {}
    size = max(c.text_bytes for c in run.cases)
    out = {}
    for kernel in sorted({c.kernel for c in run.cases}, key=lambda k: kernel_order(k)):
        threads = {c.workers: c for c in run.cases
                   if c.text_bytes == size and c.kernel == kernel and c.executor == "threads"}
        if 1 in threads and len(threads) > 1:
            most = max(threads)
            out[kernel] = (most, threads[1].median / threads[most].median)
    return out


def thread_sentences(run: SavedRun) -> list[str]:
    """How far threads scale, with the GIL status of the run said beside it."""
    scaling = thread_scaling(run)
    if not scaling:
        return []
    size = max(c.text_bytes for c in run.cases)
    facts = run_facts(run)
    parts = [f"{kernel} in {most} threads runs {format_ratio(speedup)} as fast as in one"
             for kernel, (most, speedup) in scaling.items()]
    cpus = facts["machine"].rsplit(", ", 1)[-1]
    return [f"With the GIL {facts['GIL']} on {facts['python']} and {cpus}, at "
            f"{format_size(size)}: {'; '.join(parts)}."]


#: The executors set beside subinterpreters: one in-process rival, and the two that start
#: processes (the fastest start method of each is the one named).
SIDE_BY_SIDE: tuple[str, ...] = ("interpreters", "interpreter-pool", "threads", "processes",
                                 "shared-memory")
#: Those that run in subinterpreters, per call and pooled.
_INTERPRETERS = ("interpreters", "interpreter-pool")


def _fastest_per_executor(cases: Iterable[MeasuredCase]) -> dict[str, MeasuredCase]:
    """Executor -> its fastest case (over start methods) among ``cases``."""
    best: dict[str, MeasuredCase] = {}
    for c in cases:
        if c.executor in SIDE_BY_SIDE and (c.executor not in best
                                           or c.median < best[c.executor].median):
            best[c.executor] = c
    return best


def interpreter_sentences(run: SavedRun) -> list[str]:
    """Subinterpreters beside threads, processes and shared memory, per kernel, at the largest
    size and the most workers the interpreters ran with: time, tree peak and bytes copied. The
    rivals are set against the pooled interpreters where they ran (the steady state), else
    against those made per call."""
    interp = [c for c in run.cases if c.executor in _INTERPRETERS]
    if not interp:
        return []
    size = max(c.text_bytes for c in interp)
    lines = []
    for kernel in sorted({c.kernel for c in interp}, key=lambda k: kernel_order(k)):
        mine = [c for c in interp if c.kernel == kernel and c.text_bytes == size]
        if not mine:
            continue
        workers = max(c.workers for c in mine)
        best = _fastest_per_executor(c for c in run.cases if c.kernel == kernel
                                     and c.text_bytes == size and c.workers == workers)
        pooled = "interpreter-pool" in best
        own = best["interpreter-pool"] if pooled else best["interpreters"]
        parts = []
        for executor in SIDE_BY_SIDE:
            if executor in best:
                c = best[executor]
                method = f" ({c.start_method})" if c.start_method else ""
                parts.append(f"{executor}{method} {format_time_spaced(c.median)} "
                             f"(tree peak {format_bytes_spaced(c.peak_tree_bytes)}, "
                             f"{format_bytes_spaced(c.copied_bytes)} copied)")
        text = (f"At {format_size(size)} with {workers} worker{'s' if workers != 1 else ''}, "
                f"{kernel} takes {_join(parts)}")
        rivals = [f"{format_ratio(best[e].median / own.median)} the speed of {e}"
                  for e in SIDE_BY_SIDE if e in best and e not in _INTERPRETERS]
        if pooled and "interpreters" in best:
            rivals.insert(0, f"{format_ratio(best['interpreters'].median / own.median)} the "
                             "speed of interpreters made per call")
        if rivals:
            text += f"; {'pooled ' if pooled else ''}subinterpreters run at {_join(rivals)}"
        lines.append(text + ".")
    workers_peaks = [c.peak_workers_bytes for c in interp if c.peak_workers_bytes is not None]
    if workers_peaks and not any(workers_peaks):
        lines.append("Per-worker peaks are 0 for interpreters, as for threads: the "
                     "subinterpreters live in the caller's process, so the caller's peak (the "
                     "tree's) holds their memory.")
    return lines


def findings(run: SavedRun) -> list[str]:
    """Every derived sentence of a run, in the order the report shows them."""
    return (winner_sentences(run) + copy_sentences(run) + thread_sentences(run)
            + interpreter_sentences(run))


# --- sections ----------------------------------------------------------------------------------

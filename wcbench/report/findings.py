"""What the report says about a run, computed from its figures: names, facts and sentences.

Every sentence of ``results/report.md`` comes from here (never written by hand): which strategy
wins at each size in time and in memory, what each start method copies to the workers, how far
threads scale, and for a run over many sizes what the fitted lines (:mod:`wcbench.scaling`) say
of the seed's claim and of what fits in the machine; and the names tables, plots and sentences
share (``numpy · processes (spawn)``, ``32MiB of text (ascii)``). Functions return strings;
nothing is printed or written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from wcbench import record
from wcbench.estimate import estimate_case
from wcbench.matrix import Case
from wcbench.record import MatrixUsed, MeasuredCase, SkippedCase
from wcbench.results import (
    SavedRun,
    executor_order,
    kernel_order,
    start_method_order,
)
from wcbench.scaling import Line, StrategyFit, capacity_bytes
from wcbench.units import (
    format_bytes_prose,
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
    states = set(run.distinct(record.GIL_ENABLED))
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
    python = _values(run, record.PYTHON, machine.python_version or "unknown")
    implementation = _values(run, record.IMPLEMENTATION,
                             machine.python_implementation or "unknown")
    cpus = _values(run, record.CPU_COUNT, machine.cpu_count or "unknown")
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


def matrix_label(matrix: MatrixUsed) -> str:
    """``quick`` or ``full, sizes 1MiB``: the named matrix and what replaced its lists."""
    given = ", ".join(f"{name.replace('_', ' ')} {value}"
                      for name, value in matrix.options.items())
    return matrix.name + (f" ({given})" if given else "")


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
        limit = run.read_match(fastest)  # the read of its size and worker count, if the run has it
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


# --- the scale section: what the fitted lines say ----------------------------------------------


def _largest(cases: Iterable[MeasuredCase], strategy: tuple[str, str, str | None]
             ) -> MeasuredCase | None:
    return max((c for c in cases if c.strategy == strategy), key=lambda c: c.text_bytes,
               default=None)


def _at_size(cases: Iterable[MeasuredCase], strategy: tuple[str, str, str | None],
             size: int) -> MeasuredCase | None:
    return next((c for c in cases if c.strategy == strategy and c.text_bytes == size), None)


def seed_claim_sentence(cases: Sequence[MeasuredCase], fits: Sequence[StrategyFit],
                        kernel: str = "numpy") -> str | None:
    """The seed's "8 GB becomes 16 GB", checked at the largest text that ran under spawn.

    ``None`` when no ``processes`` case under spawn ran. The tree peak is growth beyond the text
    the parent already holds, so text and copies together are ``1 + peak / text`` times the text.
    ``cases``: those with a tree peak.
    """
    spawn = _largest(cases, (kernel, "processes", "spawn"))
    if spawn is None or spawn.peak_tree_bytes is None:
        return None
    size = spawn.text_bytes
    ratio = spawn.peak_tree_bytes / size
    slope = {(f.kernel, f.executor, f.start_method): f.memory.per_byte for f in fits}
    fitted = slope.get((kernel, "processes", "spawn"))
    text = (f"The seed's claim, checked: processes under spawn ({kernel} kernel, "
            f"{spawn.workers} workers) held {format_bytes_prose(spawn.peak_tree_bytes)} for a "
            f"{format_bytes_prose(size)} text, {ratio:.2f} x the text")
    text += f" (fitted over every size: {fitted:.2f} per byte)" if fitted is not None else ""
    text += (f", so text and copies together came to {1 + ratio:.2f} x the text, where the seed "
             "said 2 x (8 GB becomes 16 GB)")
    shared = _at_size(cases, (kernel, "shared-memory", "spawn"), size)
    if shared is not None and shared.peak_tree_bytes is not None:
        text += (f"; shared memory under spawn held {shared.peak_tree_bytes / size:.2f} x "
                 "(its one block)")
    return text + "."


def growth_parts(kernel: str, executor: str, method: str | None, workers: int) -> list[str]:
    """What grows with the text in this strategy, by the memory estimate's own part names."""
    small = estimate_case(Case(kernel, executor, method, 1 << 30, workers)).parts
    big = estimate_case(Case(kernel, executor, method, 2 << 30, workers)).parts
    grows = [name for name, value in big.items() if value > small.get(name, 0)]
    return [name.replace("kernel", "word lists") if kernel == "split" else name
            for name in grows]


def _range(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    low, high = fmt(min(values)), fmt(max(values))
    return low if low == high else f"{low}-{high}"


def capacity_sentence(fits: Sequence[StrategyFit], memory_bytes: int,
                      skipped: Sequence[SkippedCase] = ()) -> str | None:
    """Which strategy fits the most text into ``memory_bytes``, and why the others stop earlier.

    Capacity comes from each fitted memory line (the text once, plus fixed, plus per byte x
    text); strategies that stop for the same reason (the same parts of the memory estimate grow
    with the text) are named together.
    """
    if not fits or memory_bytes <= 0:
        return None
    ranked = sorted(fits, key=lambda f: capacity_bytes(f, memory_bytes), reverse=True)
    best = ranked[0]
    most = capacity_bytes(best, memory_bytes)
    tied = [f for f in ranked if capacity_bytes(f, memory_bytes) >= 0.99 * most]  # within 1%
    lines = "their fitted lines" if len(tied) > 1 else "its fitted line"
    text = (f"In this machine's {format_bytes_prose(memory_bytes)}, "
            f"{' and '.join(f.name for f in tied)} {'fit' if len(tied) > 1 else 'fits'} the "
            f"most text: about {format_bytes_prose(most)} by {lines} (beyond the text itself "
            f"{best.name} holds {format_bytes_prose(best.memory.fixed)} plus "
            f"{best.memory.per_byte:.2f} bytes per byte of text)")
    groups: dict[tuple[str, ...], list[StrategyFit]] = {}
    for fit in ranked[len(tied):]:
        why = tuple(growth_parts(fit.kernel, fit.executor, fit.start_method, fit.workers))
        groups.setdefault(why, []).append(fit)
    others = []
    for why, members in groups.items():
        room = _range([capacity_bytes(f, memory_bytes) for f in members], format_bytes_prose)
        per_byte = _range([f.memory.per_byte for f in members], lambda v: f"{v:.2f}")
        others.append(f"{', '.join(f.name for f in members)} about {room} ({per_byte} per byte: "
                      f"{', '.join(why) or 'nothing the estimate expects to grow'})")
    if others:
        text += ". The others stop where what they hold per byte of text runs out of room: "
        text += "; ".join(others)
    if skipped:
        text += (f". {len(skipped)} cases of this run did not run: their estimated peak, or "
                 "time, did not fit (each listed with its estimate)")
    return text + "."


def read_line_sentences(lines: Mapping[int, tuple[str, Line]]) -> list[str]:
    """What reading the bytes costs per GB, per thread count: the limits of the fitted lines."""
    if not lines:
        return []
    parts = [f"{label}: {line.per_byte * 1e9:.3g} s per GB, {1 / (line.per_byte * 1e9):.3g} "
             "GB/s" for label, line in lines.values()]
    return [f"Reading the same bytes once ({'; '.join(parts)}) is the limit of a strategy's "
            "seconds per GB, against the read with as many threads as it has workers."]

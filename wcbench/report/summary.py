"""The few lines a benchmark run ends with: per size, the fastest strategy and the leanest one.

Works on :class:`wcbench.results.Benchmark` objects, read from a saved file or built from a live
pytest-benchmark session, so the same lines come from a live run (root ``conftest.py``) or from
a saved file: ``wcbench summary results/<machine>/0001_*.json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from wcbench import record
from wcbench.limits import BEYOND_NOTE, Reads, match, reads_at
from wcbench.record import MeasuredCase, SkippedCase
from wcbench.report.findings import is_refused
from wcbench.results import Benchmark
from wcbench.units import format_bytes, format_gbps, format_percent, format_time


def _strategy(case: MeasuredCase) -> str:
    parts = [case.kernel, case.executor]
    if case.start_method:
        parts.append(case.start_method)
    return "-".join(parts) + f" w{case.workers}"


def _limit_note(reads: Reads, case: MeasuredCase) -> str:
    """``; 97% of the limit: memory read, 2 threads, native, 17.1 GB/s``; where the run has no
    read of the case's worker count, the reads it has, named (none is its limit)."""
    found = match(reads, case)
    if found is not None:
        parts = [f"{format_percent(found.fraction)} of the limit: {found.read.label}, "
                 f"{format_gbps(case.text_bytes, found.read.seconds)}", found.processes_note,
                 BEYOND_NOTE if found.beyond else ""]
        return "; " + "; ".join(p for p in parts if p)
    others = reads_at(reads, case.text_bytes)
    if not others:
        return ""
    return (f"; no limit: the run has no {case.workers}-thread read, only "
            + " and ".join(f"{r.label}: {format_gbps(r.text_bytes, r.seconds)}" for r in others))


def summary_lines(benchmarks: Iterable[Benchmark],
                  skipped: Sequence[SkippedCase] = ()) -> list[str]:
    """Per text size: fastest strategy (median time, throughput) and smallest memory peak.

    The memory peak compared is ``peak_tree_bytes`` (parent and workers together, copy-on-write
    pages once); the fastest is put beside the read of its size and worker count
    (:mod:`wcbench.limits`), the physical limit.
    """
    by_size: dict[int, list[MeasuredCase]] = {}
    benchmarks = [b for b in benchmarks if record.has_text(b.extra_info)]
    reads = record.reads_of(benchmarks)
    for bench in benchmarks:
        if bench.kind == record.WORDCOUNT:
            case = MeasuredCase.from_benchmark(bench)
            by_size.setdefault(case.text_bytes, []).append(case)
    lines = []
    for size in sorted(by_size):
        cases = by_size[size]
        fastest = min(cases, key=lambda c: c.median)
        line = (f"{format_bytes(size)} ({len(cases)} cases): fastest {_strategy(fastest)} "
                f"{format_time(fastest.median)} ({format_gbps(size, fastest.median)}")
        line += _limit_note(reads, fastest) + ")"
        measured = [c for c in cases if c.peak_tree_bytes is not None]
        if measured:
            lean = min(measured, key=lambda c: (c.peak_tree_bytes, c.median))
            line += (f"; smallest peak {_strategy(lean)} {format_bytes(lean.peak_tree_bytes)} "
                     f"tree, {format_bytes(lean.copied_bytes or 0)} copied, "
                     f"{format_time(lean.median)}")
        lines.append(line)
    refused = [s for s in skipped if is_refused(s)]
    estimated = [s for s in skipped if not is_refused(s)]
    if estimated:
        lines.append(f"skipped by the memory estimate ({len(estimated)}, reasons above and in "
                     f"the saved run): {', '.join(str(s.name) for s in estimated)}")
    for reason in dict.fromkeys(str(s.reason) for s in refused):
        names = [str(s.name) for s in refused if s.reason == reason]
        lines.append(f"refused ({len(names)}): {', '.join(names)}: {reason}")
    return lines


"""A process tree's memory and the bytes pickled across it: the figures, and ``measure_tree``.

Two views are joined here, each what it does best:

- from outside, the sampler process (:mod:`wcbench.sampler`): the tree's summed PSS over time
  (a page shared after ``fork`` counted once), each process's peak PSS, private (USS) and
  resident sizes, its parent and command line; it sees every process, Python or not;
- from inside, the probe (:mod:`wcbench.probe`): each Python process's exact peak (``VmHWM``),
  its role and start method, and the bytes multiprocessing pickled in it.

Bytes pickled in the main process (or another Python process that is not a worker) are counted
as sent to workers, bytes pickled in a worker as sent back. What cannot be seen is said, never
counted as 0: a Python process that wrote no report, a transport of another library (loky's,
Dask's), or a command with no Python process at all.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import gc
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wcbench import probe
from wcbench.probe import Report
from wcbench.sampler import SAMPLE_SECONDS, ProcessPeak, TreeSampler, Window
from wordcount.procmem import reset_peak, status


@dataclass(frozen=True)
class ProcessFigures:
    """One process of the tree: what the sampler saw of it and what it reported (bytes)."""

    pid: int
    ppid: int
    role: str
    start_method: str | None
    cmdline: tuple[str, ...]
    #: Sampled from outside (None: it lived and died between two samples).
    peak_pss_bytes: int | None = None
    peak_uss_bytes: int | None = None
    #: Exact (``VmHWM``) when it reported, else the largest resident size sampled.
    peak_rss_bytes: int | None = None
    #: Its peak private memory, estimated as the suite's workers report theirs.
    peak_private_bytes: int | None = None
    #: Bytes multiprocessing pickled in it (None: no report, not measured).
    pickled_bytes: int | None = None
    pickled_messages: int | None = None
    first_seen: float | None = None
    last_seen: float | None = None
    #: Why figures are missing, or what it used that is not counted.
    note: str | None = None
    report: Report | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return probe.role_label(self.role, self.start_method)

    @property
    def is_worker(self) -> bool:
        return self.role in probe.WORKER_ROLES

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "ppid": self.ppid, "role": self.role,
                "start_method": self.start_method, "cmdline": list(self.cmdline),
                "peak_pss_bytes": self.peak_pss_bytes, "peak_uss_bytes": self.peak_uss_bytes,
                "peak_rss_bytes": self.peak_rss_bytes,
                "peak_private_bytes": self.peak_private_bytes,
                "pickled_bytes": self.pickled_bytes, "pickled_messages": self.pickled_messages,
                "first_seen": self.first_seen, "last_seen": self.last_seen, "note": self.note}


_NO_REPORT = ("a Python process that wrote no report: still running when the window closed, "
              "started with -I, -E or -S, or ended before it could (killed, or left through "
              "os._exit outside multiprocessing)")


def _unreported(peak: ProcessPeak) -> ProcessFigures:
    role = probe.unreported_role(peak.cmdline)
    note = _NO_REPORT if role in (probe.NO_REPORT, probe.WORKER_NO_REPORT) else None
    return ProcessFigures(peak.pid, peak.ppid, role,
                          None, tuple(peak.cmdline), peak.peak_pss, peak.peak_uss,
                          peak.peak_rss, None, None, None, peak.first_seen, peak.last_seen, note)


def _reported(report: Report, role: str, peak: ProcessPeak | None) -> ProcessFigures:
    foreign = report.foreign_transports
    note = (f"{', '.join(foreign)} loaded: its own transport is not counted" if foreign else None)
    return ProcessFigures(  # the parent it started with (at its end it may have been adopted)
        report.pid, peak.ppid if peak else report.ppid, role, report.start_method,
        report.cmdline,
        peak.peak_pss if peak else None, peak.peak_uss if peak else None,
        report.peak_rss_bytes, report.peak_private_bytes, report.pickled_bytes,
        report.pickled_messages, peak.first_seen if peak else None,
        peak.last_seen if peak else None, note, report)


def tree_order(processes: list[ProcessFigures]) -> list[tuple[int, ProcessFigures]]:
    """``(depth, process)`` depth first from the roots (a process whose parent is not listed),
    children by pid."""
    pids = {p.pid for p in processes}
    children: dict[int | None, list[ProcessFigures]] = {}
    for p in sorted(processes, key=lambda p: p.pid):
        children.setdefault(p.ppid if p.ppid in pids else None, []).append(p)
    out: list[tuple[int, ProcessFigures]] = []
    stack = [(0, p) for p in reversed(children.get(None, []))]
    while stack:
        depth, p = stack.pop()
        out.append((depth, p))
        stack += [(depth + 1, c) for c in reversed(children.get(p.pid, []))]
    return out


@dataclass
class TreeFigures:
    """A tree measured over one window: its peak, every process, the bytes pickled each way."""

    #: Largest growth of the tree's summed PSS over the window (for a command, whose tree did
    #: not exist before, its largest size), never below one process's peak private memory.
    peak_tree_bytes: int = 0
    #: The tree's PSS at the first sample.
    before_bytes: int = 0
    processes: list[ProcessFigures] = field(default_factory=list)
    #: Bytes pickled in processes that are not workers (to workers), and in workers (back),
    #: as counted; None when not measured (see ``not_measured``).
    copied_bytes: int | None = None
    returned_bytes: int | None = None
    counted_to_workers: int = 0
    counted_back: int = 0
    messages_to_workers: int = 0
    #: Why the bytes pickled to workers, or back, are not measured: empty when they are.
    copied_not_measured: list[str] = field(default_factory=list)
    returned_not_measured: list[str] = field(default_factory=list)
    #: ``[seconds, tree PSS, {pid: PSS}]`` per kept sample, when asked for.
    timeline: list[list] = field(default_factory=list)
    samples: int = 0
    seconds: float = 0.0

    @property
    def main(self) -> ProcessFigures | None:
        return next((p for p in self.processes if p.role == probe.MAIN), None)

    @property
    def workers(self) -> list[ProcessFigures]:
        return [p for p in self.processes if p.is_worker]

    @property
    def peak_workers_bytes(self) -> int:
        """The sum of the workers' peak private memory (the suite's ``peak_workers_bytes``)."""
        return sum(p.peak_private_bytes or 0 for p in self.workers)

    @property
    def not_measured(self) -> list[str]:
        """Every reason either figure of bytes pickled is not measured, once each."""
        return list(dict.fromkeys([*self.copied_not_measured, *self.returned_not_measured]))


def combine(window: Window, reports: Mapping[int, Report], *, baseline: int = 0,
            extra: Mapping[int, Report] | None = None) -> TreeFigures:
    """The sampler's window and the probe's reports, joined by pid. ``baseline``: the PSS the
    peak is grown from (0 for a command). ``extra``: reports of processes the sampler does not
    list (the measuring process itself, seen from inside)."""
    all_reports = {**reports, **(extra or {})}
    processes: list[ProcessFigures] = []
    for pid, peak in window.processes.items():
        report = all_reports.get(pid)
        processes.append(_reported(report, probe.role_of(report, all_reports, peak.ppid), peak)
                         if report else _unreported(peak))
    for pid in set(all_reports) - set(window.processes):  # lived between two samples
        report = all_reports[pid]
        processes.append(_reported(report, probe.role_of(report, all_reports), None))
    by_pid = {p.pid: p for p in processes}
    for i, p in enumerate(processes):
        # a child still running its parent's command line is a fork (a fork server's child, a
        # fork worker, a spawn child not yet exec'd): a worker of multiprocessing's, by far the
        # most likely, whose own pickles (results) are then unknown
        parent = by_pid.get(p.ppid)
        if p.report is None and p.role in (probe.FORKSERVER, probe.NO_REPORT) \
                and parent is not None and parent.cmdline == p.cmdline:
            processes[i] = dataclasses.replace(p, role=probe.WORKER_NO_REPORT, note=_NO_REPORT)
    figures = TreeFigures(before_bytes=window.before, timeline=window.timeline,
                          samples=window.samples, seconds=window.seconds,
                          processes=[p for _, p in tree_order(processes)])
    # never below what one process started in the window held privately at its peak
    private = [p.peak_private_bytes or 0 for p in processes if p.pid in reports]
    figures.peak_tree_bytes = max(window.peak - baseline, *private, 0)
    _count_pickled(figures)
    return figures


def _count_pickled(figures: TreeFigures) -> None:
    """Bytes pickled each way, and why either is not measured: a sender without a report (the
    main process, another Python process) leaves the bytes to workers unknown, a worker without
    one the bytes back; another library's transport leaves both unknown."""
    to, back = [], []
    pythons = [p for p in figures.processes if p.role != probe.NOT_PYTHON]
    if not any(p.report for p in pythons):
        to.append("no Python process of the tree reported (no multiprocessing to count)")
    senders = [p for p in pythons if p.report is None and p.role == probe.NO_REPORT]
    if senders:
        to.append(_missing(senders))
    workers = [p for p in pythons if p.report is None and p.role == probe.WORKER_NO_REPORT]
    if workers:
        back.append(_missing(workers))
    foreign = sorted({t for p in pythons if p.report for t in p.report.foreign_transports})
    if foreign:
        to.append(f"{', '.join(foreign)} moved data through a transport of its own, which is "
                  "not counted")
        back.append(to[-1])
    for p in pythons:
        if p.pickled_bytes is None:
            continue
        if p.is_worker:
            figures.counted_back += p.pickled_bytes
        elif p.role in (probe.MAIN, probe.PYTHON):
            figures.counted_to_workers += p.pickled_bytes
            figures.messages_to_workers += p.pickled_messages or 0
    figures.copied_not_measured, figures.returned_not_measured = to, back
    figures.copied_bytes = None if to else figures.counted_to_workers
    figures.returned_bytes = None if back else figures.counted_back


def _missing(processes: list[ProcessFigures]) -> str:
    return (f"{len(processes)} Python process(es) wrote no report (pid "
            f"{', '.join(str(p.pid) for p in processes)}): what they pickled is unknown")


# --- the API: measure the calling process's own tree ----------------------------------------------


class TreeMeasurement:
    """What ``measure_tree`` found, filled in when its block ends (see :func:`measure_tree`)."""

    def __init__(self) -> None:
        self.figures = TreeFigures()
        #: The calling process's own peak growth over the block (``VmHWM``, reset at entry).
        self.peak_parent_bytes = 0

    @property
    def peak_tree_bytes(self) -> int:
        """Largest growth of the tree's summed PSS over the block (bytes)."""
        return self.figures.peak_tree_bytes

    @property
    def peak_workers_bytes(self) -> int:
        return self.figures.peak_workers_bytes

    @property
    def copied_bytes(self) -> int | None:
        """Bytes multiprocessing pickled to workers during the block; None when not measured
        (``not_measured`` says why)."""
        return self.figures.copied_bytes

    @property
    def returned_bytes(self) -> int | None:
        return self.figures.returned_bytes

    @property
    def not_measured(self) -> list[str]:
        return self.figures.not_measured

    @property
    def processes(self) -> list[ProcessFigures]:
        """Every process of the tree seen during the block, the calling one first."""
        return self.figures.processes


def trim_heap() -> None:
    """Collect garbage and hand freed heap back to the OS (glibc's ``malloc_trim``), so that a
    call measured next is seen allocating what it allocates, not reusing what earlier code freed
    and the allocator kept resident."""
    gc.collect()
    libc_name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc_name), "malloc_trim", None) if libc_name else None
    if trim is not None:
        trim(0)


@contextlib.contextmanager
def _probe_environment(directory: str) -> Iterator[None]:
    keys = ("PYTHONPATH", probe.DIR_ENV)
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: v for k, v in probe.environment(directory).items() if k in keys})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def measure_tree(*, interval: float = SAMPLE_SECONDS, timeline: bool = False,
                 sampler: TreeSampler | None = None, count_pickles: bool = True,
                 directory: Path | None = None) -> Iterator[TreeMeasurement]:
    """Measure this process and every process it starts during the block.

    >>> import wcbench
    >>> with wcbench.measure_tree() as m:            # doctest: +SKIP
    ...     word_count(text, processes=2)
    >>> m.peak_tree_bytes, m.peak_parent_bytes, m.copied_bytes   # doctest: +SKIP
    (1419894784, 352321536, 1073742208)
    >>> [(p.label, p.pid, p.peak_pss_bytes) for p in m.processes]   # doctest: +SKIP

    The tree is sampled by a separate process (no thread is added here); this process's peak is
    exact (``VmHWM``, reset at entry). With ``count_pickles``, the probe counts what
    multiprocessing pickles here, and the children started during the block load it (spawn and
    forkserver children through ``PYTHONPATH``, set for the block; fork children inherit it): a
    fork server or pool started before the block is not probed, and a worker still running when
    the block ends has not reported yet (both are said in ``not_measured``). ``directory``: where
    the probe's files go and stay (default: a temporary directory, removed).
    """
    result = TreeMeasurement()
    me = os.getpid()
    sampler = sampler or TreeSampler(me, interval, timeline=timeline)
    keep = directory is not None  # the probe's files stay there (a capture's, say)
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="wcbench-tree-")) if count_pickles else None
    state = before = None
    if directory is not None:
        state = probe.probe_module().install(str(directory), at_exit=False)
        state.directory = str(directory)
        report = state.report("running")
        before = {**report["pickled"], "received": report["received"]}
    try:
        with contextlib.ExitStack() as stack:
            if directory is not None:
                stack.enter_context(_probe_environment(str(directory)))
            stack.enter_context(sampler)
            reset_peak()
            rss_before = status()["VmRSS"]
            yield result
            result.peak_parent_bytes = max(status()["VmHWM"] - rss_before, 0)
        assert sampler.window is not None
        reports = probe.read_reports(directory) if directory else {}
        extra = {}
        if state is not None and before is not None:
            extra[me] = _own_report(state, before)
        result.figures = combine(sampler.window, reports, baseline=sampler.before, extra=extra)
        result.figures.peak_tree_bytes = max(result.figures.peak_tree_bytes,
                                             result.peak_parent_bytes)
        if not count_pickles:
            result.figures.copied_not_measured = ["count_pickles=False"]
            result.figures.returned_not_measured = ["count_pickles=False"]
            result.figures.copied_bytes = result.figures.returned_bytes = None
    finally:
        if directory is not None and not keep:
            shutil.rmtree(directory, ignore_errors=True)


def _own_report(state: object, before: Mapping[str, Mapping[str, int]]) -> Report:
    """This process's report for the block: its pickles since the block began."""
    now = state.report("running")  # type: ignore[attr-defined]
    def since(now: Mapping[str, int], then: Mapping[str, int]) -> dict[str, int]:
        return {"bytes": now["bytes"] - then["bytes"],
                "messages": now["messages"] - then["messages"]}

    now["pickled"] = {k: since(v, before[k]) for k, v in now["pickled"].items()}
    now["received"] = since(now["received"], before["received"])
    return Report.from_json(now)

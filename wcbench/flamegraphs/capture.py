"""Capturing one scenario under memray: the parent, its workers, their figures and pages.

The parent runs in ``memray.Tracker(follow_fork=True)``; workers are captured by the hooks of
``wcbench.flamegraphs.hooks``. Afterwards each worker's files are renamed ``worker-<i>``
(numbered by the first chunk it counted), each capture is read for memray's figures and
rendered as a page whose title names the scenario and the process, and ``scenario.json`` holds
every process's figures, with the benchmark suite's memory figures of the same call made again
after the capture (``measure_memory``, without memray) to set beside memray's.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import pickle
import re
import shutil
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import util
from pathlib import Path
from typing import Any

from wcbench import sampler as sampling
from wcbench.flamegraphs import hooks
from wcbench.flamegraphs.hooks import ProcessFigures, WorkerCapture
from wcbench.flamegraphs.stats import capture_stats
from wcbench.matrix import Case
from wcbench.memory import measure_memory
from wcbench.record import memory_fields
from wcbench.sampler import TreeSampler
from wcbench.storage import atomic_write
from wordcount import count_report
from wordcount.api import CountReport
from wordcount.executors import PROCESS_EXECUTORS
from wordcount.measure import Measurement
from wordcount.text import chunk_spans
from wordcount.transfer import TransferMeter

#: Executors whose worker processes run several tasks, so their captures close at exit.
POOL_EXECUTORS: frozenset[str] = frozenset({"process-pool"})
#: Version of ``scenario.json`` (and of the index's ``index.json``).
SCENARIO_FORMAT = 2
#: CPython's warning of a fork in a multi-threaded process, which memray's thread sets off.
MEMRAY_FORK_WARNING = r"This process \(pid=\d+\) is multi-threaded, use of fork\(\)"
#: How often the parent's shared mappings are read while it counts (seconds).
PARENT_SAMPLE_SECONDS = 0.005


@contextmanager
def _captured(directory: Path, hook: WorkerCapture | None, native_traces: bool,
              python_allocators: bool) -> Iterator[None]:
    """Capture this process into ``directory/parent.bin``, its fork children beside it, and
    (with ``hook``, which the call's tasks carry) every spawn or forkserver worker that unpickles
    a task. The options apply to the parent whether or not it has workers (threads and
    subinterpreters are in its capture)."""
    import memray

    tracker = memray.Tracker(directory / "parent.bin", follow_fork=True,
                             native_traces=native_traces,
                             trace_python_allocators=python_allocators)
    if hook is not None:
        util.register_after_fork(hook, hooks.adopt_fork)
    with tracker:
        hooks.set_parent_tracker(tracker)
        try:
            yield
        finally:
            hooks.set_parent_tracker(None)


@dataclass(frozen=True)
class ProcessCapture:
    """One captured process of a scenario: ``parent`` or ``worker-<i>``, and its files."""

    label: str
    pid: int
    chunks: tuple[int, ...]
    chunk_bytes: int
    capture: Path
    figures: ProcessFigures


_PID_FILE = re.compile(r"(?:parent\.bin\.|pid-)(\d+)(?:\.bin)?$")


def _worker_files(directory: Path) -> dict[int, Path]:
    """Worker captures by pid: ``parent.bin.<pid>`` (followed forks) and ``pid-<pid>.bin``."""
    found = {}
    for path in directory.iterdir():
        match = _PID_FILE.fullmatch(path.name)
        if match:
            found[int(match.group(1))] = path
    return found


def _worker_figures(directory: Path, pid: int) -> ProcessFigures:
    path = directory / f"pid-{pid}.json"
    if not path.exists():
        return ProcessFigures(pid=pid)
    figures = ProcessFigures(**json.loads(path.read_text()))
    path.unlink()
    return figures


def _name_processes(directory: Path, report: CountReport, chunk_sizes: Sequence[int],
                    parent: ProcessFigures, captured: bool) -> list[ProcessCapture]:
    """Rename worker captures to ``worker-<i>.bin``, numbered by the first chunk each counted
    (workers that got no task, possible in a pool, come last). ``captured``: every worker
    process must have a capture (not so for Dask's workers)."""
    parent_pid = os.getpid()
    by_pid: dict[int, list[int]] = {}
    for c in sorted(report.chunks, key=lambda c: c.index):
        if c.pid != parent_pid:
            by_pid.setdefault(c.pid, []).append(c.index)
    files = _worker_files(directory)
    missing = sorted(set(by_pid) - set(files))
    if missing and captured:
        raise RuntimeError(f"no memray capture for worker process(es) {missing} in {directory}")
    by_pid = {pid: chunks for pid, chunks in by_pid.items() if pid in files}
    order = sorted(by_pid, key=lambda pid: by_pid[pid][0])
    order += sorted(set(files) - set(by_pid))
    parent_chunks = tuple(c.index for c in report.chunks if c.pid == parent_pid)
    processes = [ProcessCapture("parent", parent_pid, parent_chunks,
                                sum(chunk_sizes[i] for i in parent_chunks),
                                directory / "parent.bin", parent)]
    for i, pid in enumerate(order):
        target = directory / f"worker-{i}.bin"
        files[pid].rename(target)
        chunks = tuple(by_pid.get(pid, ()))
        processes.append(ProcessCapture(f"worker-{i}", pid, chunks,
                                        sum(chunk_sizes[c] for c in chunks), target,
                                        _worker_figures(directory, pid)))
    return processes


def render_flamegraph(capture: Path, title: str) -> Path:
    """``memray flamegraph --no-web`` (its scripts inlined) beside the capture, its page titled
    ``title`` instead of memray's own "flamegraph report", the same on every page."""
    from memray.commands import main as memray_main

    page = capture.with_suffix(".html")
    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        status = memray_main(["flamegraph", "--no-web", "--force", "--output", str(page),
                              str(capture)])  # memray's own command, in this process
    if status != 0 or not page.exists():
        raise RuntimeError(f"memray flamegraph failed for {capture}: {said.getvalue().strip()}")
    content = page.read_text()
    escaped = html.escape(title)
    content, titled = re.subn(r"<title>[^<]*</title>", f"<title>{escaped}</title>", content,
                              count=1)
    content = re.sub(r'(<span class="navbar-brand[^"]*">memray</span>)\s*[^<]*',
                     rf"\1 {escaped}", content, count=1)
    if not titled:
        raise RuntimeError(f"no <title> in memray's page {page}")
    page.write_text(content)
    return page


def mapped_sizes(mappings: list[dict[str, Any]]) -> dict[str, int]:
    """Each mapped file's size once, however many times it is mapped (a fork child inherits its
    parent's mapping of a block and attaches it again)."""
    sizes: dict[str, int] = {}
    for m in mappings:
        sizes[m["path"]] = max(sizes.get(m["path"], 0), m["size"])
    return sizes


def _sent_by_workers(report: CountReport, parent_pid: int) -> dict[int, int]:
    """Bytes each worker process sent back: its results, pickled."""
    sent: dict[int, int] = {}
    for c in report.chunks:
        if c.pid != parent_pid:
            sent[c.pid] = sent.get(c.pid, 0) + len(pickle.dumps(c))
    return sent


def _entry(proc: ProcessCapture, sent: int, received: int, page: Path | None) -> dict[str, Any]:
    f = proc.figures
    return {"role": "parent" if proc.label == "parent" else "worker", "label": proc.label,
            "pid": proc.pid, "chunks": list(proc.chunks), "chunk_bytes": proc.chunk_bytes,
            **capture_stats(proc.capture),
            "private_start_bytes": f.private_start, "peak_rss_bytes": f.peak_rss,
            "peak_private_bytes": f.peak_private,
            "private_growth_bytes": max(f.peak_private - f.private_start, 0),
            "shared_bytes": sum(m["rss"] for m in f.shared_mappings),
            "shared_mapped_bytes": sum(mapped_sizes(f.shared_mappings).values()),
            "shared_mappings": f.shared_mappings, "received_bytes": received,
            "sent_bytes": sent, "capture": proc.capture.name,
            "page": page.name if page else None, "reason": None}


def capture_scenario(case: Case, text: bytes, root: Path, *, corpus_label: str = "ascii",
                     native_traces: bool = False, python_allocators: bool = True,
                     render: bool = True, suite: bool = True) -> dict[str, Any]:
    """Count ``text`` once as ``case`` says under memray; write ``root/<case.name>/`` (captures,
    pages, ``scenario.json``) and return what ``scenario.json`` holds. ``suite``: measure the
    same call again as the benchmark suite does, without memray, for comparison."""
    directory = (root / case.name).resolve()
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    hook = None
    if case.executor in PROCESS_EXECUTORS:
        hook = WorkerCapture(str(directory), os.getpid(), case.executor not in POOL_EXECUTORS,
                             native_traces, python_allocators)
    meter = TransferMeter()
    # The parent's shared mappings are read from outside while it counts (a block it creates is
    # unmapped before the call returns): by the sampler process, started before the capture.
    sampler = TreeSampler(os.getpid(), PARENT_SAMPLE_SECONDS, mappings=True,
                          ignore_under=str(directory), process=sampling.shared())
    with sampler, _captured(directory, hook, native_traces, python_allocators):
        # (the window opens before the capture and closes after it: its messages are not in it)
        parent = ProcessFigures.start()  # memray's own start-up not counted
        with warnings.catch_warnings():
            # Under fork, memray's own sampling thread (native, not the suite's) runs in the
            # parent as workers are forked, which follow_fork is made for; CPython 3.12+ warns
            # of any fork beside another thread, this one included (docs/flamegraphs.md).
            warnings.filterwarnings("ignore", message=MEMRAY_FORK_WARNING,
                                    category=DeprecationWarning)
            report = count_report(text, kernel=case.kernel, executor=case.executor,
                                  workers=case.workers, start_method=case.start_method,
                                  measure=Measurement(meter=meter, capture=hook))
    assert sampler.window is not None
    parent.note_shared([{"path": path, **sizes} for path, sizes in sampler.window.mappings.items()])
    parent.read(str(directory))  # after the capture, so that reading /proc is not in it
    sizes = [b - a for a, b in chunk_spans(text, case.workers)]
    processes = _name_processes(directory, report, sizes, parent, hook is not None)
    uncaptured = sorted({c.pid for c in report.chunks} - {p.pid for p in processes})
    sent = _sent_by_workers(report, os.getpid())
    entries = []
    for proc in processes:
        title = f"{case.name}: {proc.label} (pid {proc.pid}) - memray flamegraph"
        page = render_flamegraph(proc.capture, title) if render else None
        if proc.label == "parent":
            entries.append(_entry(proc, meter.bytes, sum(sent.values()), page))
        else:
            entries.append(_entry(proc, sent.get(proc.pid, 0), proc.figures.received, page))
    suite_figures = measure_memory(text, kernel=case.kernel, executor=case.executor,
                                   workers=case.workers, start_method=case.start_method) \
        if suite else None
    data = {"version": SCENARIO_FORMAT, "name": case.name, "kernel": case.kernel,
            "executor": case.executor, "start_method": report.start_method, "size": case.size,
            "workers": case.workers, "corpus": corpus_label, "count": report.count,
            "native_traces": native_traces, "python_allocators": python_allocators,
            "pickled_messages": meter.messages,
            "suite": memory_fields(suite_figures) if suite_figures else None,
            "processes": entries,
            "uncaptured_workers": uncaptured}
    # written last, and whole (renamed into place): its presence means the scenario finished
    atomic_write(directory / "scenario.json", (json.dumps(data, indent=1) + "\n").encode())
    return data


"""memray flamegraphs of the parent and of every worker process, one scenario at a time.

Each scenario (a matrix ``Case``) is counted once under memray, outside any timing, in a fresh
parent process of its own (``--here`` runs them all in one). How each process gets captured:

- The parent runs in ``memray.Tracker(follow_fork=True)``. memray itself follows *fork* children
  (the workers of ``processes``, ``shared-memory`` and ``process-pool`` under ``fork``) into
  ``parent.bin.<pid>``, from the fork on.
- Spawn and forkserver workers are fresh interpreters memray cannot follow. For them a
  ``WorkerCapture`` hook rides in every ``Task`` ahead of the chunk (passed to ``count_report``
  as ``wordcount.measure.Measurement.capture``); unpickling it starts a ``Tracker`` in the
  worker, so the chunk's own unpickling is in the capture.
- Every worker's capture is closed once its task's result exists and before it is sent: the
  parent stops children as soon as it has their results, and they end in ``os._exit``. A pool
  worker runs several tasks into one capture, closed when the worker exits at pool shutdown.
- Threads and the serial executor run in the parent: its capture shows them. Dask's workers
  are its own processes, outside the hook: the index lists them as not captured.

memray's limits met here (1.20, CPython 3.11): a new ``Tracker`` cannot start in a fork child of a
tracked parent (its thread-name patch is inherited and ``__enter__`` asserts on it), hence
``follow_fork`` for fork; memray hides, on the thread that enters a ``Tracker``, every frame below
the entering one, hence a worker enters its tracker from a short-lived thread, or the chunk's
unpickling in spawn's ``_main`` would show with no stack; and nothing closes a child's tracker
for it: the child must exit it, before the parent, holding the result, terminates the child.

Output under ``results/flamegraphs/``: ``<scenario>/parent.html`` and ``worker-<i>.html``
(workers numbered by the first chunk they counted) with the raw ``.bin`` captures beside them for
``memray summary/stats/table``, a ``scenario.json`` of each process's figures, and ``index.html``
linking everything. Pages are rendered by ``memray flamegraph --no-web``, which inlines its
scripts and styles, so they open offline.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import json
import multiprocessing.forkserver
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import util
from pathlib import Path
from typing import Any

from wcbench import corpus
from wcbench.matrix import Case, build_cases, parse_list
from wordcount import count_report
from wordcount.executors import PROCESS_EXECUTORS, get_executor
from wordcount.measure import Measurement
from wordcount.text import chunk_spans

DEFAULT_OUTPUT = Path("results") / "flamegraphs"
#: Small on purpose: every scenario is run and rendered once, and each page is a few MB.
DEFAULT_SIZES: tuple[str, ...] = ("1MiB",)
DEFAULT_WORKERS: tuple[int, ...] = (2,)
#: Dask's workers are its own long-lived processes, outside the Task hook: not captured here.
DEFAULT_EXECUTORS: tuple[str, ...] = ("serial", "threads", "processes", "process-pool",
                                      "shared-memory")
#: Executors whose worker processes run several tasks, so their captures close at exit.
POOL_EXECUTORS: frozenset[str] = frozenset({"process-pool"})
#: Version of ``scenario.json``.
FORMAT_VERSION = 1

# --- worker side -----------------------------------------------------------------------------
# State per process. A fork child inherits both; everything is keyed or checked by pid.

#: The parent's tracker while a scenario runs (memray follows fork children with it).
_parent_tracker: Any = None
#: The tracker recording each worker process, by pid.
_open: dict[int, Any] = {}


@dataclass(frozen=True)
class WorkerCapture:
    """The capture hook tasks carry to workers (``wordcount.measure.CaptureHook``).

    Pickled, it is rebuilt by ``_start_in_worker``, which starts the worker's capture. ``directory``
    receives ``pid-<pid>.bin``; ``one_task_per_process`` closes the capture after the task.
    """

    directory: str
    parent_pid: int
    one_task_per_process: bool
    native_traces: bool = False
    python_allocators: bool = True

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (_start_in_worker, (self.directory, self.parent_pid, self.one_task_per_process,
                                   self.native_traces, self.python_allocators))

    def task_done(self) -> None:
        """Close this worker's capture if its process runs no other task (no-op in the parent)."""
        if self.one_task_per_process:
            _close()


def _start_in_worker(*fields: Any) -> WorkerCapture:
    """Unpickling a hook in a worker: start its capture before the rest of the task is unpickled."""
    hook = WorkerCapture(*fields)
    pid = os.getpid()
    if pid != hook.parent_pid and pid not in _open:
        import memray

        tracker = memray.Tracker(Path(hook.directory) / f"pid-{pid}.bin",
                                 native_traces=hook.native_traces,
                                 trace_python_allocators=hook.python_allocators)
        # memray hides, in the thread that enters a Tracker, every frame below the entering one;
        # entered here, that would hide spawn's ``_main``, where the chunk is being unpickled.
        # Entering from a short-lived thread keeps this thread's whole stack in the capture.
        failed: list[BaseException] = []
        starter = threading.Thread(target=_enter, args=(tracker, failed), name="memray-start")
        starter.start()
        starter.join()
        if failed:
            raise failed[0]  # the task fails to unpickle: the worker fails loudly
        _open[pid] = tracker
        # Pool workers exit normally and run this; a one-task process closes in task_done.
        util.Finalize(None, _close, exitpriority=100)
    return hook


def _enter(tracker: Any, failed: list[BaseException]) -> None:
    try:
        tracker.__enter__()
    except BaseException as exc:
        failed.append(exc)


def _adopt_fork(hook: WorkerCapture) -> None:
    """In a multiprocessing fork child: memray's follow_fork now records this process."""
    if _parent_tracker is not None:
        _open[os.getpid()] = _parent_tracker
        util.Finalize(None, _close, exitpriority=100)


def _close() -> None:
    """Stop this worker's capture, writing its file completely (idempotent)."""
    tracker = _open.pop(os.getpid(), None)
    if tracker is not None:
        tracker.__exit__(None, None, None)


# --- parent side -----------------------------------------------------------------------------


@contextmanager
def _captured(directory: Path, hook: WorkerCapture | None) -> Iterator[None]:
    """Capture this process into ``directory/parent.bin``, its fork children beside it, and
    (with ``hook``, which the call's tasks carry) every spawn or forkserver worker that unpickles
    a task."""
    global _parent_tracker
    import memray

    tracker = memray.Tracker(directory / "parent.bin", follow_fork=True,
                             native_traces=hook.native_traces if hook else False,
                             trace_python_allocators=hook.python_allocators if hook else True)
    if hook is not None:
        util.register_after_fork(hook, _adopt_fork)
    with tracker:
        _parent_tracker = tracker
        try:
            yield
        finally:
            _parent_tracker = None


@dataclass(frozen=True)
class ProcessCapture:
    """One captured process of a scenario: ``parent`` or ``worker-<i>``, and its files."""

    label: str
    pid: int
    chunks: tuple[int, ...]
    chunk_bytes: int
    capture: Path


_PID_FILE = re.compile(r"(?:parent\.bin\.|pid-)(\d+)(?:\.bin)?$")


def _worker_files(directory: Path) -> dict[int, Path]:
    """Worker captures by pid: ``parent.bin.<pid>`` (followed forks) and ``pid-<pid>.bin``."""
    found = {}
    for path in directory.iterdir():
        match = _PID_FILE.fullmatch(path.name)
        if match:
            found[int(match.group(1))] = path
    return found


def _name_processes(directory: Path, chunk_pids: dict[int, int], chunk_sizes: Sequence[int],
                    captured: bool) -> list[ProcessCapture]:
    """Rename worker captures to ``worker-<i>.bin``, numbered by the first chunk each counted
    (workers that got no task, possible in a pool, come last). ``captured``: every worker
    process must have a capture (not so for Dask's workers)."""
    parent_pid = os.getpid()
    by_pid: dict[int, list[int]] = {}
    for index, pid in sorted(chunk_pids.items()):
        if pid != parent_pid:
            by_pid.setdefault(pid, []).append(index)
    files = _worker_files(directory)
    missing = sorted(set(by_pid) - set(files))
    if missing and captured:
        raise RuntimeError(f"no memray capture for worker process(es) {missing} in {directory}")
    by_pid = {pid: chunks for pid, chunks in by_pid.items() if pid in files}
    order = sorted(by_pid, key=lambda pid: by_pid[pid][0])
    order += sorted(set(files) - set(by_pid))
    parent_chunks = tuple(i for i, pid in sorted(chunk_pids.items()) if pid == parent_pid)
    processes = [ProcessCapture("parent", parent_pid, parent_chunks,
                                sum(chunk_sizes[i] for i in parent_chunks),
                                directory / "parent.bin")]
    for i, pid in enumerate(order):
        target = directory / f"worker-{i}.bin"
        files[pid].rename(target)
        chunks = tuple(by_pid.get(pid, ()))
        processes.append(ProcessCapture(f"worker-{i}", pid, chunks,
                                        sum(chunk_sizes[c] for c in chunks), target))
    return processes




def capture_stats(path: Path, frames: int = 4) -> dict[str, Any]:
    """Peak heap, bytes and number of allocations, and the biggest allocation site at the peak,
    read with memray's ``FileReader``."""
    from memray import AllocatorType, FileReader

    freeing = {AllocatorType.FREE, AllocatorType.MUNMAP, AllocatorType.PYMALLOC_FREE}
    reader = FileReader(path)
    meta = reader.metadata
    total = sum(r.size for r in reader.get_allocation_records() if r.allocator not in freeing)
    top = max(reader.get_high_watermark_allocation_records(merge_threads=True),
              key=lambda r: r.size, default=None)
    largest = None
    if top is not None:
        largest = {"size": top.size,
                   "stack": [[fn, Path(file).name, line]
                             for fn, file, line in top.stack_trace(max_stacks=frames)]}
    return {"peak_memory": meta.peak_memory, "total_allocated": total,
            "allocations": meta.total_allocations, "largest_at_peak": largest}


def render_flamegraph(capture: Path) -> Path:
    """``memray flamegraph --no-web``: a page with its scripts inlined, beside the capture."""
    page = capture.with_suffix(".html")
    done = subprocess.run([sys.executable, "-m", "memray", "flamegraph", "--no-web", "--force",
                           "--output", str(page), str(capture)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not page.exists():
        raise RuntimeError(f"memray flamegraph failed for {capture}: {done.stderr.strip()}")
    return page


def capture_scenario(case: Case, text: bytes, root: Path, *, corpus_label: str = "ascii",
                     native_traces: bool = False, python_allocators: bool = True,
                     render: bool = True) -> dict[str, Any]:
    """Count ``text`` once as ``case`` says under memray; write ``root/<case.name>/`` (captures,
    pages, ``scenario.json``) and return what ``scenario.json`` holds."""
    directory = (root / case.name).resolve()
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    hook = None
    if case.executor in PROCESS_EXECUTORS:
        hook = WorkerCapture(str(directory), os.getpid(), case.executor not in POOL_EXECUTORS,
                             native_traces, python_allocators)
    with _captured(directory, hook):
        report = count_report(text, kernel=case.kernel, executor=case.executor,
                              workers=case.workers, start_method=case.start_method,
                              measure=Measurement(capture=hook))
    sizes = [b - a for a, b in chunk_spans(text, case.workers)]
    chunk_pids = {c.index: c.pid for c in report.chunks}
    processes = _name_processes(directory, chunk_pids, sizes, hook is not None)
    uncaptured = sorted({pid for pid in chunk_pids.values()} - {p.pid for p in processes})
    entries = []
    for proc in processes:
        page = render_flamegraph(proc.capture) if render else None
        entries.append({"label": proc.label, "pid": proc.pid, "chunks": list(proc.chunks),
                        "chunk_bytes": proc.chunk_bytes, "capture": proc.capture.name,
                        "page": page.name if page else None, **capture_stats(proc.capture)})
    data = {"version": FORMAT_VERSION, "name": case.name, "kernel": case.kernel,
            "executor": case.executor, "start_method": report.start_method, "size": case.size,
            "workers": case.workers, "corpus": corpus_label, "count": report.count,
            "native_traces": native_traces, "python_allocators": python_allocators,
            "processes": entries, "uncaptured_workers": uncaptured}
    (directory / "scenario.json").write_text(json.dumps(data, indent=1) + "\n")
    return data


# --- the index -------------------------------------------------------------------------------


def load_scenarios(root: Path) -> list[dict[str, Any]]:
    """Every ``<scenario>/scenario.json`` under ``root``, ordered like the matrix."""
    scenarios = []
    for path in sorted(root.glob("*/scenario.json")):
        data = json.loads(path.read_text())
        if data.get("version") == FORMAT_VERSION:
            scenarios.append(data)
    order = {name: i for i, name in enumerate(DEFAULT_EXECUTORS)}
    return sorted(scenarios, key=lambda s: (s["size"], s["kernel"], order.get(s["executor"], 99),
                                            s["executor"], s["start_method"] or "", s["workers"]))


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} B"


def _uncaptured(scenario: dict[str, Any]) -> str:
    pids = scenario.get("uncaptured_workers")
    if not pids:
        return ""
    return (f"<br>{len(pids)} worker process(es) of {html.escape(scenario['executor'])} not "
            f"captured (pid {', '.join(map(str, pids))})")


def _times(n: int, of: int) -> str:
    return f"{n / of:.1f}&times;" if of else ""


def _largest(entry: dict[str, Any]) -> str:
    top = entry.get("largest_at_peak")
    if not top:
        return ""
    frames = " &larr; ".join(f"<code>{html.escape(fn)}</code> ({html.escape(file)}:{line})"
                             for fn, file, line in top["stack"])
    return f"{_size(top['size'])} in {frames}"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; vertical-align: top; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.num { text-align: right; white-space: nowrap; }
tr.parent td { border-top: 2px solid #888; }
code { font-size: 0.95em; }
"""


def write_index(root: Path) -> Path:
    """``root/index.html``: every scenario's processes with their peak heap, total allocated and
    links to their flamegraph and raw capture; self-contained (no scripts, no web)."""
    rows = []
    for s in load_scenarios(root):
        procs = s["processes"]
        for i, p in enumerate(procs):
            base = f"{s['name']}/"
            page = (f'<a href="{html.escape(base + p["page"])}">{html.escape(p["label"])}</a>'
                    if p.get("page") else html.escape(p["label"]))
            chunks = ", ".join(map(str, p["chunks"])) or "none"
            head = ""
            if i == 0:
                head = (f'<td rowspan="{len(procs)}"><b>{html.escape(s["name"])}</b><br>'
                        f'{s["count"]:,} words, {html.escape(s["corpus"])} corpus'
                        f'{_uncaptured(s)}</td>')
            rows.append(
                f'<tr class="{"parent" if i == 0 else "worker"}">{head}<td>{page}</td>'
                f'<td class="num">{p["pid"]}</td><td>{chunks}</td>'
                f'<td class="num">{_size(p["chunk_bytes"])}</td>'
                f'<td class="num">{_size(p["peak_memory"])}</td>'
                f'<td class="num">{_times(p["peak_memory"], p["chunk_bytes"])}</td>'
                f'<td class="num">{_size(p["total_allocated"])}</td>'
                f'<td class="num">{p["allocations"]:,}</td><td>{_largest(p)}</td>'
                f'<td><a href="{html.escape(base + p["capture"])}">{html.escape(p["capture"])}'
                f'</a></td></tr>')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>wordcount-bench flamegraphs</title>
<style>{_STYLE}</style></head><body>
<h1>Memory flamegraphs: the parent and every worker</h1>
<p>Each scenario was counted once under memray (never timed). Follow a process's name to its
flamegraph of the allocations live at its peak; the raw capture beside it works with
<code>memray summary</code>, <code>memray stats</code> and <code>memray table</code>. Peak heap and
totals are memray's (heap allocations and mappings, not RSS); chunk bytes are what that process
was given to count (nothing for a parent whose workers count). "Largest at peak" is the biggest
allocation site live at the peak, innermost frame first. The README's "Flamegraphs" section says
what to look for.</p>
<table><thead><tr><th>scenario</th><th>process</th><th>pid</th><th>chunks</th>
<th>chunk bytes</th><th>peak heap</th><th>peak &divide; chunk</th><th>total allocated</th>
<th>allocations</th><th>largest at peak</th><th>raw capture</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
    path = root / "index.html"
    path.write_text(page)
    return path


# --- command line ----------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    sizes = [corpus.parse_size(s) for s in parse_list(text) or DEFAULT_SIZES]
    if any(n <= 0 for n in sizes):
        raise ValueError(f"sizes must be positive, got {text!r}")
    return sizes


def _workers(text: str) -> list[int]:
    try:
        workers = [int(w) for w in parse_list(text) or DEFAULT_WORKERS]
    except ValueError:
        raise ValueError(f"worker counts must be integers, got {text!r}") from None
    if any(w < 1 for w in workers):
        raise ValueError(f"worker counts must be at least 1, got {text!r}")
    return workers


def build_parser() -> argparse.ArgumentParser:
    """The options, named like the benchmark matrix's (``--sizes`` for ``SIZES`` and so on)."""
    parser = argparse.ArgumentParser(
        prog="python -m wcbench.flamegraphs",
        description="Run each scenario once under memray, capturing the parent and every worker "
                    "process, and write flamegraphs and an index.")
    parser.add_argument("--sizes", default=",".join(DEFAULT_SIZES),
                        help="text sizes, e.g. 1MiB,32MiB (default: %(default)s)")
    parser.add_argument("--workers", default=",".join(map(str, DEFAULT_WORKERS)),
                        help="worker counts (default: %(default)s)")
    parser.add_argument("--kernels", default="", help="kernels (default: all)")
    parser.add_argument("--executors", default=",".join(DEFAULT_EXECUTORS),
                        help="executors (default: %(default)s)")
    parser.add_argument("--start-methods", default="", help="start methods (default: all)")
    parser.add_argument("--corpus", default="ascii", choices=corpus.FLAVOURS,
                        help="corpus flavour (default: %(default)s)")
    parser.add_argument("--corpus-file", type=Path, default=None, metavar="PATH",
                        help="count this UTF-8 text file instead, at its size (--sizes ignored)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="output directory (default: %(default)s)")
    parser.add_argument("--native", action="store_true",
                        help="also capture native (C) frames: slower, shows e.g. _pickle's load")
    parser.add_argument("--no-python-allocators", dest="python_allocators",
                        action="store_false",
                        help="see pymalloc arenas rather than every small object (faster)")
    parser.add_argument("--here", action="store_true",
                        help="run the scenarios in this process rather than one fresh process "
                             "each (faster, but later scenarios, and their fork children, "
                             "inherit earlier ones' imports and caches)")
    parser.add_argument("--no-index", dest="index", action="store_false", help=argparse.SUPPRESS)
    return parser


def _scenario_argv(case: Case, args: argparse.Namespace) -> list[str]:
    """Options that make ``main`` run exactly ``case``, here."""
    argv = ["--here", "--no-index", "--sizes", f"{case.size}B", "--workers", str(case.workers),
            "--kernels", case.kernel, "--executors", case.executor,
            "--corpus", args.corpus, "--output", str(args.output)]
    if args.corpus_file is not None:
        argv += ["--corpus-file", str(args.corpus_file)]
    if case.start_method is not None:
        argv += ["--start-methods", case.start_method]
    if args.native:
        argv.append("--native")
    if not args.python_allocators:
        argv.append("--no-python-allocators")
    return argv


def _warm_up(case: Case) -> None:
    """One-time costs kept out of the capture, as the benchmarks keep them out of the timing:
    the executor's import, the forkserver's server, an engine's cluster."""
    get_executor(case.executor)
    if case.start_method == "forkserver":
        multiprocessing.forkserver.ensure_running()
    elif case.executor not in (*PROCESS_EXECUTORS, "serial", "threads"):
        count_report("warm up", executor=case.executor, workers=case.workers)


def _run_here(cases: Sequence[Case], args: argparse.Namespace) -> None:
    texts: dict[int, bytes] = {}
    label = args.corpus_file.name if args.corpus_file else args.corpus
    for case in cases:
        if case.size not in texts:
            texts = {case.size: args.corpus_file.read_bytes() if args.corpus_file
                     else corpus.load(case.size, args.corpus)}
        _warm_up(case)
        started = time.perf_counter()
        data = capture_scenario(case, texts[case.size], args.output, corpus_label=label,
                                native_traces=args.native,
                                python_allocators=args.python_allocators)
        peaks = ", ".join(f"{p['label']} {_size(p['peak_memory'])}" for p in data["processes"])
        print(f"{case.name}: peak {peaks} ({time.perf_counter() - started:.1f} s)", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Capture every scenario of the matrix, render the pages and write the index."""
    args = build_parser().parse_args(argv)
    if importlib.util.find_spec("memray") is None:
        print("error: flamegraphs need memray: pip install -e '.[dev]' (memray runs on Linux "
              "and macOS)", file=sys.stderr)
        return 2
    try:
        sizes = [args.corpus_file.stat().st_size] if args.corpus_file else _sizes(args.sizes)
        cases = build_cases(sizes, _workers(args.workers),
                            parse_list(args.kernels), parse_list(args.executors),
                            parse_list(args.start_methods))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.output.mkdir(parents=True, exist_ok=True)
    if args.here:
        _run_here(cases, args)
    else:
        # One fresh parent per scenario: its capture, and what fork children inherit, then owe
        # nothing to the scenarios before it.
        for n, case in enumerate(cases, 1):
            print(f"[{n}/{len(cases)}] ", end="", flush=True)
            done = subprocess.run([sys.executable, "-m", "wcbench.flamegraphs",
                                   *_scenario_argv(case, args)], check=False)
            if done.returncode != 0:
                print(f"error: scenario {case.name} failed (status {done.returncode})",
                      file=sys.stderr)
                return 1
    if args.index:
        print(f"open {write_index(args.output)}")
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: workers unpickle the hook by its
    # module's name, and the per-process state must be one module's.
    from wcbench.flamegraphs import main as _main

    sys.exit(_main())

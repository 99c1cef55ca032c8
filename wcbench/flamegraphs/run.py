"""``wcbench flamegraphs``: memray flamegraphs of the parent and of every worker process,
one scenario at a time, and an index of them.

Each scenario (a matrix ``Case``) is counted once under memray, outside any timing, in a fresh
parent process of its own (``--here`` runs them all in one). The work is split by job:
``hooks`` (the worker side: memray in each worker, its memory read from ``/proc``),
``capture`` (one scenario: parent capture, naming the processes, pages),
``stats`` (memray's figures of a capture) and ``index`` (``index.html``,
``index.json`` and each scenario's sentence); this module runs the scenarios, each in a fresh
process of its own, for :mod:`wcbench.commands.flamegraphs`. Any program's tree is
``command``'s (``wcbench flamegraphs -- COMMAND``), one benchmark's call ``calls``' (the pytest
plugin's ``--benchmark-flamegraphs``).

Output under ``results/flamegraphs/``: ``<scenario>/parent.html`` and ``worker-<i>.html``
(workers numbered by the first chunk they counted) with the raw ``.bin`` captures beside them for
``memray summary/stats/table``, a ``scenario.json`` of each process's figures, and ``index.html``
and ``index.json`` over all scenarios. Pages are rendered by ``memray flamegraph --no-web``,
which inlines its scripts and styles, so they open offline.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wcbench.flamegraphs.capture import capture_scenario
from wcbench.flamegraphs.index import write_index
from wcbench.matrix import Case, Selection, parse_size
from wcbench.stopping import run_child
from wcbench.units import format_bytes
from wcbench.warmup import warm_up
from wordcount.executors import INTERPRETER_EXECUTORS, available_executors

DEFAULT_OUTPUT = Path("results") / "flamegraphs"


class FlamegraphError(Exception):
    """Why no flamegraph can be made (memray missing, a bad matrix option): one line, exit 2."""

#: Small on purpose: every scenario is run and rendered once, and each page is a few MB.
DEFAULT_SIZES: tuple[str, ...] = ("1MiB",)
DEFAULT_WORKERS: tuple[int, ...] = (2,)
#: Dask's workers are its own long-lived processes, outside the Task hook: not captured here.
#: Subinterpreters (CPython 3.13+) are threads of the parent, in its capture.
DEFAULT_EXECUTORS: tuple[str, ...] = (
    "serial", "threads",
    *(e for e in ("interpreters", "interpreter-pool") if e in available_executors()),
    "processes", "process-pool", "shared-memory")


#: Why ``--native`` skips subinterpreters: memray (1.20, tried here) records their native
#: stacks, but its flamegraph asserts while merging them with Python frames they do not have.
NATIVE_INTERPRETERS = ("not captured with --native: memray cannot render a subinterpreter's "
                       "native stacks (its hybrid stack asserts on evaluator frames without "
                       "Python frames); run it without --native")


def skip_reason(case: Case, native: bool) -> str | None:
    """Why a scenario is not run: its executor refuses its kernel, or memray cannot draw it."""
    if case.refusal:
        return f"refused: {case.refusal}"
    if native and case.executor in INTERPRETER_EXECUTORS:
        return NATIVE_INTERPRETERS
    return None


@dataclass(frozen=True)
class CaptureSettings:
    """How each scenario is captured: where, with native frames or not, and whether memray sees
    every small object (Python's allocators) or pymalloc's arenas."""

    output: Path = DEFAULT_OUTPUT
    native: bool = False
    python_allocators: bool = True


def _scenario_argv(case: Case, selection: Selection, settings: CaptureSettings) -> list[str]:
    """Options that make ``main`` run exactly ``case``, here."""
    argv = ["--here", "--no-index", "--sizes", f"{case.size}B", "--workers", str(case.workers),
            "--kernels", case.kernel, "--executors", case.executor,
            "--corpus", selection.corpus, "--output", str(settings.output)]
    if selection.file is not None:
        argv += ["--corpus-file", str(selection.file)]
    if case.start_method is not None:
        argv += ["--start-methods", case.start_method]
    if settings.native:
        argv.append("--native")
    if not settings.python_allocators:
        argv.append("--no-python-allocators")
    return argv


def _run_here(cases: Sequence[Case], selection: Selection, settings: CaptureSettings) -> None:
    texts: dict[int, bytes] = {}
    for case in cases:
        if case.size not in texts:
            texts = {case.size: selection.text(case.size)}
        # the executor's import and engines kept out of the capture, as the benchmarks keep
        # them out of the timing
        warm_up(case, resource_tracker=False, import_executor=True)
        started = time.perf_counter()
        data = capture_scenario(case, texts[case.size], settings.output,
                                corpus_label=selection.label, native_traces=settings.native,
                                python_allocators=settings.python_allocators)
        peaks = ", ".join(f"{p['label']} {format_bytes(p['heap_peak_bytes'])}"
                          for p in data["processes"])
        print(f"{case.name}: peak {peaks} ({time.perf_counter() - started:.1f} s)", flush=True)


def capture_all(selection: Selection, settings: CaptureSettings | None = None, *,
                here: bool = False, index: bool = True) -> int:
    """Capture every scenario of the matrix, render the pages and write the index.

    Lists not given: ``DEFAULT_SIZES``, ``DEFAULT_WORKERS``, and every kernel, executor and
    start method. ``here``: every scenario in this process, rather than a fresh one each.
    Returns the exit status: 1 when a scenario failed.
    """
    settings = settings or CaptureSettings()
    if importlib.util.find_spec("memray") is None:
        raise FlamegraphError("flamegraphs need memray: pip install -e '.[dev]' (memray runs on "
                              "Linux and macOS)")
    try:
        cases = selection.cases([parse_size(s) for s in DEFAULT_SIZES], DEFAULT_WORKERS)
    except (OSError, ValueError) as exc:
        raise FlamegraphError(str(exc)) from None
    for case in cases:  # shown, not run
        if reason := skip_reason(case, settings.native):
            print(f"{case.name}: {reason}", flush=True)
    cases = [c for c in cases if not skip_reason(c, settings.native)]
    settings.output.mkdir(parents=True, exist_ok=True)
    if here:
        _run_here(cases, selection, settings)
    else:
        # One fresh parent per scenario: its capture, and what fork children inherit, then owe
        # nothing to the scenarios before it.
        # Stopped (Ctrl-C, SIGTERM, SIGHUP), the scenario running gets the signal and cleans up;
        # those finished (each its scenario.json, written last) go into the index.
        n = 0
        try:
            for n, case in enumerate(cases, 1):
                print(f"[{n}/{len(cases)}] ", end="", flush=True)
                done = run_child([sys.executable, "-m", "wcbench", "flamegraphs",
                                  *_scenario_argv(case, selection, settings)])
                if done.returncode != 0:
                    print(f"flamegraphs: scenario {case.name} failed (status {done.returncode})",
                          file=sys.stderr)
                    return 1
        except KeyboardInterrupt as exc:
            if index and n > 1:
                exc.args = (f"{' '.join(map(str, exc.args))} during {cases[n - 1].name}; the "
                            f"index of the finished scenarios written to "
                            f"{write_index(settings.output)}".strip(),)
            raise
    if index:
        print(f"open {write_index(settings.output)}")
    return 0

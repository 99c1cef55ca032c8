"""``wcbench flamegraphs``: memray flamegraphs of the parent and of every worker process,
one scenario at a time, and an index of them.

Each scenario (a matrix ``Case``) is counted once under memray, outside any timing, in a fresh
parent process of its own (``--here`` runs them all in one). The work is split by job:
``hooks`` (the worker side: memray in each worker, its memory read from ``/proc``),
``capture`` (one scenario: parent capture, naming the processes, pages),
``stats`` (memray's figures of a capture) and ``index`` (``index.html``,
``index.json`` and each scenario's sentence); this module runs the scenarios, each in a fresh
process of its own, for :mod:`wcbench.commands.flamegraphs`.

Output under ``results/flamegraphs/``: ``<scenario>/parent.html`` and ``worker-<i>.html``
(workers numbered by the first chunk they counted) with the raw ``.bin`` captures beside them for
``memray summary/stats/table``, a ``scenario.json`` of each process's figures, and ``index.html``
and ``index.json`` over all scenarios. Pages are rendered by ``memray flamegraph --no-web``,
which inlines its scripts and styles, so they open offline.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing.forkserver
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from wcbench import corpus
from wcbench.flamegraphs.capture import capture_scenario
from wcbench.flamegraphs.index import write_index
from wcbench.matrix import Case, build_cases, parse_list
from wcbench.stopping import run_child
from wcbench.units import format_bytes
from wordcount import count_report
from wordcount.executors import (
    INTERPRETER_EXECUTORS,
    PROCESS_EXECUTORS,
    available_executors,
    get_executor,
)

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
        peaks = ", ".join(f"{p['label']} {format_bytes(p['heap_peak_bytes'])}"
                          for p in data["processes"])
        print(f"{case.name}: peak {peaks} ({time.perf_counter() - started:.1f} s)", flush=True)


def capture_all(args: argparse.Namespace) -> int:
    """Capture every scenario of the matrix, render the pages and write the index."""
    if importlib.util.find_spec("memray") is None:
        raise FlamegraphError("flamegraphs need memray: pip install -e '.[dev]' (memray runs on "
                              "Linux and macOS)")
    try:
        sizes = [args.corpus_file.stat().st_size] if args.corpus_file else _sizes(args.sizes)
        cases = build_cases(sizes, _workers(args.workers),
                            parse_list(args.kernels), parse_list(args.executors),
                            parse_list(args.start_methods))
    except (OSError, ValueError) as exc:
        raise FlamegraphError(str(exc)) from None
    for case in cases:  # shown, not run
        if reason := skip_reason(case, args.native):
            print(f"{case.name}: {reason}", flush=True)
    cases = [c for c in cases if not skip_reason(c, args.native)]
    args.output.mkdir(parents=True, exist_ok=True)
    if args.here:
        _run_here(cases, args)
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
                                  *_scenario_argv(case, args)])
                if done.returncode != 0:
                    print(f"flamegraphs: scenario {case.name} failed (status {done.returncode})",
                          file=sys.stderr)
                    return 1
        except KeyboardInterrupt as exc:
            if args.index and n > 1:
                exc.args = (f"{' '.join(map(str, exc.args))} during {cases[n - 1].name}; the "
                            f"index of the finished scenarios written to "
                            f"{write_index(args.output)}".strip(),)
            raise
    if args.index:
        print(f"open {write_index(args.output)}")
    return 0


"""``python -m wcbench.flamegraphs``: memray flamegraphs of the parent and of every worker process,
one scenario at a time, and an index of them.

Each scenario (a matrix ``Case``) is counted once under memray, outside any timing, in a fresh
parent process of its own (``--here`` runs them all in one). The work is split by job:
``flamegraphs_hooks`` (the worker side: memray in each worker, its memory read from ``/proc``),
``flamegraphs_capture`` (one scenario: parent capture, naming the processes, pages),
``flamegraphs_stats`` (memray's figures of a capture) and ``flamegraphs_index`` (``index.html``,
``index.json`` and each scenario's sentence); this module is the command line.

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
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from wcbench import corpus
from wcbench.flamegraphs_capture import capture_scenario
from wcbench.flamegraphs_index import write_index
from wcbench.matrix import Case, build_cases, parse_list
from wcbench.units import format_bytes
from wordcount import count_report
from wordcount.executors import PROCESS_EXECUTORS, get_executor

DEFAULT_OUTPUT = Path("results") / "flamegraphs"
#: Small on purpose: every scenario is run and rendered once, and each page is a few MB.
DEFAULT_SIZES: tuple[str, ...] = ("1MiB",)
DEFAULT_WORKERS: tuple[int, ...] = (2,)
#: Dask's workers are its own long-lived processes, outside the Task hook: not captured here.
DEFAULT_EXECUTORS: tuple[str, ...] = ("serial", "threads", "processes", "process-pool",
                                      "shared-memory")


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
        peaks = ", ".join(f"{p['label']} {format_bytes(p['heap_peak_bytes'])}"
                          for p in data["processes"])
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
    sys.exit(main())

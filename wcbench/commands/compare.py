"""``wcbench compare``: two saved runs, median time and every memory figure, with tolerances."""

from __future__ import annotations

import argparse
from pathlib import Path

from wcbench.commands.common import FAILED, OK, fraction, percent, seconds, size
from wcbench.compare import rules, runs
from wcbench.results import load_run, machine_id
from wcbench.units import format_bytes, format_time

HELP = "compare two saved benchmark runs: median time and memory figures"
DESCRIPTION = ("Compare two saved benchmark runs (median time and memory figures). A RUN is a "
               "saved file's path, a run number (3 or 0003) or a unique part of a file name; "
               "without --base and --new, the two latest readable runs.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", default="results", type=Path,
                   help="pytest-benchmark storage folder (default: results)")
    p.add_argument("--machine", default=None,
                   help=f"machine folder inside the storage (default: {machine_id()})")
    p.add_argument("--base", default=None, help="base run (default: the one before --new)")
    p.add_argument("--new", default=None, help="new run (default: the latest)")
    p.add_argument("--time-tolerance", type=fraction, default=runs.TIME_TOLERANCE,
                   help=f"tolerated median-time growth (default: {percent(runs.TIME_TOLERANCE)})")
    p.add_argument("--memory-tolerance", type=fraction, default=runs.MEMORY_TOLERANCE,
                   help="tolerated memory growth "
                        f"(default: {percent(runs.MEMORY_TOLERANCE)})")
    p.add_argument("--exact-tolerance", type=fraction, default=None,
                   help="tolerated growth of the parent's and workers' peaks of serial, "
                        "processes and shared-memory (default: "
                        f"{percent(rules.PARENT.relative)} for the parent's, "
                        f"{percent(rules.WORKERS.relative)} for the workers')")
    p.add_argument("--copied-tolerance", type=fraction, default=runs.COPIED_TOLERANCE,
                   help="tolerated growth of copied bytes "
                        f"(default: {percent(runs.COPIED_TOLERANCE)})")
    p.add_argument("--time-floor", type=seconds, default=runs.TIME_FLOOR_SECONDS,
                   help="median-time growth always tolerated, e.g. 5ms "
                        f"(default: {format_time(runs.TIME_FLOOR_SECONDS)})")
    p.add_argument("--memory-floor", type=size, default=runs.MEMORY_FLOOR_BYTES,
                   help="memory growth always tolerated "
                        f"(default: {format_bytes(runs.MEMORY_FLOOR_BYTES)})")
    p.add_argument("--memory-floor-text", type=fraction, default=runs.MEMORY_FLOOR_TEXT,
                   help="memory growth tolerated as a multiple of the text size "
                        f"(default: {runs.MEMORY_FLOOR_TEXT:g})")


def run(args: argparse.Namespace) -> int:
    """Print the comparison; 1 when something regressed."""
    base_path, new_path = runs.pick_runs(args.storage, args.base or None, args.new or None,
                                         args.machine)
    result = runs.compare_runs(load_run(base_path), load_run(new_path),
                               runs.Tolerances(args.time_tolerance, args.memory_tolerance,
                                               args.memory_floor, args.time_floor,
                                               args.memory_floor_text, args.copied_tolerance,
                                               args.exact_tolerance))
    print("\n".join(runs.format_comparison(result)))
    return FAILED if result.regressions else OK

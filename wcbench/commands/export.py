"""``wcbench export``: a saved run or A/B as BMF or github-action-benchmark JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wcbench.ab.result import find_ab, load_ab
from wcbench.commands.common import OK
from wcbench.compare import export
from wcbench.results import find_run, latest_run, load_run, machine_id

HELP = "write a saved run or A/B as BMF or github-action-benchmark JSON (time and memory)"
DESCRIPTION = ("Write a saved run (--run) or a saved A/B comparison (--ab) in a format dashboards "
               "read: Bencher Metric Format (bmf) or github-action-benchmark's "
               "customSmallerIsBetter JSON. Median times (ns) with their 95% intervals, or an "
               "A/B's time ratio with its interval, and every memory figure (bytes).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--run`` is stored as ``saved_run``: ``run`` is the subcommand's own function."""
    p.add_argument("--format", required=True, choices=export.FORMATS, dest="fmt")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", dest="saved_run", metavar="RUN",
                        help="a saved run: file path, run number, part of a name, or 'latest'")
    source.add_argument("--ab", help="a saved A/B comparison (wcbench ab): its file, or 'latest'")
    p.add_argument("--results", "--storage", type=Path, default=Path("results"),
                   dest="results", help="folder of saved runs and of ab/ (default: results)")
    p.add_argument("--machine", default=None,
                   help=f"machine folder of --run (default: {machine_id()})")
    p.add_argument("--output", type=Path, default=None, help="file to write (default: stdout)")


def run(args: argparse.Namespace) -> int:
    if args.ab:
        metrics = export.from_ab(load_ab(find_ab(args.ab, args.results)))
    else:
        machine = args.machine or machine_id()
        saved = latest_run(args.results, machine) if args.saved_run == "latest" else \
            load_run(find_run(args.saved_run, args.results, machine))
        metrics = export.from_run(saved)
    text = json.dumps(export.export(metrics, args.fmt), indent=1) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
        print(f"{args.fmt} written to {args.output}", file=sys.stderr)
    return OK

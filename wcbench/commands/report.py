"""``wcbench report``: a saved run (or two side by side, or a saved A/B) as Markdown and plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from wcbench.commands.common import OK
from wcbench.report import build

HELP = "write results/report.md and its plots from saved runs"
DESCRIPTION = ("Turn saved benchmark runs into results/report.md with PNG plots beside it. A RUN "
               "is a saved file's path or its NNNN number; without --new, the latest readable "
               "run; --base alone compares that run with the latest.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, default=Path("results"),
                   help="folder of saved runs (default: results)")
    p.add_argument("--output", type=Path, default=None,
                   help="report file (default: RESULTS/report.md); plots go in a folder of "
                        "the same stem beside it")
    p.add_argument("--base", help="run to compare against: a file path or NNNN number")
    p.add_argument("--new", help="run to report (default: the latest saved run)")
    p.add_argument("--ab", help="render a saved A/B comparison (wcbench ab) instead: its file, "
                                "or 'latest' (written to RESULTS/ab-report.md)")
    p.add_argument("--across", nargs="+", metavar="RUN",
                   help="one page of several runs side by side, one column each (a run per "
                        "Python): speed-up against each run's serial split and peak memory per "
                        "byte of text (written to RESULTS/pythons.md)")
    p.add_argument("--size", default="32MiB",
                   help="the text size --across compares at (default 32MiB)")


def run(args: argparse.Namespace) -> int:
    output = args.output or args.results / ("ab-report.md" if args.ab else
                                            "pythons.md" if args.across else "report.md")
    if args.across:
        written = build.build_across(args.results, output, args.across, args.size)
    elif args.ab:
        written = build.build_ab(args.results, output, args.ab)
    else:
        written = build.build(args.results, output, base=args.base or None, new=args.new or None)
    print(f"report written to {written}")
    return OK

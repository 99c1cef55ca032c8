"""``wcbench summary``: the lines a benchmark run ends with, for saved runs."""

from __future__ import annotations

import argparse

from wcbench.commands.common import OK
from wcbench.report.commands import summary_line
from wcbench.report.summary import summary_lines
from wcbench.results import load_run

HELP = "print the end-of-run summary of saved runs"
DESCRIPTION = ("Per size, the fastest and the leanest strategy of each saved run given; each "
               "measured command's time, peaks and pickled bytes.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="SAVED_RUN.json", help="saved runs to summarise")


def run(args: argparse.Namespace) -> int:
    for path in args.runs:
        saved = load_run(path)
        print(path)
        for line in summary_lines(saved.benchmarks, saved.skipped):
            print(f"  {line}")
        for command in saved.commands:
            print(f"  {summary_line(command)}")
    return OK

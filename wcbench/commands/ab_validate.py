"""``wcbench ab-validate``: how often ``wcbench ab`` gets it right on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from wcbench.ab.result import MEASURES, TIME
from wcbench.ab.validate import DEFAULT_SCENARIOS, validate

HELP = "measure how often wcbench ab is right here: A/A runs and committed slowdowns"
DESCRIPTION = ("In a temporary clone, commit known slowdowns and run wcbench ab again and again: "
               "A/A runs must exit 0, runs with a slowdown 1. With --measure instructions the "
               "runs count instructions (a 2% numpy slowdown by default). Summary in "
               "results/ab/validate-<time>/summary.json.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repeats", type=int, default=10, help="runs per scenario (default 10)")
    p.add_argument("--measure", choices=MEASURES, default=TIME,
                   help="what each run of wcbench ab measures (default time; instructions: "
                        "counted under valgrind's callgrind)")
    p.add_argument("--scenarios", default=None,
                   help="comma-separated: aa, numpy<percent>, start<percent> (default: "
                        + "; ".join(f"{v} by {k}" for k, v in DEFAULT_SCENARIOS.items())
                        + "; start<percent> by time only)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of timing of each run (default: wcbench ab's)")
    p.add_argument("--output-dir", type=Path, default=None,
                   help="default: results/ab/validate-<UTC time>")
    p.add_argument("--summarise", type=Path, default=None, metavar="DIR",
                   help="only summarise the runs saved under DIR/<scenario>/")


def run(args: argparse.Namespace) -> int:
    return validate(repeats=args.repeats, scenarios=args.scenarios, budget=args.budget,
                    output_dir=args.output_dir, summarise_dir=args.summarise,
                    measure=args.measure)

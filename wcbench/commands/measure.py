"""``wcbench measure``: any command's process tree, memory and pickled bytes, and its time."""

from __future__ import annotations

import argparse
from pathlib import Path

from wcbench.commands.common import seconds
from wcbench.measure.run import Settings, measure_command
from wcbench.results import machine_id

HELP = "measure any command: every process's peak, the tree's, bytes pickled, wall time"
DESCRIPTION = (
    "Run COMMAND once with probes on (untimed: every Python process of its tree counts the "
    "bytes multiprocessing pickles and reports its exact peak; the tree's PSS is sampled from "
    "outside), print every process with its role and peak, then time it bare as the suite "
    "times a case (or --runs N times) and save the run under --storage as the suite saves its "
    "runs, with a memory-over-time plot beside it. A command that fails or times out is saved "
    "marked failed (exit 1); one that cannot start exits 2.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=None, metavar="N",
                   help="timed runs (default: as many as a stable median needs, as the suite "
                        "chooses rounds: 5 to 50 within about 2 s of runs)")
    p.add_argument("--timeout", type=seconds, default=None, metavar="SECONDS",
                   help="stop a run (its whole tree) that takes longer, e.g. 60 or 2min; the "
                        "run is saved marked failed")
    p.add_argument("--storage", type=Path, default=Path("results"),
                   help=f"where to save the run, in <storage>/{machine_id()}/ (default: "
                        "results)")
    p.add_argument("--no-save", dest="save", action="store_false",
                   help="do not save the run (print only)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="also write this measurement alone (its benchmark record and the "
                        "full timeline) to FILE")
    p.add_argument("--plot", type=Path, default=None, metavar="FILE",
                   help="memory-over-time PNG (default: beside the saved run, "
                        "NNNN_...-memory.png)")
    p.add_argument("--name", default=None,
                   help="the benchmark's name in the saved run (default: the command line)")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]",
                   help="the command to measure, after --")


def run(args: argparse.Namespace) -> int:
    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if args.runs is not None and args.runs < 1:
        raise ValueError(f"--runs must be at least 1, not {args.runs}")
    return measure_command(Settings(tuple(argv), args.runs, args.timeout,
                                    args.storage if args.save else None, args.json, args.plot,
                                    args.name))

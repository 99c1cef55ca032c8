"""``wcbench flamegraphs``: memray flamegraphs of the parent and every worker, and an index."""

from __future__ import annotations

import argparse
from pathlib import Path

from wcbench.commands.common import UserError, seconds, selection
from wcbench.flamegraphs.command import capture_command
from wcbench.flamegraphs.run import (
    DEFAULT_EXECUTORS,
    DEFAULT_OUTPUT,
    DEFAULT_SIZES,
    DEFAULT_WORKERS,
    CaptureSettings,
    capture_all,
)
from wcbench.matrix import add_matrix_options

#: Where a command's captures go by default (apart from the suite's committed index).
COMMAND_OUTPUT = Path("results") / "flamegraphs-commands"
HELP = "memray flamegraphs of every process: the suite's scenarios, or any command after --"
DESCRIPTION = ("Run each scenario once under memray (never timed), capturing the parent and "
               "every worker process, and write flamegraphs and an index under "
               "results/flamegraphs/. A scenario that fails exits 1. With -- COMMAND [ARGS...], "
               "run that command once instead, capturing every Python process of its tree "
               "(the main one and each child under fork, spawn and forkserver), into "
               f"{COMMAND_OUTPUT}/ by default; a command that fails or times out exits 1.")
#: A small matrix by default: every scenario is run and rendered once, each page a few MB.
_DEFAULTS = {"sizes": (",".join(DEFAULT_SIZES), ",".join(DEFAULT_SIZES)),
             "workers": (",".join(map(str, DEFAULT_WORKERS)), ",".join(map(str, DEFAULT_WORKERS))),
             "executors": (",".join(DEFAULT_EXECUTORS), ",".join(DEFAULT_EXECUTORS))}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The matrix options, as the benchmarks' (``--sizes`` for ``SIZES`` and so on), and how
    to capture."""
    add_matrix_options(parser.add_argument, _DEFAULTS)
    parser.add_argument("--output", type=Path, default=None,
                        help=f"output directory (default: {DEFAULT_OUTPUT}, or "
                             f"{COMMAND_OUTPUT} for a command)")
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
    parser.add_argument("--timeout", type=seconds, default=None, metavar="SECONDS",
                        help="with a command: stop it (its whole tree) after this long")
    parser.add_argument("--no-pages", dest="pages", action="store_false",
                        help="with a command: keep the raw captures and the index, draw no "
                             "flamegraph (faster; memray flamegraph draws one later)")
    parser.add_argument("--name", default=None,
                        help="with a command: its name in the index (default: the command line)")
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]",
                        help="a command to capture instead of the suite's scenarios")


def run(args: argparse.Namespace) -> int:
    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if args.argv:
        given = [f"--{o.replace('_', '-')}" for o, default in _MATRIX_DEFAULTS.items()
                 if getattr(args, o) != default]
        if given or args.here:
            raise UserError(f"{', '.join(given) or '--here'} choose the suite's scenarios: "
                            "not with a command")
        return capture_command(argv, args.output or COMMAND_OUTPUT, timeout=args.timeout,
                               native=args.native, python_allocators=args.python_allocators,
                               name=args.name, pages=args.pages)
    if args.timeout is not None or args.name is not None or not args.pages:
        raise UserError("--timeout, --name and --no-pages apply to a command: give it after --")
    return capture_all(selection(args),
                       CaptureSettings(args.output or DEFAULT_OUTPUT, args.native,
                                       args.python_allocators),
                       here=args.here, index=args.index)


#: The matrix options and their defaults (any other value chooses scenarios).
_MATRIX_DEFAULTS = {"sizes": _DEFAULTS["sizes"][0], "workers": _DEFAULTS["workers"][0],
                    "kernels": "", "executors": _DEFAULTS["executors"][0],
                    "start_methods": "", "corpus": "ascii", "corpus_file": ""}

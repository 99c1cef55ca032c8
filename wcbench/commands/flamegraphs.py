"""``wcbench flamegraphs``: memray flamegraphs of the parent and every worker, and an index."""

from __future__ import annotations

import argparse
from pathlib import Path

from wcbench.commands.common import selection
from wcbench.flamegraphs.run import (
    DEFAULT_EXECUTORS,
    DEFAULT_OUTPUT,
    DEFAULT_SIZES,
    DEFAULT_WORKERS,
    CaptureSettings,
    capture_all,
)
from wcbench.matrix import add_matrix_options

HELP = "memray flamegraphs of the parent and every worker, one scenario at a time"
DESCRIPTION = ("Run each scenario once under memray (never timed), capturing the parent and "
               "every worker process, and write flamegraphs and an index under "
               "results/flamegraphs/. A scenario that fails exits 1.")
#: A small matrix by default: every scenario is run and rendered once, each page a few MB.
_DEFAULTS = {"sizes": (",".join(DEFAULT_SIZES), ",".join(DEFAULT_SIZES)),
             "workers": (",".join(map(str, DEFAULT_WORKERS)), ",".join(map(str, DEFAULT_WORKERS))),
             "executors": (",".join(DEFAULT_EXECUTORS), ",".join(DEFAULT_EXECUTORS))}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The matrix options, as the benchmarks' (``--sizes`` for ``SIZES`` and so on), and how
    to capture."""
    add_matrix_options(parser.add_argument, _DEFAULTS)
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


def run(args: argparse.Namespace) -> int:
    return capture_all(selection(args),
                       CaptureSettings(args.output, args.native, args.python_allocators),
                       here=args.here, index=args.index)

"""``wcbench flamegraphs``: memray flamegraphs of the parent and every worker, and an index."""

from __future__ import annotations

import argparse
from pathlib import Path

from wcbench import corpus
from wcbench.flamegraphs.run import (
    DEFAULT_EXECUTORS,
    DEFAULT_OUTPUT,
    DEFAULT_SIZES,
    DEFAULT_WORKERS,
    capture_all,
)

HELP = "memray flamegraphs of the parent and every worker, one scenario at a time"
DESCRIPTION = ("Run each scenario once under memray (never timed), capturing the parent and "
               "every worker process, and write flamegraphs and an index under "
               "results/flamegraphs/. A scenario that fails exits 1.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options, named like the benchmark matrix's (``--sizes`` for ``SIZES`` and so on)."""
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


def run(args: argparse.Namespace) -> int:
    return capture_all(args)

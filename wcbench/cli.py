"""``wcbench``: the benchmark suite's one command, a subcommand per job.

The parser is built from :mod:`wcbench.commands` (each module adds its own options); this module
owns only what every subcommand shares: the exit statuses in every ``--help``, one line on stderr
for an error, and how a run ends when it is interrupted. SIGTERM and SIGHUP (a CI job's timeout,
a closed terminal) stop a run as Ctrl-C does, through ``KeyboardInterrupt``, so the cleanup every
command already has for Ctrl-C (workers reaped, temporary checkouts removed) runs for them too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from wcbench.ab.result import SavedAbError
from wcbench.ab.sides import AbError
from wcbench.commands import COMMANDS
from wcbench.commands.common import CANNOT_RUN, EXIT_STATUSES, INTERRUPTED, UserError
from wcbench.flamegraphs.run import FlamegraphError
from wcbench.measure.command import CommandError
from wcbench.report.build import ReportError
from wcbench.report.plots import PlotError
from wcbench.results import SavedRunError
from wcbench.stopping import Stopped, stop_on_signals

#: What a subcommand raises when it cannot run: said in one line, exit status 2. ``ValueError``
#: and ``OSError`` are a bad option value or a missing file, found by the library.
USER_ERRORS: tuple[type[Exception], ...] = (
    UserError, SavedRunError, SavedAbError, AbError, ReportError, PlotError, FlamegraphError,
    CommandError,    ValueError, OSError)


def build_parser() -> argparse.ArgumentParser:
    """``wcbench`` and its subcommands, every one with the exit statuses in its help."""
    parser = argparse.ArgumentParser(
        prog="wcbench", epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Measure what threads, processes, shared memory and the other executors "
                    "cost in time and memory, and tell whether a change made them worse. "
                    "`make bench` runs the benchmarks; these commands read, compare and "
                    "explain them.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        p = sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION,
                           epilog=EXIT_STATUSES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run one subcommand, and return its exit status (argparse exits 2 on bad usage)."""
    args = build_parser().parse_args(argv)
    try:
        with stop_on_signals():
            return args.run(args)
    except USER_ERRORS as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return CANNOT_RUN
    except Stopped as exc:
        print(f"{args.command}: stopped by {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt as exc:  # a command may say what it kept
        print(f"{args.command}: interrupted" + (f" {exc}" if str(exc) else ""), file=sys.stderr)
        return INTERRUPTED


def console_main() -> None:
    """The console script's entry point."""
    sys.exit(main())

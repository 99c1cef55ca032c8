"""What every subcommand shares: its exit statuses, written once, argument types, and the
matrix options unpacked into a :class:`wcbench.matrix.Selection`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from wcbench.matrix import Selection
from wcbench.units import parse_duration, parse_fraction, parse_size

#: The exit statuses, the same for every subcommand (pyperf and pytest document theirs too).
OK, FAILED, CANNOT_RUN, INTERRUPTED = 0, 1, 2, 130

EXIT_STATUSES = """\
exit status:
  0    ok: nothing regressed, every check passed
  1    a regression, or a failed check
  2    cannot run: bad arguments, no saved run, unknown revision, missing interpreter
  130  interrupted by Ctrl-C (SIGINT); 143 by SIGTERM, 129 by SIGHUP
Through make, every failure is status 2 (make's own): CI should call wcbench."""


class UserError(Exception):
    """A reason the command cannot run, said in one line: the CLI prints it and exits 2."""


def argument_type(parse: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type from a :mod:`wcbench.units` parser: its ``ValueError`` becomes the
    one-line usage error argparse prints."""

    def convert(text: str) -> float:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


fraction = argument_type(parse_fraction)
seconds = argument_type(parse_duration)
size = argument_type(parse_size)


def positive_fraction(text: str) -> float:
    """``10%`` or ``0.1``, above zero: a threshold."""
    value = fraction(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a threshold must be positive: {text!r}")
    return value


def percent(value: float) -> str:
    """``0.5`` -> ``50%%``: a percentage for argparse help, which %-formats its strings."""
    return f"{value:.0%}".replace("%", "%%")


def selection(args: argparse.Namespace) -> Selection:
    """The matrix options a command declared with :func:`wcbench.matrix.add_matrix_options`,
    parsed (a bad size or worker count: ``ValueError``, exit status 2)."""
    return Selection.parse(sizes=args.sizes, workers=args.workers, kernels=args.kernels,
                           executors=args.executors, start_methods=args.start_methods,
                           corpus=args.corpus, corpus_file=args.corpus_file)

"""``wcbench ab``: old and new code timed side by side in one session, judged with an interval."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wcbench.ab import instructions
from wcbench.ab.result import MEASURES, TIME
from wcbench.ab.run import BUDGET_SECONDS, THRESHOLDS, SessionOptions, compare_sides
from wcbench.ab.sides import ROOT, WORKTREE
from wcbench.commands.common import positive_fraction, selection
from wcbench.matrix import add_matrix_options

HELP = "time BASE and NEW code (or interpreters) side by side, with a verdict per case"
DESCRIPTION = ("Time BASE and NEW side by side, round by round, in one session; each case is "
               "judged by a 95% interval of the NEW/BASE ratio of median times. With --measure "
               "instructions, each side's calls are counted in valgrind's callgrind instead (or "
               "as well: time,instructions), judged by the ratio of counts. Saved under "
               "results/ab/.")
#: What a list not given means here: without any list, a small default set of cases.
_DEFAULTS = {"sizes": ("", "1MiB,32MiB when another list is given; without any, a small "
                           "default set of cases"),
             "workers": ("", "1,2,4 when another list is given")}


def measures(text: str) -> tuple[str, ...]:
    """``time``, ``instructions`` or ``time,instructions``."""
    chosen = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not chosen or any(m not in MEASURES for m in chosen):
        raise argparse.ArgumentTypeError(f"{text!r}: one or both of {', '.join(MEASURES)}")
    return chosen


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", default=None,
                   help="git revision of the old code, or 'worktree' (default: HEAD; "
                        "'worktree' when only the interpreters differ)")
    p.add_argument("--new", default=WORKTREE,
                   help="git revision of the new code (default: the working tree, "
                        "uncommitted changes included)")
    p.add_argument("--python-base", default=sys.executable, help="BASE's interpreter")
    p.add_argument("--python-new", default=sys.executable, help="NEW's interpreter")
    p.add_argument("--threshold", type=positive_fraction, default=None,
                   help="slowdown that counts, e.g. 10%% (default: per kind of case, "
                        + ", ".join(f"{k} {v:.0%}" for k, v in THRESHOLDS.items()).replace(
                            "%", "%%") + ")")
    p.add_argument("--budget", type=float, default=BUDGET_SECONDS,
                   help=f"seconds of timing for all cases (default {BUDGET_SECONDS:g})")
    p.add_argument("--measure", type=measures, default=(TIME,),
                   help="time (default), instructions (counted in valgrind's callgrind, the "
                        "measured calls alone; cases that start processes are refused), or "
                        "time,instructions")
    p.add_argument("--instructions-threshold", type=positive_fraction, default=None,
                   help="change in instructions that counts, e.g. 1%% (default: per kind of "
                        "case, " + ", ".join(f"{k} {v * 100:g}%%" for k, v in
                                             instructions.THRESHOLDS.items()) + ")")
    p.add_argument("--valgrind", default=None,
                   help="the valgrind that counts instructions (default: "
                        f"${instructions.VALGRIND_ENV}, else valgrind on PATH)")
    p.add_argument("--calls", type=int, default=instructions.CALLS,
                   help=f"calls counted a side per case (default {instructions.CALLS})")
    add_matrix_options(p.add_argument, _DEFAULTS)
    p.add_argument("--repo", type=Path, default=ROOT,
                   help="the git checkout whose revisions (and working tree) are compared "
                        "(default: this one)")
    p.add_argument("--output-dir", type=Path, default=ROOT / "results" / "ab",
                   help="where the JSON is saved (default: results/ab)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")


def run(args: argparse.Namespace) -> int:
    options = SessionOptions(args.budget, args.threshold, args.seed, args.measure,
                             args.instructions_threshold, args.valgrind, args.calls)
    return compare_sides(selection(args), options,
                         base=args.base, new=args.new, python_base=args.python_base,
                         python_new=args.python_new, repo=args.repo, output_dir=args.output_dir)

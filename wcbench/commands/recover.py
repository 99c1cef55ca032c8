"""``wcbench recover``: save what a killed benchmark run had finished (:mod:`wcbench.session`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wcbench.commands.common import OK
from wcbench.session.recover import recover

HELP = "save the finished benchmarks of a run that was killed before it could save"
DESCRIPTION = ("A benchmark run journals each case as it finishes (results/<machine>/"
               "journal-*.jsonl). When the run is killed (SIGKILL, the OOM killer), this saves "
               "the journal as a run marked incomplete: every finished case, the case that was "
               "running, and whether the kernel log or the exit status says it was killed for "
               "memory. The journal is then removed.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", default="results", type=Path,
                   help="pytest-benchmark storage folder (default: results)")
    p.add_argument("--exit-status", type=int, default=None, metavar="N",
                   help="the status the killed run ended with, as the shell reported it "
                        "(137: SIGKILL), recorded with the run")


def run(args: argparse.Namespace) -> int:
    done, notes = recover(args.storage, args.exit_status)
    for note in notes:
        print(f"recover: {note}", file=sys.stderr)
    for item in done:
        print(item.line)
    if not done and not notes:
        print(f"no journal to recover in {args.storage}")
    return OK

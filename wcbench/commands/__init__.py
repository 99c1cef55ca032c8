"""The ``wcbench`` subcommands, one small module each: parse arguments, call the library.

Every module here has the same three names, as memray's and asv's commands do: ``HELP`` (one
line for ``wcbench --help``), ``add_arguments(parser)`` and ``run(args) -> int`` (the exit
status). Nothing here measures, formats or reads a file itself; the command families
(:mod:`wcbench.ab`, :mod:`wcbench.compare`, :mod:`wcbench.report`, :mod:`wcbench.flamegraphs`)
do, and :mod:`wcbench.cli` turns their errors into one line and a status.
"""

from __future__ import annotations

from types import ModuleType

from wcbench.commands import (
    ab,
    ab_validate,
    compare,
    export,
    flamegraphs,
    measure,
    recover,
    report,
    summary,
)

#: subcommand name -> its module, in the order ``wcbench --help`` lists them.
COMMANDS: dict[str, ModuleType] = {
    "measure": measure,
    "compare": compare,
    "report": report,
    "summary": summary,
    "ab": ab,
    "ab-validate": ab_validate,
    "flamegraphs": flamegraphs,
    "export": export,
    "recover": recover,
}

"""Kernels for the ``interpreters`` executor's tests, importable inside a subinterpreter.

Code running in a subinterpreter cannot be interrupted from outside; the executor counts each
chunk in blocks (``interpreters.BLOCK_BYTES``) and stops between them. These kernels do a short,
finite piece of work per block (``NAP_SECONDS``), so a chunk cut into many small blocks keeps its
interpreter busy for long (far longer than any test waits) yet stoppable, like a real kernel on a
large text. Each call announces itself (``helpers``' ready directory), the sign tests wait for.

``python -c "import interp_kernels; interp_kernels.cli_main()" ARGS`` runs the real CLI with
these kernels registered, blocks of ``CLI_BLOCK_BYTES``, and, on the way out, writes the ids of
the interpreters still existing to the file named by ``LEFT_FILE_ENV``.
"""

from __future__ import annotations

import json
import os
import sys
import time

from helpers import RAISE_WORD, _announce, _chunk

#: The work one kernel call does (seconds): one block's worth.
NAP_SECONDS = 0.02
#: Block size for CLI runs: a block of a word or two, so each chunk takes many naps.
CLI_BLOCK_BYTES = 8
#: Environment variable naming the file where ``cli_main`` lists the interpreters left.
LEFT_FILE_ENV = "WORDCOUNT_TEST_INTERPRETERS_LEFT"


def napping_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    """Count, after ``NAP_SECONDS`` of pretend work."""
    words = _chunk(data, start, end).split()
    _announce()
    time.sleep(NAP_SECONDS)
    return len(words)


def raise_or_nap_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    """Raise in a block holding ``RAISE``; elsewhere like ``napping_kernel``."""
    words = _chunk(data, start, end).split()
    _announce()
    if RAISE_WORD in words:
        raise RuntimeError("helper kernel raised on purpose in a subinterpreter")
    time.sleep(NAP_SECONDS)
    return len(words)


def cli_main() -> None:
    """The ``wordcount`` CLI with these kernels, small blocks, and a record of what is left."""
    from wordcount import cli
    from wordcount.executors import _subinterpreters, interpreters
    from wordcount.kernels import KERNEL_FUNCTIONS

    KERNEL_FUNCTIONS.update(nap=napping_kernel, raise_or_nap=raise_or_nap_kernel)
    interpreters.BLOCK_BYTES = CLI_BLOCK_BYTES
    try:
        status = cli.main(sys.argv[1:])
    finally:
        left = os.environ.get(LEFT_FILE_ENV)
        if left:
            with open(left, "w") as f:
                json.dump(_subinterpreters.list_ids(), f)
    sys.exit(status)

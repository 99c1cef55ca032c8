"""``python -m wcbench``: the same as the ``wcbench`` console script."""

import sys

from wcbench.cli import main

if __name__ == "__main__":
    sys.exit(main())

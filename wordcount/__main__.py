"""``python -m wordcount``."""

import sys

from wordcount.cli import main

if __name__ == "__main__":
    sys.exit(main())

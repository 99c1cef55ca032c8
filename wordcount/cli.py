"""``wordcount PATH``: print the number of words in a file (``-`` for stdin).

Every user error (bad option, unreadable file, invalid UTF-8, a failed worker) is one line on
stderr and exit status 2; Ctrl-C is exit status 130, SIGTERM 143 and SIGHUP 129, each once the
workers are stopped and the shared memory unlinked. Files are memory-mapped, not read into
memory, so the byte kernels count a large file in place.
"""

from __future__ import annotations

import argparse
import mmap
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import NoReturn

from wordcount.api import count_words
from wordcount.errors import WorkerError
from wordcount.executors import START_METHODS, TERMINATING_SIGNALS, available_executors
from wordcount.kernels import KERNELS

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds the count like ``KeyboardInterrupt``, so every
    ``finally`` stops its workers and unlinks its shared memory on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints the whole usage on an error; the standard here is one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="wordcount",
        description="Count the words in a UTF-8 text exactly as Python's str.split() does.",
    )
    parser.add_argument("path", metavar="PATH", help="file to count, or - for standard input")
    parser.add_argument("--kernel", default="split",
                        help=f"how a chunk is counted: {', '.join(KERNELS)} (default: split)")
    parser.add_argument("--executor", default="serial",
                        help=f"how chunks reach workers: {', '.join(available_executors())} "
                             "(default: serial)")
    parser.add_argument("--workers", type=int, default=1, help="number of workers (default: 1)")
    parser.add_argument("--start-method", default=None,
                        help=f"for process executors: {', '.join(START_METHODS)} "
                             "(default: the platform's)")
    return parser


@contextmanager
def open_text(path: str) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes, memory-mapped (read in full only for stdin and empty files)."""
    if path == "-":
        yield sys.stdin.buffer.read()
        return
    if os.path.isdir(path):
        raise IsADirectoryError(21, "Is a directory", path)
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            yield f.read()
            return
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            yield mm
        finally:
            _close_map(mm)


def _close_map(mm: mmap.mmap) -> None:
    """Unmap now, unless views of the map are still alive: then when they are collected.

    An error raised while counting carries a traceback whose frames may still hold views of the
    map (a numpy array, a memoryview), and daemon threads interrupted by Ctrl-C may still be
    counting it; ``close()`` then raises ``BufferError``, which would replace the error being
    reported. The map is freed with its last view instead.
    """
    with suppress(BufferError):
        mm.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; the exit status (0, 2 for any user-facing error, 130 for Ctrl-C, 143 for
    SIGTERM, 129 for SIGHUP)."""
    old = {sig: signal.signal(sig, _raise_terminated) for sig in TERMINATING_SIGNALS}
    try:
        return _count(build_parser().parse_args(argv))
    except KeyboardInterrupt:  # anywhere, parsing included, not only while counting
        print("wordcount: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated as exc:
        print(f"wordcount: terminated by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _count(args: argparse.Namespace) -> int:
    try:
        with open_text(args.path) as text:
            n = count_words(text, kernel=args.kernel, executor=args.executor,
                            workers=args.workers, start_method=args.start_method)
    except OSError as exc:
        if exc.filename != args.path:  # not the input: e.g. no room in /dev/shm, no more fds
            print(f"wordcount: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        reason = exc.strerror or str(exc)
        print(f"wordcount: error: cannot read {args.path}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError, WorkerError) as exc:
        print(f"wordcount: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())

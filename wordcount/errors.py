"""The exceptions callers can catch.

Bad arguments raise the built-in ``ValueError``/``TypeError`` (or the subclasses below), so code
that knows nothing of this package still handles them; failures of the parallel machinery raise
``WorkerError``. The CLI turns every one of them into one line on stderr and exit status 2.
"""

from __future__ import annotations


class InvalidUTF8Error(ValueError):
    """``bytes`` input that is not valid UTF-8; ``offset`` is the first bad byte's index."""

    def __init__(self, offset: int, reason: str = "invalid UTF-8") -> None:
        super().__init__(offset, reason)
        self.offset = offset
        self.reason = reason

    def __str__(self) -> str:
        return f"invalid UTF-8 at byte offset {self.offset}: {self.reason}"

    def shifted(self, by: int) -> InvalidUTF8Error:
        """The same error for a chunk that starts ``by`` bytes into the whole text."""
        return InvalidUTF8Error(self.offset + by, self.reason)


class WorkerError(RuntimeError):
    """A worker raised, crashed or was killed; the call was abandoned and its workers stopped."""

"""SIGTERM and SIGHUP as Ctrl-C: what a CI job's timeout, ``systemctl stop``, a batch scheduler
or a closed terminal send, turned into a ``KeyboardInterrupt`` subclass where Python is.

Every command, and the benchmark session (:mod:`wcbench.session.plugin`), already cleans up on
Ctrl-C (workers reaped, shared memory unlinked, finished cases saved); raising the same kind of
exception for these signals runs that cleanup for them too, where their default action would end
the process with nothing saved.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

#: How long a child given the signal may take to save and clean up before it is killed (s).
CHILD_GRACE_SECONDS = 60.0

#: The signals stopped like Ctrl-C, where the platform has them.
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Python is when it arrives, as SIGINT raises
    ``KeyboardInterrupt``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def install(handler: Callable[[int, object], None] = _stop) -> dict[int, object]:
    """Set ``handler`` for :data:`STOP_SIGNALS`; the previous handlers, for :func:`restore`."""
    return {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}


def restore(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # type: ignore[arg-type]


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Stopped` while the block runs: the first one only, so
    that a second (a signal sent to the process group and forwarded too, an impatient user)
    cannot cut the cleanup and the save it started short. SIGKILL remains for a stuck one."""
    raised: list[int] = []

    def once(signum: int, frame: object) -> None:
        if not raised:
            raised.append(signum)
            _stop(signum, frame)

    previous = install(once)
    try:
        yield
    finally:
        restore(previous)


@contextmanager
def signals_held() -> Iterator[None]:
    """:data:`STOP_SIGNALS` and SIGINT blocked for the block (a few writes that must not be torn):
    one that arrives meanwhile is delivered, and its handler runs, at the end."""
    held = {signal.SIGINT, *STOP_SIGNALS}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def run_child(cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """``subprocess.run`` for a child that saves what it finished when stopped: if this process
    is stopped (Ctrl-C, SIGTERM, SIGHUP), the child is given the same signal and waited for, where
    ``subprocess.run`` would SIGKILL it and lose its save and cleanup."""
    with subprocess.Popen(cmd, **kwargs) as proc:
        try:
            out, err = proc.communicate()
        except KeyboardInterrupt as exc:
            proc.send_signal(exc.signum if isinstance(exc, Stopped) else signal.SIGINT)
            try:
                proc.communicate(timeout=CHILD_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

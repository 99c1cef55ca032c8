"""Shared fixtures: the executor grid, and an audit that a call leaves no worker or segment behind.

``tests/`` is on ``sys.path`` (pytest's rootdir-relative import puts it there; the insert below
makes it explicit), so ``helpers`` is importable here and in worker processes of every start
method, which inherit the parent's ``sys.path``.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import warnings
from collections.abc import Iterator

import pytest

if os.path.dirname(__file__) not in sys.path:
    sys.path.insert(0, os.path.dirname(__file__))

import helpers
from helpers import Audit

from wcbench import forkguard

forkguard.install()
# Ctrl-C tests send SIGINT to this process and to the CLIs it starts: a run started in the
# background (where SIGINT is ignored, and its children inherit that) must still see it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


#: CPython's own warning of a fork beside other threads, wherever pytest recorded it.
FORK_WARNING = re.compile(r"is multi-threaded, use of fork\(\) may lead to deadlocks")
_fork_warnings: list[str] = []


def pytest_warning_recorded(warning_message: warnings.WarningMessage, when: str, nodeid: str,
                            location: object) -> None:
    """CPython's warning counts threads its own way (a native thread that holds a thread
    state, say, which no ``threading`` list shows): any such warning fails the run too."""
    if FORK_WARNING.search(str(warning_message.message)):
        _fork_warnings.append(f"{nodeid or when}: {warning_message.message}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _fork_warnings and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _fork_warnings:
        terminalreporter.section("forks beside other threads (CPython's warning)", red=True)
        for line in dict.fromkeys(_fork_warnings):
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _no_fork_beside_threads() -> Iterator[None]:
    """Fail any test during which this process forked while another of its threads ran: a
    child forked so can hang (CPython's DeprecationWarning since 3.12, which cannot be made an
    error; ``wcbench.forkguard``). A test that does it on purpose takes the notes itself; a
    fork made in a fixture set up for this test is reported with it."""
    yield
    noted = forkguard.take()
    if noted:
        pytest.fail("\n".join(n.describe() for n in noted), pytrace=False)


@pytest.fixture
def audit() -> Iterator[Audit]:
    """Watch this process's /dev/shm mappings during the test; check for leftovers after it."""
    with helpers.shm_watch() as seen, helpers.created_blocks() as created:
        a = Audit(helpers.worker_processes(), helpers.shm_segments_mapped(os.getpid()), seen,
                  created)
        yield a
    a.assert_clean()

"""Shared fixtures: the executor grid, and an audit that a call leaves no worker or segment behind.

``tests/`` is on ``sys.path`` (pytest's rootdir-relative import puts it there; the insert below
makes it explicit), so ``helpers`` is importable here and in worker processes of every start
method, which inherit the parent's ``sys.path``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

if os.path.dirname(__file__) not in sys.path:
    sys.path.insert(0, os.path.dirname(__file__))

import helpers
from helpers import Audit

from wcbench import forkguard

forkguard.install()


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
    with helpers.shm_watch() as seen:
        a = Audit(helpers.worker_processes(), helpers.shm_segments_mapped(os.getpid()), seen)
        yield a
    a.assert_clean()

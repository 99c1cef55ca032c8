"""The ``interpreters`` executor while another thread walks every thread's frames.

In CPython 3.13 (3.13.0 here, unchanged through 3.13.15's source), ``sys._current_frames()`` and
``sys._current_exceptions()`` walk the threads of *every* interpreter: a frame object is made,
with the calling interpreter's allocator, for a frame of a subinterpreter, which frees it with its
own, and glibc aborts the process ("free(): invalid pointer", "double free or corruption"), or it
segfaults. Dask's profiler thread does this once a second in the caller's process, so ``make bench``
under 3.13.0 died in the interpreters cases after the Dask ones (docs/interpreters.md).

Each scenario runs in a subprocess (``frame_walks.py``), so a crash fails the test rather than
killing pytest. ``test_interpreters_elsewhere`` runs this file under every CPython >= 3.13 found.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import wordcount
from wordcount.executors import _subinterpreters as sub

if "interpreters" not in wordcount.EXECUTORS:
    pytest.skip(f"this Python has none: {sub.UNAVAILABLE}; test_interpreters_elsewhere runs "
                "this file where one is", allow_module_level=True)

HERE = Path(__file__).resolve().parent
#: A bound for a run that would otherwise hang; the runs take a few seconds.
RUN_TIMEOUT = 180


def _run(mode: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, str(HERE / "frame_walks.py"), mode],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False,
                          cwd=HERE.parent)
    tail = proc.stdout[-2000:] + proc.stderr[-3000:]
    if proc.returncode < 0:
        pytest.fail(f"the process died by {signal.Signals(-proc.returncode).name}:\n{tail}")
    assert proc.returncode == 0, tail
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_thread_walking_every_frame_is_refused_not_fatal() -> None:
    """A profiler-like thread calling ``sys._current_frames()`` and ``sys._current_exceptions()``
    in a loop: while a call's interpreters exist each walk raises ``RuntimeError`` saying why;
    the counts stay exact, no interpreter is left, and walks work again once the call is over."""
    seen = _run("sampler")
    assert seen["refusals"] > 0 and seen["walks"] > 0, seen
    for message in seen["messages"]:
        assert "() refused while subinterpreters exist" in message, seen["messages"]
        assert "docs/interpreters.md" in message, message
    assert any(m.startswith("sys._current_frames()") for m in seen["messages"]), seen


def test_interpreters_after_the_dask_local_cluster() -> None:
    """The benchmark matrix's order: a count on Dask's local cluster, then interpreters calls in
    the same process. The cluster starts no profiler thread here (its workers keep Dask's
    setting), and the interpreters calls all count exactly, with nothing left open."""
    pytest.importorskip("distributed")
    seen = _run("dask")
    assert "Profile" not in seen["threads"], seen["threads"]
    assert seen["workers_profile"] == [seen["configured_profile"]], seen

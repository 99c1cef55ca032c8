"""Run by ``test_interpreters_frames`` in a subprocess, so that a crash fails that test instead of
killing pytest: ``interpreters`` calls while something else in the process walks every thread's
frames, as Dask's profiler does. Prints one JSON line of what it saw; any wrong count raises.

``python tests/frame_walks.py sampler``: a thread of this (main) interpreter calls
``sys._current_frames()`` and ``sys._current_exceptions()`` in a loop while calls run, until it
has been refused at least once, then goes on until a walk succeeds again with no call running.

``python tests/frame_walks.py dask``: one count on the dask executor's local cluster (as the
benchmark matrix runs its Dask cases first), then ``CALLS`` interpreters calls in the same process.
"""

from __future__ import annotations

import json
import sys
import threading

import wordcount
from wordcount.executors import _subinterpreters as sub

TEXT = b"alpha beta  gamma\n\tdelta\xc3\xa9 epsilon " * 4000
WANT = len(TEXT.split())
#: Calls made in the dask mode (CPython 3.13.0 aborted within about 20 before the fix).
CALLS = 30
#: At most this many calls in the sampler mode, waiting for the sampler's first refusal.
MAX_CALLS = 100
#: Seconds to wait for a sign from the sampler thread (it loops without sleeping).
SIGN_SECONDS = 30.0


def _count() -> None:
    got = wordcount.count_words(TEXT, kernel="split", executor="interpreters", workers=2)
    assert got == WANT, (got, WANT)
    assert sub.list_ids() == [sub.main_id()], "subinterpreters left open"


class Sampler(threading.Thread):
    """Walks every thread's frames and exceptions, as a statistical profiler does."""

    def __init__(self) -> None:
        super().__init__(name="frame-walker", daemon=True)
        self.walked = threading.Event()  # set by every successful walk (cleared by the caller)
        self.refused = threading.Event()
        self.stop = threading.Event()
        self.walks = self.refusals = 0
        self.messages: set[str] = set()

    def run(self) -> None:
        while not self.stop.is_set():
            for walk in (sys._current_frames, sys._current_exceptions):
                try:
                    walk()
                except RuntimeError as exc:
                    self.refusals += 1
                    self.messages.add(str(exc))
                    self.refused.set()
                else:
                    self.walks += 1
                    self.walked.set()


def sampler() -> dict[str, object]:
    walker = Sampler()
    walker.start()
    assert walker.walked.wait(SIGN_SECONDS), "the sampler never walked"
    calls = 0
    while not walker.refused.is_set() and calls < MAX_CALLS:
        _count()
        calls += 1
    walker.walked.clear()
    assert walker.walked.wait(SIGN_SECONDS), "walks stayed refused after the last call"
    walker.stop.set()
    walker.join()
    return {"calls": calls, "walks": walker.walks, "refusals": walker.refusals,
            "messages": sorted(walker.messages)}


def dask() -> dict[str, object]:
    import dask as dask_config

    from wordcount.executors import dask_executor

    with dask_config.config.set({"scheduler-address": None}):
        try:
            got = wordcount.count_words(TEXT, kernel="split", executor="dask", workers=2)
            assert got == WANT, (got, WANT)
            client = dask_executor.get_client(2)
            workers_profile = sorted(set(client.run(
                lambda: dask_config.config.get("distributed.worker.profile.enabled")).values()))
            threads = sorted(t.name for t in threading.enumerate())
            for _ in range(CALLS):
                _count()
        finally:
            dask_executor.close()
    return {"calls": CALLS, "threads": threads, "workers_profile": workers_profile,
            "configured_profile": dask_config.config.get("distributed.worker.profile.enabled")}


if __name__ == "__main__":
    mode = sys.argv[1]
    print(json.dumps({"sampler": sampler, "dask": dask}[mode]()), flush=True)

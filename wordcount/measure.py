"""What a measurement asks of one call: passed in explicitly, never held in module globals.

``count_report(..., measure=Measurement(...))`` hands this object to the executor, which puts it on
every ``Task``. Without one (the default) nothing is probed, counted or captured, and the call costs
exactly what an unmeasured call costs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from wordcount.transfer import TransferMeter

if TYPE_CHECKING:
    from wordcount.executors._task import Task


class CaptureHook(Protocol):
    """A profiler's hook into worker processes (``wcbench.flamegraphs`` captures with memray).

    A task carries the hook ahead of its data, so a hook whose unpickling starts a capture in a
    spawn or forkserver worker sees the chunk being unpickled; ``task_done`` runs in whichever
    process ran the task, once its result exists and before it is sent (children end in
    ``os._exit``, which would lose an open capture). It is given the task, to tell what the
    worker received.
    """

    def task_done(self, task: Task) -> None: ...


@dataclass(frozen=True)
class Measurement:
    """The measurement context of one call.

    ``probe``: each worker process reports its own memory with its result. ``meter``: counts the
    bytes pickled for workers, in the parent where the pickling happens (``Task.__reduce__``); it
    never crosses to a worker. ``capture``: a profiler hook every task carries, pickled ahead of
    its chunk.
    """

    probe: bool = False
    meter: TransferMeter | None = None
    capture: CaptureHook | None = None


#: The context of a call that measures nothing.
NOTHING = Measurement()


def in_caller(measure: Measurement) -> Measurement:
    """The context for tasks run in the caller's own process (serial, threads): no probe, since
    there is no worker process whose memory it would report; the caller measures itself."""
    return replace(measure, probe=False) if measure.probe else measure

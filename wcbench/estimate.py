"""How much memory a case will need, estimated from its strategy before it runs.

The suite asks this before every case and skips one that would not fit in the memory the kernel
says is available (``MemAvailable``), instead of driving the machine into swap or the OOM killer.
The estimate adds up what the strategy is known to hold at its worst moment, as if every worker
peaked at once (so it errs high, which is the safe side):

- in the parent: the chunk copies sliced out of the text (``processes``, ``process-pool``, Dask),
  the pickles written for workers, the shared-memory block, and, when the parent counts
  (``serial``, ``threads``), the kernel's own working memory;
- in each worker: its interpreter (a forked child dirties a few MB of its parent's pages; a
  spawned or forkserver child starts a fresh interpreter and imports numpy), the chunk it
  receives (unpickled, plus the received pickle for pool messages), and the kernel's memory.

Kernel memory per byte of text counted: ``str.split()`` holds the decoded ``str`` (1 byte per
byte of ASCII text, more when characters need 2 or 4 bytes) and the list of word objects (about
8.4 bytes per byte, FACTS.md) whose pointer array is copied as it grows: 11.5 bytes per byte
measured for ASCII on this project's machine, 13 for the Unicode corpus. The numpy kernel works
in 1 MiB blocks, so its memory is bounded by the block, not the text.

The figure compares with ``peak_parent_bytes + peak_workers_bytes`` of a measured run; the tests
check it stays within ``ESTIMATE_FACTOR`` of that sum (and never below the sampled tree peak).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wcbench.matrix import Case
from wcbench.units import format_bytes
from wordcount.executors import PROCESS_EXECUTORS

MIB = 1 << 20

#: ``str.split()`` kernel: bytes held per byte of text (decoded str + word list while it grows).
SPLIT_BYTES_PER_BYTE_ASCII = 11.5
SPLIT_BYTES_PER_BYTE_UNICODE = 13.0
#: numpy kernel: its blocks and their temporaries, per counting thread or process.
NUMPY_WORK_BYTES = 2 * MIB
#: Private memory of a worker process before it holds any text, by start method: a forked child
#: only dirties pages it touches; spawn and forkserver start an interpreter and import numpy.
WORKER_BASELINE_BYTES: dict[str | None, int] = {
    "fork": 8 * MIB,
    "spawn": 22 * MIB,
    "forkserver": 20 * MIB,
    None: 22 * MIB,  # an executor not known here: assume a fresh interpreter
}
#: A running Dask worker process (its interpreter, distributed, numpy): all of it is private.
DASK_WORKER_BYTES = 48 * MIB
#: Stated accuracy: the estimate lies within this factor of the measured parent + workers peaks,
#: give or take ``ESTIMATE_SLACK_BYTES`` (figures of a few MB are dominated by allocator noise).
ESTIMATE_FACTOR = 3.0
ESTIMATE_SLACK_BYTES = 8 * MIB
#: Room always left free for the interpreter, pytest and the OS when deciding whether a case fits.
HEADROOM_BYTES = 256 * MIB


@dataclass(frozen=True)
class Estimate:
    """Estimated peak memory of one case (bytes), with the parts it was added up from."""

    case: Case
    parent_bytes: int
    workers_bytes: int
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        """Parent growth plus every worker's peak: the call's cost if all peak together."""
        return self.parent_bytes + self.workers_bytes


def kernel_bytes(kernel: str, nbytes: int, ascii_text: bool = True) -> int:
    """Memory a kernel holds while counting ``nbytes`` of text."""
    if kernel == "split":
        per_byte = SPLIT_BYTES_PER_BYTE_ASCII if ascii_text else SPLIT_BYTES_PER_BYTE_UNICODE
        return int(nbytes * per_byte)
    return min(NUMPY_WORK_BYTES, 4 * nbytes)


def estimate_case(case: Case, text_bytes: int | None = None, *,
                  ascii_text: bool = True) -> Estimate:
    """Peak memory of running ``case`` once on ``text_bytes`` (default ``case.size``) of text.

    The text itself is not included: it is already loaded when the case runs (see
    ``skip_reason`` for the check before loading).
    """
    n = case.size if text_bytes is None else text_bytes
    chunks = max(1, min(case.workers, n))
    chunk = -(-n // chunks)  # the largest chunk
    kernel = kernel_bytes(case.kernel, chunk, ascii_text)
    parent: dict[str, int] = {}
    worker: dict[str, int] = {}
    if case.executor in ("serial", "threads"):
        # Threads counting at once: with the GIL they interleave, so all their lists may coexist.
        parent["kernel"] = kernel_bytes(case.kernel, n, ascii_text) if case.kernel == "split" \
            else kernel * chunks
    elif case.executor == "shared-memory":
        parent["shared block"] = n
        worker["interpreter"] = WORKER_BASELINE_BYTES[case.start_method]
        worker["kernel"] = kernel
    else:
        parent["chunk copies"] = n
        pickled = case.executor != "processes" or case.start_method != "fork"
        if pickled:
            # spawn/forkserver Process arguments: one pickle at a time; pool and Dask messages
            # may all be in flight at once.
            parent["pickles"] = chunk if case.executor == "processes" else n
            worker["received chunk"] = chunk
        if case.executor not in PROCESS_EXECUTORS or case.executor == "process-pool":
            worker["received message"] = chunk
        worker["interpreter"] = DASK_WORKER_BYTES if case.executor == "dask" else \
            WORKER_BASELINE_BYTES.get(case.start_method, WORKER_BASELINE_BYTES[None])
        worker["kernel"] = kernel
    parts = {f"parent {k}": v for k, v in parent.items()}
    parts |= {f"{chunks} x worker {k}": v for k, v in worker.items()}
    return Estimate(case, sum(parent.values()), chunks * sum(worker.values()), parts)


def describe(estimate: Estimate) -> str:
    """``'~1.2GiB (parent chunk copies 256MiB, 4 x worker kernel 200MiB, ...)'``."""
    parts = ", ".join(f"{k} {format_bytes(v)}" for k, v in estimate.parts.items() if v)
    return f"~{format_bytes(estimate.total_bytes)} ({parts})"


def skip_reason(estimate: Estimate, available: int, *, text_loaded: bool = True,
                limit: int | None = None) -> str | None:
    """Why the case must not run, or None when it fits.

    It fits when the estimate (plus the text itself when ``text_loaded`` is False: it is about to
    be loaded) leaves ``HEADROOM_BYTES`` of ``available`` memory free, and, when the user set a
    ``limit`` (``--memory-limit``), does not exceed that limit.
    """
    need = estimate.total_bytes + (0 if text_loaded else estimate.case.size)
    text = "" if text_loaded else f" + the text {format_bytes(estimate.case.size)}"
    if limit is not None and need > limit:
        return (f"estimated peak {describe(estimate)}{text} exceeds --memory-limit "
                f"{format_bytes(limit)}")
    if need + HEADROOM_BYTES > available:
        return (f"estimated peak {describe(estimate)}{text} + headroom "
                f"{format_bytes(HEADROOM_BYTES)} exceeds available memory "
                f"{format_bytes(available)}")
    return None

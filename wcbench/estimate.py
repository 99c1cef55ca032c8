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

``interpreters`` holds everything in the parent (its subinterpreters live there, as threads do):
each interpreter's start-up (``INTERPRETER_BYTES``; 5-9 MiB measured, docs/interpreters.md) and
its kernel's memory for one block at a time (``BLOCK_BYTES``: ``split`` never holds more than
one block's word list per interpreter). A bytes-like text is shared, never copied; a ``str``
text's chunks are copied once, into the interpreters (``str_text=True``). ``interpreter-pool``
is the same without the start-up: its interpreters exist before the call (made once, kept), and
starting them is no part of its time either.

Kernel memory per byte of text counted: ``str.split()`` holds the decoded ``str`` (1 byte per
byte of ASCII text, more when characters need 2 or 4 bytes) and the list of word objects (about
8.4 bytes per byte, FACTS.md) whose pointer array is copied as it grows: 11.5 bytes per byte
measured for ASCII on this project's machine, 13 for the Unicode corpus. The numpy kernel works
in 1 MiB blocks, so its memory is bounded by the block, not the text.

The figure compares with ``peak_parent_bytes + peak_workers_bytes`` of a measured run; the tests
check it stays within ``ESTIMATE_FACTOR`` of that sum (and never below the sampled tree peak).

Time is estimated the same way, for the scale matrix, whose biggest cases take minutes: one call
costs its workers' start-up, plus per byte of text the counting (spread over the workers where
they run in parallel) and the moving of the text to them. At GiB sizes moving is mostly page
faults on fresh memory (FACTS.md: a copy into untouched memory runs at about 0.3 GB/s in this
VM), so each strategy's cost per byte follows from how many fresh copies it makes. A case whose
calls (its memory call, then its rounds) would exceed the time budget is skipped with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wcbench.matrix import Case, rounds_for
from wcbench.units import format_bytes, format_time
from wordcount.executors import INTERPRETER_EXECUTORS, PROCESS_EXECUTORS

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
#: One subinterpreter of the ``interpreters`` executor, created and ``wordcount`` imported in it:
#: 5-9 MiB faulted in here (docs/interpreters.md); 2 of them raised the caller's peak by 15.4 MiB.
INTERPRETER_BYTES = 8 * MIB
#: The text an interpreter counts between two looks at its stop flag
#: (``wordcount.executors.interpreters.BLOCK_BYTES``, which exists only where subinterpreters do):
#: ``split`` holds one block's word list at a time.
INTERPRETER_BLOCK_BYTES = 64 * MIB
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
                  ascii_text: bool = True, str_text: bool = False) -> Estimate:
    """Peak memory of running ``case`` once on ``text_bytes`` (default ``case.size``) of text.

    The text itself is not included: it is already loaded when the case runs (see
    ``skip_reason`` for the check before loading). ``str_text``: the text is a ``str``, not
    bytes (only ``interpreters`` copies it for that: 1 byte per code point when ASCII, else up to
    4, the width of a chunk's widest character).
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
    elif case.executor in INTERPRETER_EXECUTORS:
        if str_text:
            parent["str chunk copies"] = n if ascii_text else 4 * n
        if case.executor == "interpreters":  # a pool's were made before the call
            parent["interpreters"] = chunks * INTERPRETER_BYTES
        parent["kernel"] = chunks * kernel_bytes(case.kernel, min(chunk, INTERPRETER_BLOCK_BYTES),
                                                 ascii_text)
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
                budget: int | None = None) -> str | None:
    """Why the case must not run, or None when it fits.

    It fits when the estimate (plus the text itself when ``text_loaded`` is False: it is about to
    be loaded) leaves ``HEADROOM_BYTES`` of ``available`` memory free, and, when the user set a
    ``budget`` (``--memory-limit``), the estimate plus the text, loaded or not, does not exceed
    it: the budget is what the whole case may hold (``MEMORY_LIMIT=6GiB`` on a shared machine
    means a 4 GiB text with 4 GiB of chunk copies does not run).
    """
    size = estimate.case.size
    if budget is not None and estimate.total_bytes + size > budget:
        return (f"estimated peak {describe(estimate)} + the text {format_bytes(size)} exceeds "
                f"--memory-limit {format_bytes(budget)}")
    need = estimate.total_bytes + (0 if text_loaded else size)
    if need + HEADROOM_BYTES > available:
        text = "" if text_loaded else f" + the text {format_bytes(size)}"
        return (f"estimated peak {describe(estimate)}{text} + headroom "
                f"{format_bytes(HEADROOM_BYTES)} exceeds available memory "
                f"{format_bytes(available)}")
    return None


# --- time ----------------------------------------------------------------------------------------

GB = 10**9
#: Counting, seconds per GB of text in one thread or process (FACTS.md: numpy 2.5-6 GB/s, ``split``
#: 0.08-0.1 GB/s; its word lists' page faults included).
KERNEL_SECONDS_PER_GB: dict[str, float] = {"numpy": 0.4, "split": 12.0}
#: Moving the text to the workers, seconds per GB of text, by executor and start method: the
#: parent's chunk copies (fresh pages, about 2 s/GB), pickles written into a pipe and unpickled
#: into fresh memory in the child (about 5 s/GB more), or one shared block filled (about 1.5).
#: Measured at 4 GiB on this project's 2-core VM (FACTS.md: fork 8.9 s, spawn 28.6 s, shared
#: memory 7.7 s).
MOVE_SECONDS_PER_GB: dict[tuple[str, str | None], float] = {
    ("processes", "fork"): 2.2,
    ("processes", "spawn"): 7.0,
    ("processes", "forkserver"): 7.0,
    ("process-pool", "fork"): 7.0,
    ("process-pool", "spawn"): 7.0,
    ("process-pool", "forkserver"): 7.0,
    ("shared-memory", "fork"): 1.5,
    ("shared-memory", "spawn"): 1.5,
    ("shared-memory", "forkserver"): 1.5,
    ("dask", None): 9.0,
}
#: Starting the workers of one call, seconds per worker: a spawned worker imports numpy afresh.
START_SECONDS: dict[str | None, float] = {"fork": 0.02, "forkserver": 0.05, "spawn": 0.15,
                                          None: 0.01}
#: Creating a subinterpreter, importing ``wordcount`` in it and destroying it: 50-55 ms here
#: (docs/interpreters.md).
INTERPRETER_START_SECONDS = 0.05
#: Cores the counting may spread over (this project's machine has 2).
PARALLEL_CORES = 2


@dataclass(frozen=True)
class TimeEstimate:
    """Estimated seconds of one call of a case, with the parts it was added up from."""

    case: Case
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.parts.values())

    def case_seconds(self) -> float:
        """The whole case: its untimed memory call, warm-up round and timed rounds."""
        rounds, warmup = rounds_for(self.case.size, self.seconds)
        return self.seconds * (1 + warmup + rounds)


def estimate_seconds(case: Case, text_bytes: int | None = None, *,
                     cores: int = PARALLEL_CORES) -> TimeEstimate:
    """Seconds of one call of ``case`` on ``text_bytes`` (default ``case.size``) of text."""
    gb = (case.size if text_bytes is None else text_bytes) / GB
    parallel = 1 if case.executor == "serial" else min(case.workers, cores)
    if case.executor == "threads" and case.kernel == "split":
        parallel = 1  # str.split holds the GIL
    parts = {"counting": gb * KERNEL_SECONDS_PER_GB.get(case.kernel, 1.0) / parallel}
    move = MOVE_SECONDS_PER_GB.get((case.executor, case.start_method), 0.0)
    if move:
        parts["moving the text"] = gb * move
    if case.executor == "interpreters":
        parts["starting interpreters"] = case.workers * INTERPRETER_START_SECONDS
    elif case.executor not in ("serial", "threads", "interpreter-pool"):
        parts["starting workers"] = case.workers * START_SECONDS.get(case.start_method, 0.01)
    return TimeEstimate(case, parts)


def describe_seconds(estimate: TimeEstimate) -> str:
    """``'~31s a call (counting 1.6s, moving the text 29s), 4 calls ~124s'``."""
    parts = ", ".join(f"{k} {format_time(v)}" for k, v in estimate.parts.items() if v)
    calls = estimate.case_seconds() / estimate.seconds if estimate.seconds else 1
    return (f"~{format_time(estimate.seconds)} a call ({parts}), {calls:.0f} calls "
            f"~{format_time(estimate.case_seconds())}")


def time_skip_reason(estimate: TimeEstimate, budget: float | None) -> str | None:
    """Why the case would take too long (its time budget, ``--time-limit`` seconds per case), or
    None."""
    if budget is None or estimate.case_seconds() <= budget:
        return None
    return (f"estimated time {describe_seconds(estimate)} exceeds --time-limit "
            f"{format_time(budget)}")

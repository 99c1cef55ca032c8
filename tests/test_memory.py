"""The memory figures are true: known allocations are reported within stated tolerances.

Every case counts a text whose chunks ask a worker to hold ``BASE_MIB + ALLOC_MIB`` MiB at the
same time; the same call holding ``BASE_MIB`` gives the baseline (interpreters, queues, threads),
and what the probes report beyond the baseline must be the known ``ALLOC_MIB`` within
``TOLERANCE``. In-process kernels
are judged the same way, the numpy kernel's own working memory included.
"""

from __future__ import annotations

import gc
import multiprocessing.forkserver
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from measurement_kernels import (
    MEETING_POOL,
    MIB,
    holding_kernel,
    meeting_numpy_kernel,
)

import wordcount
from wcbench.memory import MemoryFigures, TreeSampler, descendants, measure_memory, tree_pss
from wcbench.sampler import Window
from wordcount.executors import PROCESS_EXECUTORS, START_METHODS
from wordcount.kernels.numpy_kernel import BLOCK_BYTES

ALLOC_MIB = 64
#: What each worker holds in the baseline call. Not 0: a spawned worker's start-up peaks about
#: 40 MiB above its idle size (imports, freed again) while the first worker already holds its
#: block; with nothing held, that moment, when the sampler caught it, was the baseline's peak
#: and the difference came out 30 MiB short here, 160 MiB in CI once. Holding more than that,
#: every call peaks when all hold their blocks.
BASE_MIB = 64
TOLERANCE = 0.10
#: The tree figure is sampled PSS: a worker interpreter's share of the shared libraries it maps
#: moves with the number of processes mapping them at that instant, which shifts a difference of
#: two runs by up to about 20 MiB on 128 MiB here. Workers' own peaks are read, not sampled.
TREE_TOLERANCE = 0.20
WORKERS = 2
#: What the numpy kernel writes while counting ASCII, per counting thread: three block-sized
#: buffers (whitespace mask, word starts, shifted bytes); its other two are never touched.
NUMPY_WORKING = 3 * BLOCK_BYTES
#: ASCII text of four blocks, so each of two threads counts two.
NUMPY_TEXT = b"lorem ipsum dolor sit amet, consectetur adipiscing elit\n" * (4 * BLOCK_BYTES // 56)


@contextmanager
def hold_until_seen(directory: Path, counters: int, sampler: TreeSampler) -> Iterator[None]:
    """Let ``holding_kernel``'s counters free their blocks (``directory/go``) once all of them
    hold theirs and ``sampler`` has taken a sample since; at the latest when the block ends.

    The releaser is a process of its own, given the sampler's command pipe: a thread here would
    be alive while a fork-based executor forks its workers."""
    fd = sampler.command_fd
    releaser = subprocess.Popen(
        [sys.executable, "-c", "import sys, holding_kernel as h; "
         "h.release_when_seen(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))",
         str(directory), str(counters), str(fd)], stdout=subprocess.PIPE,
        pass_fds=(fd,), env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert releaser.stdout is not None
    # Its own start-up is over before the call is measured: it is in the tree, at a steady size.
    assert releaser.stdout.readline() == b"ready\n"
    try:
        yield
    finally:
        (directory / "go").touch()
        releaser.wait()


@pytest.fixture(autouse=True, scope="module")
def _no_dask_cluster() -> Iterator[None]:
    """A tree figure sums every descendant of this process. The Dask cluster earlier tests leave
    running (its worker processes live until exit) moved spawn cases' tree figures by 40-180 MiB
    here (PSS of the pages they share shifting as workers come and go), so it is closed first,
    and its processes waited for."""
    import sys
    import time

    dask_executor = sys.modules.get("wordcount.executors.dask_executor")
    if dask_executor is not None:
        before = set(descendants(os.getpid()))
        dask_executor.close()
        deadline = time.monotonic() + 30
        while before & set(descendants(os.getpid())) - _lasting() and time.monotonic() < deadline:
            time.sleep(0.01)
        left = before & set(descendants(os.getpid())) - _lasting()
        assert not left, f"the Dask cluster's processes outlived its close: {sorted(left)}"
    yield


def _lasting() -> set[int]:
    """This process's children that outlive every call: multiprocessing's resource tracker and
    forkserver, and the memory sampler (``wcbench.sampler``, kept for the process's life)."""
    keep = set()
    for pid in descendants(os.getpid()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" in cmd or b"forkserver" in cmd or b"wcbench.sampler" in cmd:
            keep.add(pid)
    return keep


#: What the sampler saw in each of the latest ``_held`` calls, for a failure's message.
_windows: dict[str, Window] = {}


@contextmanager
def _collector_still() -> Iterator[None]:
    """No garbage collection in this process while a call is measured. A collection walks
    every object this process holds; after a fork each page it writes becomes a copy. In a fat
    parent (pytest's, late in the suite) while forked workers are alive, that is the likeliest
    reason one fork call's tree once read 30 MiB more than the next's (not reproduced alone)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def _held(executor: str, start_method: str | None, mib: int, directory: Path) -> MemoryFigures:
    """``measure_memory`` of ``WORKERS`` chunks each holding ``mib`` MiB at the same moment."""
    directory.mkdir()
    text = " ".join([f"{mib}@{directory}"] * WORKERS)  # one word, so one chunk, per worker
    sampler = TreeSampler(os.getpid())
    with hold_until_seen(directory, WORKERS, sampler), _collector_still():
        figures = measure_memory(text, kernel=holding_kernel, executor=executor,
                                 workers=WORKERS, start_method=start_method, sampler=sampler)
    assert sampler.window is not None
    _windows[directory.name] = sampler.window
    return figures


def _seen() -> str:
    """Each process's peak PSS in the latest base and loaded windows: which one moved."""
    lines = []
    for name, window in sorted(_windows.items()):
        lines.append(f"{name} window: tree {window.before / MIB:.1f} MiB before, "
                     f"{window.peak / MIB:.1f} MiB at its peak")
        lines += [f"  {p.pid} (parent {p.ppid}) peak {p.peak_pss / MIB:.1f} MiB: "
                  f"{' '.join(p.cmdline)[:120]}" for p in window.processes.values()]
    return "\n".join(lines)


def _extra(executor: str, start_method: str | None, tmp_path: Path) -> tuple:
    if start_method == "forkserver":  # its server is a one-time cost, not the baseline's
        multiprocessing.forkserver.ensure_running()
    base = _held(executor, start_method, BASE_MIB, tmp_path / "base")
    loaded = _held(executor, start_method, BASE_MIB + ALLOC_MIB, tmp_path / "loaded")
    assert base.count == loaded.count == WORKERS
    return base, loaded


def _assert_close(measured: int, expected: int, context: object = "",
                  tolerance: float = TOLERANCE) -> None:
    assert abs(measured - expected) <= tolerance * expected, (
        f"measured {measured / MIB:.1f} MiB beyond the baseline, expected "
        f"{expected / MIB:.1f} MiB ± {tolerance:.0%}; {context}"
    )


def test_serial_parent_peak_is_the_allocation() -> None:
    base = measure_memory("0", kernel=holding_kernel, executor="serial", workers=1)
    loaded = measure_memory(str(ALLOC_MIB), kernel=holding_kernel, executor="serial", workers=1)
    _assert_close(loaded.peak_parent_bytes - base.peak_parent_bytes, ALLOC_MIB * MIB)
    _assert_close(loaded.peak_tree_bytes - base.peak_tree_bytes, ALLOC_MIB * MIB)
    assert loaded.peak_workers_bytes == 0 and loaded.worker_pids == ()


def test_threads_allocate_in_the_parent(tmp_path: Path) -> None:
    base, loaded = _extra("threads", None, tmp_path)
    expected = WORKERS * ALLOC_MIB * MIB
    _assert_close(loaded.peak_parent_bytes - base.peak_parent_bytes, expected)
    _assert_close(loaded.peak_tree_bytes - base.peak_tree_bytes, expected)
    assert loaded.peak_workers_bytes == 0


def test_numpy_working_memory_counts_in_process_even_when_kept() -> None:
    """The kernel keeps its scratch buffers between calls; a measurement still sees them."""
    wordcount.count_words(NUMPY_TEXT, kernel="numpy")  # the buffers are now kept, warm
    for _ in range(2):
        figures = measure_memory(NUMPY_TEXT, kernel="numpy", executor="serial", workers=1)
        assert figures.count == len(NUMPY_TEXT.split())
        _assert_close(figures.peak_parent_bytes, NUMPY_WORKING, figures)
        _assert_close(figures.peak_tree_bytes, NUMPY_WORKING, figures)


def test_numpy_working_memory_of_every_thread() -> None:
    # Threads that meet before handing back their buffers hold two sets at once.
    MEETING_POOL.release()
    figures = measure_memory(NUMPY_TEXT, kernel=meeting_numpy_kernel, executor="threads",
                             workers=WORKERS)
    assert figures.count == len(NUMPY_TEXT.split())
    _assert_close(figures.peak_parent_bytes, WORKERS * NUMPY_WORKING, figures)
    # With the kernel's own pool, the second thread reuses the first one's set if it starts once
    # the first has finished: one set or two, never none.
    wordcount.count_words(NUMPY_TEXT, kernel="numpy", executor="threads", workers=WORKERS)
    figures = measure_memory(NUMPY_TEXT, kernel="numpy", executor="threads", workers=WORKERS)
    assert 0.9 * NUMPY_WORKING <= figures.peak_parent_bytes <= 1.1 * WORKERS * NUMPY_WORKING


@pytest.mark.parametrize("start_method", START_METHODS)
@pytest.mark.parametrize("executor", sorted(PROCESS_EXECUTORS))
def test_worker_peaks_are_the_allocations(executor: str, start_method: str,
                                          tmp_path: Path) -> None:
    base, loaded = _extra(executor, start_method, tmp_path)
    assert loaded.start_method == start_method
    assert len(loaded.worker_pids) >= 1
    expected = WORKERS * ALLOC_MIB * MIB
    _assert_close(loaded.peak_workers_bytes - base.peak_workers_bytes, expected,
                  f"workers; base {base}, loaded {loaded}")
    # The workers hold their blocks at the same time (the barrier), so the tree holds both at once.
    _assert_close(loaded.peak_tree_bytes - base.peak_tree_bytes, expected,
                  f"tree; base {base}, loaded {loaded}\n{_seen()}", TREE_TOLERANCE)
    # The parent allocates nothing of the kind.
    assert loaded.peak_parent_bytes < 0.25 * ALLOC_MIB * MIB


def _copied(executor: str, start_method: str | None, text: str | bytes) -> int:
    return measure_memory(text, kernel="numpy", executor=executor, workers=WORKERS,
                          start_method=start_method).copied_bytes


TEXT = ("lorem ipsum dolor sit amet, consectetur adipiscing elit\n" * 20_000)


@pytest.mark.parametrize("executor", ["serial", "threads"])
def test_in_process_executors_copy_nothing(executor: str) -> None:
    workers = 1 if executor == "serial" else WORKERS
    figures = measure_memory(TEXT, kernel="numpy", executor=executor, workers=workers)
    assert figures.copied_bytes == 0


@pytest.mark.parametrize("start_method", START_METHODS)
def test_processes_copy_the_text_unless_forked(start_method: str) -> None:
    copied = _copied("processes", start_method, TEXT)
    if start_method == "fork":
        assert copied == 0  # Process arguments are inherited, not pickled
    else:
        assert len(TEXT) <= copied <= len(TEXT) + 1024


@pytest.mark.parametrize("start_method", START_METHODS)
def test_pool_copies_the_text_under_every_method(start_method: str) -> None:
    assert len(TEXT) <= _copied("process-pool", start_method, TEXT.encode()) <= len(TEXT) + 1024


@pytest.mark.parametrize("start_method", START_METHODS)
def test_shared_memory_copies_only_names_and_offsets(start_method: str) -> None:
    copied = _copied("shared-memory", start_method, TEXT)
    if start_method == "fork":
        assert copied == 0
    else:
        assert 0 < copied <= 512 * WORKERS


def test_unicode_text_is_counted_in_utf8_bytes() -> None:
    text = "ünïcödé wörds\u3000and\xa0more " * 5_000
    copied = _copied("processes", "spawn", text)
    encoded = len(text.encode("utf-8"))
    assert encoded <= copied <= encoded + 1024


def test_tree_pss_counts_this_process() -> None:
    assert tree_pss(__import__("os").getpid()) > 0


def test_counts_stay_exact_under_measurement() -> None:
    figures = measure_memory(TEXT, kernel="split", executor="shared-memory", workers=WORKERS,
                             start_method="spawn")
    assert figures.count == len(TEXT.split()) == wordcount.count_words(TEXT)


def test_numpy_scratch_buffers_are_private_mappings() -> None:
    """Kept buffers are inherited copy-on-write by fork children, never shared with them."""
    from wordcount.kernels.numpy_kernel import ScratchPool, count_numpy
    from wordcount.procmem import mappings

    def shared_count() -> int:
        return sum(m.shared_flag for m in mappings())

    pool = ScratchPool()
    before = shared_count()
    assert count_numpy(NUMPY_TEXT, scratch=pool) == len(NUMPY_TEXT.split())
    assert pool.nbytes > 3 * BLOCK_BYTES
    assert shared_count() == before

"""The benchmark suite end to end on a tiny matrix, plus its matrix and machine helpers.

``pytest bench`` runs in a subprocess (as ``make bench`` does) with tiny sizes into a temporary
storage folder; the saved JSON must hold every case of the matrix, each with every ``extra_info``
key and memory figures judged against what each case must hold, or name it under
``wordcount_skipped`` with the estimate's reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import wordcount
from wcbench import matrix, results
from wcbench.corpus import format_size, parse_size
from wcbench.estimate import estimate_case
from wcbench.machine import cpu_count, gil_enabled
from wcbench.record import machine_fields
from wordcount.bandwidth import FALLBACK, NATIVE, last_level_cache, level_of
from wordcount.kernels.numpy_kernel import BLOCK_BYTES

ROOT = Path(__file__).resolve().parent.parent

SIZES = "16KiB,256KiB"
WORKERS = "1,2"
KERNELS = "split,numpy"
EXECUTORS = "serial,threads,processes,shared-memory"
METHODS = "fork,spawn"
#: Low enough that every spawn case and the two-worker fork ones are skipped (their interpreters
#: alone exceed it), high enough for serial, threads and one forked worker.
LIMIT = "12MiB"

EXTRA_KEYS = {
    "kind", "kernel", "executor", "start_method", "workers", "text_bytes", "corpus", "python",
    "implementation", "gil_enabled", "cpu_count", "peak_parent_bytes", "peak_workers_bytes",
    "peak_tree_bytes", "copied_bytes", "pilot_seconds",
}


def run_bench(storage: Path, *args: str) -> subprocess.CompletedProcess:
    """``pytest bench/bench_wordcount.py`` as make bench runs it, into ``storage``."""
    cmd = [sys.executable, "-m", "pytest", "bench/bench_wordcount.py", "-p", "no:cacheprovider",
           f"--benchmark-storage=file://{storage}", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    storage = tmp_path_factory.mktemp("results")
    proc = run_bench(storage, "--benchmark-autosave", "--sizes", SIZES, "--workers", WORKERS,
                     "--kernels", KERNELS, "--executors", EXECUTORS, "--start-methods", METHODS,
                     "--memory-limit", LIMIT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    saved = list(storage.glob("*/0001_*.json"))
    assert len(saved) == 1, saved
    return json.loads(saved[0].read_text()), proc.stdout, storage


def expected_cases() -> list[matrix.Case]:
    return matrix.build_cases(matrix.parse_sizes(SIZES), matrix.parse_workers(WORKERS),
                              matrix.parse_list(KERNELS), matrix.parse_list(EXECUTORS),
                              matrix.parse_list(METHODS))


def test_every_case_is_saved_or_skipped_with_its_reason(tiny_run: tuple[dict, str, Path]) -> None:
    data, stdout, _ = tiny_run
    ran = {b["name"] for b in data["benchmarks"] if b["extra_info"].get("kind") == "wordcount"}
    skipped = {s["name"]: s["reason"] for s in data["wordcount_skipped"]}
    limit = parse_size(LIMIT)
    for case in expected_cases():
        name = f"test_wordcount[{case.name}]"
        too_big = estimate_case(case, ascii_text=True).total_bytes > limit
        if too_big:
            assert name in skipped and "exceeds --memory-limit" in skipped[name], name
            assert name in stdout or case.name in stdout  # reported in the run's output too
        else:
            assert name in ran, name
    assert ran and skipped, "the limit should let some cases run and skip others"
    assert not ran & set(skipped)


def test_extra_info_holds_every_key_with_sensible_figures(tiny_run: tuple[dict, str, Path]) -> None:
    data, _, _ = tiny_run
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        if info["kind"] != "wordcount":
            continue
        assert set(info) >= EXTRA_KEYS, bench["name"]
        assert bench["group"] == matrix.size_group(info["text_bytes"])
        assert info["text_bytes"] in {parse_size(s) for s in SIZES.split(",")}
        assert bench["stats"]["median"] > 0 and bench["stats"]["rounds"] >= matrix.MIN_ROUNDS
        assert info["corpus"] == "ascii" and info["python"] == machine_fields()["python"]
        assert info["gil_enabled"] is gil_enabled() and info["cpu_count"] == cpu_count()
        processes = info["executor"] in ("processes", "process-pool", "shared-memory")
        if processes:
            assert info["start_method"] in METHODS.split(",")
        else:
            assert info["start_method"] is None
        judge_memory(bench["name"], info)


#: What a forked worker dirties of its inherited interpreter, and what else a small call may add.
FORK_WORKER_BASE = 8 << 20
SLACK = 512 << 10
#: The sampled tree peak against the exact parent and worker peaks (as in test_memory.py).
TREE_TOLERANCE = 1.2  # 1 + test_memory.TREE_TOLERANCE
#: pymalloc's arena: free space of this order may already be resident when a call starts.
PYMALLOC_ARENA = 256 << 10


def judge_memory(name: str, info: dict) -> None:
    """Each memory figure against what the case must hold: exact where a figure is exact (bytes
    copied, no worker process), bounded below by the kernel's working memory and above by it plus
    a stated allowance otherwise (bytes texts of ASCII, so a byte is a character)."""
    text, workers, kernel = info["text_bytes"], info["workers"], info["kernel"]
    parent, tree = info["peak_parent_bytes"], info["peak_tree_bytes"]
    forked = info["start_method"] == "fork"
    in_process = info["executor"] in ("serial", "threads")
    figures = {k: info[k] for k in info if k.endswith("_bytes")}
    # Nothing crosses by pickle: in-process executors, fork arguments, shared memory under fork.
    if in_process or forked:
        assert info["copied_bytes"] == 0, (name, figures)
    # Working memory of the kernel over the whole text: numpy writes three buffers as big as its
    # block (or chunk); split decodes the text and builds a list of word objects (8 B a pointer;
    # words of 6 bytes and a space).
    working = {"numpy": 3 * min(text, BLOCK_BYTES * workers), "split": text + 8 * text // 7,
               "native": 0}[kernel]  # (native allocates nothing of its own)
    assert tree >= max(parent, info["peak_workers_bytes"] // workers), (name, figures)
    if in_process:
        assert info["peak_workers_bytes"] == 0, (name, figures)
        # Threads have no lower bound at these sizes: a new thread reuses the resident heap that
        # glibc keeps in an exited thread's arena (below its trim threshold, 2 MiB or more),
        # which malloc_trim does not return. The serial call allocates in the main arena.
        # The numpy kernel's buffers are mapped apart, so always counted; split's objects come
        # from the heap and pymalloc's 256 KiB arenas, where a small call can find free space that
        # is already resident (a fresh clone's run read 24 KiB for split's 34 KiB at 16 KiB).
        if info["executor"] == "serial" and (kernel != "split" or working >= PYMALLOC_ARENA):
            assert parent >= 0.9 * working, (name, figures)
        assert parent <= 12 * text + SLACK, (name, figures)
        assert tree <= parent + SLACK, (name, figures)
    else:
        # Each worker holds its chunk's working memory privately (the parent's buffers are
        # released before the call), beyond what a fork child dirties of its interpreter.
        assert 0.9 * working <= info["peak_workers_bytes"], (name, figures)
        assert info["peak_workers_bytes"] <= workers * FORK_WORKER_BASE + 12 * text, (name, figures)
        # The tree figure is a sampled PSS sum (a fork child's share of its parent's pages and of
        # shared libraries moves between calls): held to the 20% test_memory.py states for it.
        assert tree <= TREE_TOLERANCE * (parent + info["peak_workers_bytes"]) + 4 * SLACK, \
            (name, figures)


def test_a_read_per_size_and_thread_count_labelled(tiny_run: tuple[dict, str, Path]) -> None:
    """One read per size and worker count of its cases (one thread always), each with its
    threads, level, method and figures, and found by every case of its size and workers."""
    data, _, storage = tiny_run
    reads = [b for b in data["benchmarks"] if b["extra_info"].get("kind") == "memory-read"]
    sizes = matrix.parse_sizes(SIZES)
    assert sorted((b["extra_info"]["text_bytes"], b["extra_info"]["threads"]) for b in reads) \
        == [(s, t) for s in sizes for t in matrix.parse_workers(WORKERS)]
    llc = last_level_cache() or 0
    for bench in reads:
        info = bench["extra_info"]
        size, threads = info["text_bytes"], info["threads"]
        assert bench["name"] == f"test_memory_read[memory-read-{format_size(size)}-t{threads}]"
        assert bench["group"] == matrix.size_group(size)
        assert info["level"] == level_of(size, llc)
        assert info["method"] == (NATIVE if "native" in wordcount.KERNELS else FALLBACK)
        assert info["read_rounds"] >= 10
        assert 0 < info["read_best_seconds"] <= info["read_seconds"]
        assert info["gb_per_s"] == size / info["read_seconds"] / 1e9
    (path,) = storage.glob("*/0001_*.json")
    run = results.load_run(path)
    for case in run.cases:
        found = run.read_match(case)
        assert found is not None and found.read.threads == case.workers, case.name
        assert found.fraction == run.memory_read[(case.text_bytes, case.workers)].seconds \
            / case.median


def test_run_prints_a_summary_per_size(tiny_run: tuple[dict, str, Path]) -> None:
    _, stdout, _ = tiny_run
    summary = stdout[stdout.index("wordcount summary"):]
    for size in SIZES.split(","):
        assert f"{size} (" in summary and "fastest" in summary and "smallest peak" in summary
    method = ", native, " if "native" in wordcount.KERNELS else "numpy sum, "
    assert summary.count("% of the limit: ") == len(SIZES.split(",")) and method in summary
    assert "skipped by the memory estimate" in summary


def test_benchmark_compare_reads_the_saved_run(tiny_run: tuple[dict, str, Path]) -> None:
    """``pytest bench --benchmark-compare`` finds the run saved in the storage and compares."""
    _, _, storage = tiny_run
    proc = run_bench(storage, "--benchmark-compare", "--sizes", "16KiB", "--workers", "1",
                     "--kernels", "numpy", "--executors", "serial")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "0001_" in proc.stdout and "NOW" in proc.stdout


def test_bad_options_are_refused_with_the_valid_names(tmp_path: Path) -> None:
    proc = run_bench(tmp_path, "--sizes", "16KiB", "--executors", "carrier-pigeon")
    assert proc.returncode != 0
    assert "carrier-pigeon" in proc.stderr + proc.stdout and "serial" in proc.stderr + proc.stdout


def test_pytest_tests_ignores_bench_and_accepts_default_options() -> None:
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "tests/test_chunking.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "bench_" not in proc.stdout


# --- the matrix as data ---------------------------------------------------------------------

def test_build_cases_drops_senseless_combinations() -> None:
    cases = matrix.build_cases([1 << 20], [1, 2, 4], ["split"],
                               ["serial", "threads", "processes"], ["fork", "spawn"])
    serial = [c for c in cases if c.executor == "serial"]
    assert [(c.workers, c.start_method) for c in serial] == [(1, None)]
    assert all(c.start_method is None for c in cases if c.executor == "threads")
    procs = {(c.start_method, c.workers) for c in cases if c.executor == "processes"}
    assert procs == {(m, w) for m in ("fork", "spawn") for w in (1, 2, 4)}
    assert len(cases) == 1 + 3 + 6


def test_defaults_cover_every_kernel_executor_and_method() -> None:
    cases = matrix.build_cases(matrix.parse_sizes(""), matrix.parse_workers(""))
    sizes = sorted({c.size for c in cases})
    assert sizes[-1] >= 16 * sizes[0]
    assert {c.kernel for c in cases} == set(wordcount.KERNELS)
    assert {c.executor for c in cases} == set(wordcount.EXECUTORS)
    assert {c.start_method for c in cases} - {None} == set(wordcount.START_METHODS)
    assert {c.workers for c in cases} == {1, 2, 4}


def test_case_names_and_groups() -> None:
    case = matrix.Case("split", "processes", "spawn", 1 << 20, 2)
    assert case.name == "split-processes-spawn-1MiB-w2"
    assert matrix.Case("numpy", "threads", None, 32 << 20, 4).name == "numpy-threads-32MiB-w4"
    assert case.group == "size 1MiB"


def test_parsing_lists_and_refusing_bad_values() -> None:
    assert matrix.parse_list(" a, b,,a ") == ["a", "b"]
    assert matrix.parse_list(None) == []
    assert matrix.parse_sizes("32MiB,1MiB,1MiB") == [1 << 20, 32 << 20]
    assert matrix.parse_workers("4,1") == [1, 4]
    with pytest.raises(ValueError, match="at least 1"):
        matrix.parse_workers("0")
    with pytest.raises(ValueError, match="integers"):
        matrix.parse_workers("two")
    with pytest.raises(ValueError, match="choose from"):
        matrix.build_cases([1024], [1], ["nope"])


def test_rounds_many_for_small_few_for_big_and_capped_by_time() -> None:
    small, big = matrix.rounds_for(64 << 10), matrix.rounds_for(256 << 20)
    assert small[0] > big[0] == matrix.MIN_ROUNDS
    assert small[1] == 1 and big[1] == 0
    assert matrix.rounds_for(64 << 10, seconds_per_call=10.0)[0] == matrix.MIN_ROUNDS


def test_the_quick_default_covers_every_kernel_executor_and_start_method() -> None:
    quick, full = matrix.preset("quick"), matrix.preset("full")
    assert matrix.DEFAULT_MATRIX == "quick"
    cases = quick.cases()
    sizes = {c.size for c in cases}
    assert sizes == {parse_size(s) for s in matrix.DEFAULT_SIZES} and len(sizes) == 2
    for size in sizes:
        combos = {(c.kernel, c.executor, c.start_method) for c in cases if c.size == size}
        for kernel in wordcount.KERNELS:
            for executor in wordcount.EXECUTORS:
                methods = wordcount.START_METHODS if executor in matrix.PROCESS_EXECUTORS \
                    else (None,)
                assert {(kernel, executor, m) for m in methods} <= combos, (kernel, executor)
    assert {c.workers for c in cases if c.executor != "serial"} == {2}
    # The full grid is the same strategies at every worker count.
    assert {c.workers for c in full.cases() if c.executor != "serial"} == {1, 2, 4}
    assert {(c.kernel, c.executor, c.start_method, c.size) for c in full.cases()} == \
        {(c.kernel, c.executor, c.start_method, c.size) for c in cases}


def test_rounds_follow_the_spread_of_the_pilot_within_the_budget() -> None:
    # Calls that agree to 1%: the median is known to well within 5% after the minimum.
    assert matrix.rounds_for_spread([1.00, 1.01, 1.005], 50) == matrix.MIN_ROUNDS
    # A range of 18% of the median: IQR about 14.5%, so (1.57 * 0.145 / 0.05)^2 = 21 rounds.
    assert matrix.rounds_for_spread([1.0, 1.1, 1.2], 50) == 21
    # Never past what the size and speed allow, never under the minimum.
    assert matrix.rounds_for_spread([1.0, 1.5, 2.0], 12) == 12
    assert matrix.rounds_for_spread([1.0, 1.0, 1.0], 50) == matrix.MIN_ROUNDS
    assert matrix.pilot_calls(0.1) == matrix.PILOT_CALLS
    assert matrix.pilot_calls(1.0) == 0  # three would take 3 s: the budget rule alone


def test_a_saved_run_says_which_matrix_made_it(tiny_run: tuple[dict, str, Path]) -> None:
    data, _, _ = tiny_run
    assert data["wordcount_matrix"]["name"] == "quick"
    assert data["wordcount_matrix"]["options"]["sizes"] == SIZES
    for bench in data["benchmarks"]:
        if bench["extra_info"].get("kind") == "wordcount":
            pilot = bench["extra_info"]["pilot_seconds"]
            assert len(pilot) in (0, matrix.PILOT_CALLS) and all(t > 0 for t in pilot)
            if pilot:  # at least the minimum, never more than the spread asked for
                assert matrix.MIN_ROUNDS <= bench["stats"]["rounds"] <= \
                    matrix.rounds_for_spread(pilot, matrix.MAX_ROUNDS)

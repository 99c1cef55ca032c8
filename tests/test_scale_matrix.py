"""The scale matrix as data (``MATRIX=scale``), its round rule and its time estimate."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

import wordcount
from wcbench import estimate as est
from wcbench import matrix
from wcbench.matrix import SCALE, Case
from wordcount.executors import PROCESS_EXECUTORS

ROOT = Path(__file__).resolve().parent.parent
MIB, GIB = 1 << 20, 1 << 30


def test_scale_sizes_run_from_1mib_to_8gib_at_most_4x_apart() -> None:
    sizes = sorted({c.size for c in SCALE.cases()})
    assert sizes[0] == MIB and sizes[-1] == 8 * GIB
    assert all(b <= 4 * a for a, b in itertools.pairwise(sizes))


def test_numpy_runs_every_executor_and_start_method_at_every_size() -> None:
    cases = SCALE.cases()
    for size in {c.size for c in cases}:
        numpy = {(c.executor, c.start_method, c.workers) for c in cases
                 if c.kernel == "numpy" and c.size == size}
        expected = {("serial", None, 1)}
        for executor in wordcount.EXECUTORS[1:]:
            methods = wordcount.START_METHODS if executor in PROCESS_EXECUTORS else [None]
            expected |= {(executor, m, 2) for m in methods}
        assert numpy == expected


def test_split_stops_where_its_lists_and_time_stop() -> None:
    split_sizes = {c.size for c in SCALE.cases() if c.kernel == "split"}
    assert max(split_sizes) == 256 * MIB and min(split_sizes) == MIB
    # The biggest split case would hold about 3 GiB of lists: it fits, 1 GiB (12 GiB) hardly.
    biggest = est.estimate_case(Case("split", "serial", None, 256 * MIB, 1))
    assert 2 * GIB < biggest.total_bytes < 4 * GIB


def test_options_replace_the_preset_lists() -> None:
    cases = SCALE.cases(sizes=[MIB, 1 * GIB], kernels=["split", "numpy"],
                        executors=["serial", "threads"], workers=[1, 2])
    assert {c.size for c in cases if c.kernel == "split"} == {MIB}  # its cap still applies
    assert {c.size for c in cases if c.kernel == "numpy"} == {MIB, GIB}
    assert {c.workers for c in cases if c.executor == "threads"} == {1, 2}
    assert matrix.preset("scale") is SCALE
    with pytest.raises(ValueError, match="unknown matrix 'huge'; choose from: quick, full, scale"):
        matrix.preset("huge")


def test_cases_that_cannot_fit_24gib_are_skipped_with_their_estimate() -> None:
    available = 24 * GIB

    def reason(executor: str, method: str | None) -> str | None:
        case = Case("numpy", executor, method, 8 * GIB, 2 if executor != "serial" else 1)
        return est.skip_reason(est.estimate_case(case), available, text_loaded=False)

    assert reason("serial", None) is None and reason("threads", None) is None
    assert reason("shared-memory", "spawn") is None  # the text and its block: 16 GiB
    spawn = reason("processes", "spawn")
    assert spawn is not None and "parent pickles" in spawn and "the text 8GiB" in spawn


def test_slow_calls_get_a_few_rounds_not_fifty() -> None:
    assert matrix.rounds_for(8 * GIB, 30.0)[0] == matrix.MIN_ROUNDS_SLOW
    assert matrix.rounds_for(8 * GIB, 15.0)[0] == 4
    assert matrix.rounds_for(8 * GIB, 10.0)[0] == matrix.MIN_ROUNDS
    assert matrix.rounds_for(8 * GIB, 600.0)[0] == matrix.MIN_ROUNDS_SLOW
    assert matrix.rounds_for(MIB, 0.001)[0] == matrix.MAX_ROUNDS


def test_time_estimate_follows_the_copies_each_strategy_makes() -> None:
    def per_call(executor: str, method: str | None, kernel: str = "numpy") -> float:
        return est.estimate_seconds(Case(kernel, executor, method, 4 * GIB, 2)).seconds

    assert per_call("threads", None) < per_call("shared-memory", "spawn") \
        < per_call("processes", "fork") < per_call("processes", "spawn")
    assert per_call("threads", None, "split") > per_call("processes", "fork", "split")  # GIL
    small = est.estimate_seconds(Case("numpy", "processes", "spawn", MIB, 2))
    assert small.parts["starting workers"] > small.parts["moving the text"]


def test_time_skip_reason_counts_every_call_of_the_case() -> None:
    estimate = est.estimate_seconds(Case("numpy", "processes", "spawn", 4 * GIB, 2))
    rounds, warmup = matrix.rounds_for(4 * GIB, estimate.seconds)
    assert estimate.case_seconds() == pytest.approx(estimate.seconds * (1 + warmup + rounds))
    assert est.time_skip_reason(estimate, None) is None
    assert est.time_skip_reason(estimate, estimate.case_seconds() + 1) is None
    reason = est.time_skip_reason(estimate, estimate.case_seconds() - 1)
    assert reason is not None and "--time-limit" in reason and "moving the text" in reason


def collect(*options: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/bench_wordcount.py", "--collect-only", "-q",
         "-p", "no:cacheprovider", *options],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return [line.split("[", 1)[1].rstrip("]") for line in proc.stdout.splitlines() if "::" in line]


def test_the_suite_takes_matrix_scale_and_runs_size_by_size() -> None:
    ids = collect("--matrix", "scale", "--kernels", "numpy", "--executors", "serial,threads")
    sizes = ["1MiB", "4MiB", "16MiB", "64MiB", "256MiB", "1GiB", "4GiB", "8GiB"]
    expected = []
    for size in sizes:  # each size's cases, then its reads (1 and 2 threads): one load per size
        expected += [f"numpy-serial-{size}-w1", f"numpy-threads-{size}-w2",
                     f"memory-read-{size}-t1", f"memory-read-{size}-t2"]
    assert ids == expected
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/bench_wordcount.py", "--collect-only", "-q",
         "-p", "no:cacheprovider", "--matrix", "scale", "--time-limit", "soon"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "--time-limit must be a number of seconds" in proc.stdout + proc.stderr


def test_native_joins_in_process_only_where_built() -> None:
    native = {(c.executor, c.size) for c in SCALE.cases() if c.kernel == "native"}
    if "native" not in wordcount.KERNELS:
        assert native == set()
        return
    assert {e for e, _ in native} == {"serial", "threads"}
    assert {s for _, s in native} == {c.size for c in SCALE.cases()}

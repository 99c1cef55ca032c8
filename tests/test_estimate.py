"""The memory estimate that decides which cases may run: its model, and checked against reality.

Measured cases run each in a fresh interpreter (a parent that already ran a ``str.split()`` keeps
that heap and would show no growth the next time), warmed up as the benchmark warms them up, on
4 MiB of text: big enough for the per-byte terms to matter beside the interpreters. A second set
runs at 256 MiB, where the copies a strategy makes (chunk copies, pickles, received chunks, the
shared block) are 10-20 times a spawned interpreter, as at the GiB sizes the scale matrix skips
by this estimate. That set is the numpy kernel only, one case per way of moving the text: a
``split`` case at 256 MiB would hold 3 GiB and take seconds, and its per-byte term (the word
lists) dominates already at 4 MiB, where it is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import wordcount
from wcbench import estimate as est
from wcbench.matrix import Case

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
SIZE = 4 * MIB

MEASURE = """
import json, sys
import multiprocessing.forkserver
import wordcount
from wcbench.corpus import load
from wcbench.memory import measure_memory
from wcbench.record import memory_fields

def main():
    kernel, executor, method, workers, size = sys.argv[1:]
    method = None if method == "-" else method
    text = load(int(size))
    if method == "forkserver":
        multiprocessing.forkserver.ensure_running()
    if executor == "dask":
        wordcount.count_words("warm up", executor=executor, workers=int(workers))
    f = measure_memory(text, kernel=kernel, executor=executor, workers=int(workers),
                       start_method=method)
    print(json.dumps(memory_fields(f)))

if __name__ == "__main__":
    main()
"""

CASES = [
    Case("split", "serial", None, SIZE, 1),
    Case("split", "threads", None, SIZE, 2),
    Case("split", "processes", "fork", SIZE, 2),
    Case("split", "processes", "spawn", SIZE, 2),
    Case("split", "process-pool", "fork", SIZE, 1),
    Case("split", "process-pool", "forkserver", SIZE, 2),
    Case("split", "shared-memory", "fork", SIZE, 2),
    Case("split", "shared-memory", "spawn", SIZE, 2),
    Case("numpy", "serial", None, SIZE, 1),
    Case("numpy", "processes", "forkserver", SIZE, 2),
    Case("numpy", "shared-memory", "fork", SIZE, 2),
]
if "dask" in wordcount.EXECUTORS:
    CASES.append(Case("split", "dask", None, SIZE, 2))

BIG = 256 * MIB
BIG_CASES = [
    Case("numpy", "serial", None, BIG, 1),  # nothing grows with the text
    Case("numpy", "threads", None, BIG, 2),
    Case("numpy", "processes", "fork", BIG, 2),  # chunk copies, inherited
    Case("numpy", "processes", "spawn", BIG, 2),  # copies, a pickle, received chunks
    Case("numpy", "process-pool", "forkserver", BIG, 2),  # copies, queued messages
    Case("numpy", "shared-memory", "spawn", BIG, 2),  # the one block
]


def measure(case: Case, script: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, str(script), case.kernel, case.executor, case.start_method or "-",
         str(case.workers), str(case.size)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[Case, dict]:
    script = tmp_path_factory.mktemp("estimate") / "measure.py"
    script.write_text(MEASURE)
    cases = BIG_CASES + CASES  # the slow ones first; a 256 MiB case holds at most about 1 GiB
    with ThreadPoolExecutor(2) as pool:  # two fresh interpreters at a time: one per core
        return dict(zip(cases, pool.map(lambda c: measure(c, script), cases), strict=True))


@pytest.mark.parametrize("case", CASES + BIG_CASES, ids=[c.name for c in CASES + BIG_CASES])
def test_estimate_is_within_the_stated_factor_of_measured_peaks(
        case: Case, measured: dict[Case, dict]) -> None:
    figures = measured[case]
    actual = figures["peak_parent_bytes"] + figures["peak_workers_bytes"]
    estimate = est.estimate_case(case, ascii_text=True)
    factor, slack = est.ESTIMATE_FACTOR, est.ESTIMATE_SLACK_BYTES
    detail = f"estimate {est.describe(estimate)}, measured {figures}"
    assert estimate.total_bytes <= actual * factor + slack, detail
    assert actual <= estimate.total_bytes * factor + slack, detail


# --- the model, without measuring --------------------------------------------------------------

def test_split_grows_with_the_text_numpy_does_not() -> None:
    def total(kernel: str, size: int) -> int:
        return est.estimate_case(Case(kernel, "serial", None, size, 1)).total_bytes

    assert total("split", 64 * MIB) == pytest.approx(2 * total("split", 32 * MIB), rel=0.01)
    assert total("numpy", 64 * MIB) == total("numpy", 32 * MIB) <= est.NUMPY_WORK_BYTES
    unicode = est.estimate_case(Case("split", "serial", None, MIB, 1), ascii_text=False)
    assert unicode.total_bytes > total("split", MIB)


def test_parts_follow_how_each_strategy_moves_data() -> None:
    def parts(executor: str, method: str | None) -> dict[str, int]:
        return est.estimate_case(Case("numpy", executor, method, 8 * MIB, 2)).parts

    assert "parent pickles" not in parts("processes", "fork")  # arguments inherited
    assert parts("processes", "spawn")["parent pickles"] == 4 * MIB  # one chunk at a time
    assert parts("process-pool", "fork")["parent pickles"] == 8 * MIB  # queue messages
    shm = parts("shared-memory", "spawn")
    assert shm["parent shared block"] == 8 * MIB and "parent chunk copies" not in shm
    assert "2 x worker received chunk" not in shm
    spawned = est.estimate_case(Case("numpy", "processes", "spawn", 8 * MIB, 2))
    forked = est.estimate_case(Case("numpy", "processes", "fork", 8 * MIB, 2))
    assert spawned.workers_bytes > forked.workers_bytes


def test_skip_reason_says_why_and_respects_the_limit() -> None:
    case = Case("split", "processes", "spawn", 64 * MIB, 4)
    estimate = est.estimate_case(case)
    plenty = estimate.total_bytes + case.size + est.HEADROOM_BYTES
    assert est.skip_reason(estimate, plenty, text_loaded=False) is None
    reason = est.skip_reason(estimate, plenty - 1, text_loaded=False)
    assert reason is not None and "exceeds available memory" in reason and "the text" in reason
    assert est.skip_reason(estimate, plenty - 1, text_loaded=True) is None
    limited = est.skip_reason(estimate, 1 << 50, budget=estimate.total_bytes - 1)
    assert limited is not None and "--memory-limit" in limited and "worker kernel" in limited
    # The limit bounds the whole case, the text included even when it is already loaded.
    whole = estimate.total_bytes + case.size
    assert est.skip_reason(estimate, 1 << 50, budget=whole) is None
    limited = est.skip_reason(estimate, 1 << 50, text_loaded=True, budget=whole - 1)
    assert limited is not None and "the text 64MiB exceeds --memory-limit" in limited


def test_interpreters_hold_everything_in_the_parent_and_copy_only_a_str() -> None:
    """Subinterpreters live in the caller: no worker figures, no pickles, no chunk copies of
    bytes; a ``str`` is copied once; each interpreter adds its start-up, and ``split`` holds
    one block's word list per interpreter."""
    case = Case("split", "interpreters", None, 8 * MIB, 2)
    shared = est.estimate_case(case)
    assert shared.workers_bytes == 0
    assert shared.parts == {"parent interpreters": 2 * est.INTERPRETER_BYTES,
                            "parent kernel": 2 * est.kernel_bytes("split", 4 * MIB)}
    copied = est.estimate_case(case, str_text=True)
    assert copied.parts["parent str chunk copies"] == 8 * MIB
    assert est.estimate_case(case, str_text=True, ascii_text=False).parts[
        "parent str chunk copies"] == 32 * MIB  # up to 4 bytes a code point
    big = Case("split", "interpreters", None, 1 << 30, 2)  # 512 MiB chunks, 64 MiB blocks
    assert est.estimate_case(big).parts["parent kernel"] == \
        2 * est.kernel_bytes("split", est.INTERPRETER_BLOCK_BYTES)
    threads = est.estimate_case(Case("split", "threads", None, 1 << 30, 2))
    assert est.estimate_case(big).total_bytes < threads.total_bytes / 4


def test_interpreters_count_in_parallel_and_pay_their_start_up() -> None:
    one = est.estimate_seconds(Case("split", "interpreters", None, 1 << 30, 1))
    two = est.estimate_seconds(Case("split", "interpreters", None, 1 << 30, 2))
    threads = est.estimate_seconds(Case("split", "threads", None, 1 << 30, 2))
    assert two.parts["counting"] == pytest.approx(one.parts["counting"] / 2)
    assert threads.parts["counting"] == pytest.approx(one.parts["counting"])  # the GIL
    assert two.parts["starting interpreters"] == 2 * est.INTERPRETER_START_SECONDS
    assert "moving the text" not in two.parts

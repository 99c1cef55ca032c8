"""The memory estimate of ``interpreters`` cases against their measured peaks (CPython >= 3.13).

As ``tests/test_estimate.py`` measures the other executors: each case in a fresh interpreter,
warmed up, at 4 MiB (and the native kernel at 256 MiB, where nothing grows with the text). Run
under every CPython with subinterpreters by ``tests/test_interpreters_elsewhere.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_estimate import MEASURE, SIZE, measure

import wordcount
from wcbench import estimate as est
from wcbench.matrix import Case

pytestmark = pytest.mark.skipif("interpreters" not in wordcount.EXECUTORS,
                                reason="this Python has no subinterpreters (3.13+)")

CASES = [
    Case("split", "interpreters", None, SIZE, 1),
    Case("split", "interpreters", None, SIZE, 2),
    Case("split", "interpreters", None, SIZE, 4),
    Case("native", "interpreters", None, SIZE, 2),
    Case("native", "interpreters", None, 256 << 20, 2),
]


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("estimate") / "measure.py"
    path.write_text(MEASURE)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_estimate_is_within_the_stated_factor_of_measured_peaks(case: Case, script: Path) -> None:
    if case.kernel not in wordcount.KERNELS:
        pytest.skip(f"the {case.kernel} kernel is not built here")
    figures = measure(case, script)
    assert figures["peak_workers_bytes"] == 0 and figures["copied_bytes"] == 0, figures
    actual = figures["peak_parent_bytes"]
    estimate = est.estimate_case(case, ascii_text=True)
    factor, slack = est.ESTIMATE_FACTOR, est.ESTIMATE_SLACK_BYTES
    detail = f"estimate {est.describe(estimate)}, measured {figures}"
    assert estimate.total_bytes <= actual * factor + slack, detail
    assert actual <= estimate.total_bytes * factor + slack, detail


def test_the_block_size_is_the_executors() -> None:
    from wordcount.executors import interpreters

    assert est.INTERPRETER_BLOCK_BYTES == interpreters.BLOCK_BYTES

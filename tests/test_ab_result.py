"""The typed A/B result (``wcbench.ab.result``): every committed comparison reads and writes back
byte for byte, a wrong count keeps the key order its session stopped with, and the readers
(``wcbench ab-validate --summarise``, the interval's text) take it from Python, no command line
needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wcbench.ab import validate
from wcbench.ab.result import (
    WRONG_COUNT,
    CaseMemory,
    CaseResult,
    Pair,
    Round,
    format_interval,
    load_ab,
)
from wcbench.ab.stats import RatioInterval

ROOT = Path(__file__).resolve().parents[1]
SAVED = sorted(p for p in (ROOT / "results" / "ab").rglob("*.json") if p.name != "summary.json")


def test_there_are_committed_comparisons_of_every_version() -> None:
    versions = {json.loads(p.read_text())["version"] for p in SAVED}
    assert versions == {1, 2, 3}


@pytest.mark.parametrize("path", SAVED, ids=[str(p.relative_to(ROOT / "results" / "ab"))
                                             for p in SAVED])
def test_a_saved_comparison_writes_back_as_it_was_saved(path: Path) -> None:
    assert json.dumps(load_ab(path).to_json(), indent=1) + "\n" == path.read_text()


def _wrong(rounds: tuple[Round, ...], memory_measured: bool) -> CaseResult:
    return CaseResult("numpy-serial-1MiB-w1", "in-process", "numpy", "serial", 1, None, 1 << 20,
                      0.1, WRONG_COUNT, True, rounds, Pair(5, 5), Pair(0.1, 0.1),
                      CaseMemory({}) if memory_measured else None, counts_differ=Pair(5, 6))


def test_a_wrong_count_keeps_the_order_its_session_stopped_with() -> None:
    head = ["name", "kind", "kernel", "executor", "workers", "start_method", "size",
            "threshold", "counts", "warmup_seconds"]
    first = _wrong((), memory_measured=False).to_json()  # found by the first instance
    assert list(first) == [*head, "verdict", "regression", "rounds", "memory", "counts_differ"]
    later = _wrong((Round(0.1, 0.1, "base", 0, 0),), memory_measured=True).to_json()
    assert list(later) == [*head, "memory", "verdict", "regression", "rounds", "counts_differ"]
    assert CaseResult.from_json(later).to_json() == later


def test_the_interval_is_written_one_way_with_its_dash() -> None:
    interval = RatioInterval(1.05, 1.01, 1.08, 20)
    assert format_interval(interval, "-") == "1.050 [1.010-1.080]"
    assert format_interval(interval, "–") == "1.050 [1.010–1.080]"
    assert format_interval(None, "–") == "–"


def test_validate_summarises_saved_runs_from_python(capsys: pytest.CaptureFixture) -> None:
    folder = ROOT / "results" / "ab" / "validate-1"
    assert validate.validate(summarise_dir=folder) == 0
    out = capsys.readouterr().out
    assert out.startswith("aa: ") and "numpy15: " in out and "start30: " in out


def test_rounds_name_the_side_that_went_first_first() -> None:
    assert list(Round(0.1, 0.2, "new", 1, 3).to_json()) == ["new", "base", "first", "cpu",
                                                            "instance"]

"""Saved-run ``make compare`` made honest about time, and ``make report --ab`` of a saved A/B.

Time between two saved runs is judged with the interval each run's own spread allows: a change
beyond the tolerance with the interval clear of it is a regression, a change inside 10% with the
interval inside too is ``same``, and everything between is ``inconclusive``, pointing to
``make ab``, never "no regression".
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from helpers import wcbench

from wcbench.compare import rules
from wcbench.compare import runs as compare
from wcbench.results import Stats

FIXTURE = Path(__file__).parent / "data" / "run_small.json"


def stats(median: float, iqr: float, rounds: int = 25) -> Stats:
    return Stats(median=median, iqr=iqr, rounds=rounds)


@pytest.mark.parametrize(("base", "new", "expected"), [
    (stats(0.100, 0.010), stats(0.102, 0.010), "same"),       # +2%, interval within 10%
    (stats(0.100, 0.010), stats(0.200, 0.010), "inconclusive"),  # doubled: drift or code?
    (stats(0.100, 0.010), stats(0.400, 0.010), "slower"),     # beyond +200%, interval clear
    (stats(0.100, 0.100), stats(0.400, 0.300, 5), "inconclusive"),  # beyond, spread too wide
    (stats(0.100, 0.010), stats(0.050, 0.005), "faster"),
    (stats(0.001, 0.001, 5), stats(0.003, 0.001, 5), "same"),  # under the 5 ms floor
])
def test_time_verdicts(base: Stats, new: Stats, expected: str) -> None:
    change = compare.judge_time(base, new, compare.Tolerances())
    assert change.verdict == expected
    assert change.regression == (expected == "slower")
    lo, hi = change.interval
    assert lo <= new.median / base.median <= hi


def test_median_interval_is_the_box_plot_notch() -> None:
    lo, hi = compare.median_interval(stats(1.0, 0.5, 25))
    assert (lo, hi) == pytest.approx((1 - 1.57 * 0.5 / 5, 1 + 1.57 * 0.5 / 5))
    assert compare.median_interval(Stats(median=2.0)) == (2.0, 2.0)


def _store(folder: Path, *runs: dict) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for i, run in enumerate(runs, start=1):
        paths.append(folder / f"{i:04d}_abc_20260101_00000{i}.json")
        paths[-1].write_text(json.dumps(run))
    return paths


def _doubled(run: dict) -> dict:
    doubled = copy.deepcopy(run)
    for bench in doubled["benchmarks"]:
        for key in ("median", "q1", "q3", "iqr", "min", "max", "mean"):
            if bench["stats"].get(key) is not None:
                bench["stats"][key] *= 2
        for key in ("peak_parent_bytes", "peak_workers_bytes", "peak_tree_bytes"):
            if key in bench["extra_info"]:
                bench["extra_info"][key] *= 2
    return doubled


def test_a_doubled_copy_is_not_passed_as_no_regression(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    """The issue's probe: every median and every memory peak doubled (it passed, exit 0)."""
    run = json.loads(FIXTURE.read_text())
    base, new = _store(tmp_path / "m", run, _doubled(run))
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "regression(s)" in out[-1] and "make ab" in out[-1]
    name = "test_wordcount[numpy-processes-spawn-1MiB-w1]"
    line = next(li for li in out if li.startswith(name))
    assert "+100% [" in line and "inconclusive" in line
    # both exact peaks doubled: each named where the doubling passes its floor
    info = next(b for b in run["benchmarks"] if b["name"] == name)["extra_info"]
    assert f"{name} workers" in out[-1]
    parent = info["peak_parent_bytes"]
    assert (f"{name} parent" in out[-1]) == rules.PARENT.grew(parent, 2 * parent)
    # a pool's workers (one more interpreter or not) keep the loose tolerance
    assert "test_wordcount[numpy-process-pool-spawn-1MiB-w1] workers" not in out[-1]


@pytest.mark.parametrize(("executor", "grows"), [("processes", 1 << 20), ("processes", 3 << 20),
                                                 ("process-pool", 3 << 20)])
def test_exact_peaks_are_judged_tightly_where_they_repeat(tmp_path: Path, executor: str,
                                                          grows: int) -> None:
    """A process executor's workers' peak is exact: a worker's 3 MiB working memory doubling
    fails; a pool's (one interpreter more or not) keeps the wide tolerance."""
    run = json.loads(FIXTURE.read_text())
    new = copy.deepcopy(run)
    bench = next(b for b in new["benchmarks"] if b["extra_info"].get("executor") == executor)
    base_peak = bench["extra_info"]["peak_workers_bytes"]
    bench["extra_info"]["peak_workers_bytes"] += grows
    base_path, new_path = _store(tmp_path / "m", run, new)
    flagged = executor == "processes" and rules.WORKERS.grew(base_peak, base_peak + grows)
    assert flagged == (grows == 3 << 20 and executor == "processes")
    assert wcbench("compare", ["--base", str(base_path), "--new", str(new_path)]) == int(flagged)


def _saved_ab(tmp_path: Path) -> Path:
    side = {"rev": "HEAD", "commit": "a" * 40, "dirty": [], "describe": "HEAD (aaaaaaaaaa)",
            "python": "3.11.7", "implementation": "CPython", "gil_enabled": True,
            "executable": "/usr/bin/python3"}
    figures = {"copied_bytes": {"base": 0, "new": 0, "grew": False},
               "peak_workers_bytes": {"base": 1 << 20, "new": 3 << 20, "grew": True},
               "peak_parent_bytes": {"base": 0, "new": 0, "grew": False}}
    case = {"name": "numpy-processes-fork-1MiB-w1", "kind": "processes", "threshold": 0.1,
            "rounds": [{"base": 0.01, "new": 0.011, "first": "base", "cpu": 0}] * 20,
            "median": {"base": 0.01, "new": 0.011}, "verdict": "same",
            "interval": {"ratio": 1.05, "low": 1.01, "high": 1.08, "rounds": 20},
            "memory": {"figures": figures}, "memory_grew": ["peak_workers_bytes"],
            "regression": True}
    result = {"format": "wcbench-ab", "version": 1, "created": "2026-11-30T10:00:00+00:00",
              "duration_seconds": 61.0,
              "machine": {"cpu_count": 2, "loadavg_before": [1.0, 1, 1],
                          "loadavg_after": [2.0, 1, 1]},
              "settings": {"memory_calls": 3, "budget_seconds": 200},
              "sides": {"base": side, "new": side}, "cases": [case], "regression": True}
    folder = tmp_path / "results" / "ab"
    folder.mkdir(parents=True)
    path = folder / "20261130T100000_aaaaaaaaaa_worktree.json"
    path.write_text(json.dumps(result))
    return path


def test_report_renders_the_latest_saved_ab(tmp_path: Path) -> None:
    _saved_ab(tmp_path)
    assert wcbench("report", ["--results", str(tmp_path / "results"), "--ab", "latest"]) == 0
    page = (tmp_path / "results" / "ab-report.md").read_text().splitlines()
    assert page[0] == "# A/B comparison: NEW against BASE"
    assert "**regression**" in page[2]
    row = next(line for line in page if line.startswith("| numpy-processes-fork-1MiB-w1 | proc"))
    assert row == ("| numpy-processes-fork-1MiB-w1 | processes | 20 | 10ms | 11ms | "
                   "1.050 [1.010–1.080] | same (±10%) |")
    memory = [line for line in page if line.startswith("| numpy-processes-fork-1MiB-w1 | 0B")]
    assert memory == ["| numpy-processes-fork-1MiB-w1 | 0B → 0B | **1MiB → 3MiB** | 0B → 0B |"]
    assert any("same CPU" in line for line in page)


@pytest.mark.parametrize("content", [None, "not json", json.dumps({"format": "other"})])
def test_report_of_a_missing_or_foreign_ab_exits_2(tmp_path: Path, content: str | None,
                                                    capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "x.json"
    if content is not None:
        path.write_text(content)
    assert wcbench("report", ["--results", str(tmp_path), "--ab", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("report: ")


def test_report_ab_latest_without_any_exits_2(tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    assert wcbench("report", ["--results", str(tmp_path), "--ab", "latest"]) == 2
    assert "make ab" in capsys.readouterr().err

"""``wcbench export``: saved runs and a saved A/B as BMF and github-action-benchmark JSON.

The inputs are real: the committed runs of ``tests/data/results`` and a committed A/A ``wcbench
ab`` run of ``results/ab/validate-6/``. The outputs are checked against each format's published
rules, written out here: BMF's JSON schema (https://bencher.dev/bmf.json: an object of
benchmarks, each an object of measures, each an object with a number ``value`` and optional
number ``lower_value``/``upper_value``) with Bencher's name limits (benchmark names at most 1024
characters, measure slugs 64), and github-action-benchmark's ``BenchmarkResult`` (its
``src/extract.ts``: ``name: string; value: number; unit: string; range?: string; extra?:
string``, read as a non-empty JSON array by ``tool: customSmallerIsBetter``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers import wcbench

from wcbench.compare.runs import median_interval
from wcbench.results import load_run

DATA = Path(__file__).parent / "data" / "results"
RUN = next(DATA.glob("Linux-CPython-3.11-64bit/0001_*.json"))
AA_RUNS = Path(__file__).parent.parent / "results" / "ab" / "validate-6" / "aa"
AB = sorted(AA_RUNS.glob("*.json"))[0]


def strict_json(text: str) -> object:
    """JSON as the formats define it: NaN and Infinity are not numbers there."""
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def check_bmf(doc: object) -> None:
    """BMF's schema and Bencher's name limits."""
    assert isinstance(doc, dict) and doc
    for benchmark, measures in doc.items():
        assert isinstance(benchmark, str) and 0 < len(benchmark) <= 1024
        assert isinstance(measures, dict) and measures
        for measure, metric in measures.items():
            assert isinstance(measure, str) and 0 < len(measure) <= 64
            assert measure == measure.lower() and " " not in measure  # a slug, kebab-case
            assert isinstance(metric, dict) and "value" in metric
            assert set(metric) <= {"value", "lower_value", "upper_value"}
            assert all(is_number(v) for v in metric.values())
            if "lower_value" in metric:
                assert metric["lower_value"] <= metric["value"] <= metric["upper_value"]


def check_github_action(doc: object) -> None:
    """github-action-benchmark's custom format: ``[{name, unit, value, range?, extra?}]``."""
    assert isinstance(doc, list) and doc
    names = [entry["name"] for entry in doc]
    assert len(names) == len(set(names))  # one series per name
    for entry in doc:
        assert {"name", "unit", "value"} <= set(entry) <= {"name", "unit", "value", "range",
                                                            "extra"}
        assert isinstance(entry["name"], str) and entry["name"]
        assert isinstance(entry["unit"], str) and entry["unit"]
        assert is_number(entry["value"])
        assert all(isinstance(entry[k], str) for k in ("range", "extra") if k in entry)


def exported(capsys: pytest.CaptureFixture, *args: str) -> object:
    assert wcbench("export", list(args)) == 0
    return strict_json(capsys.readouterr().out)


def test_a_saved_run_as_bmf_holds_every_time_and_memory_figure(
        capsys: pytest.CaptureFixture) -> None:
    doc = exported(capsys, "--format", "bmf", "--run", str(RUN))
    check_bmf(doc)
    run = load_run(RUN)
    assert set(doc) == {b.name for b in run.benchmarks}
    for bench in run.benchmarks:
        metrics = doc[bench.name]
        lo, hi = median_interval(bench.stats)
        assert metrics["latency"] == pytest.approx(
            {"value": bench.median * 1e9, "lower_value": lo * 1e9, "upper_value": hi * 1e9})
        for key in ("peak_parent_bytes", "peak_workers_bytes", "peak_tree_bytes",
                    "copied_bytes"):
            if key in bench.extra_info:
                assert metrics[key.replace("_", "-")] == {"value": bench.extra_info[key]}


def test_a_saved_run_for_github_action_benchmark(capsys: pytest.CaptureFixture,
                                                 tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert wcbench("export", ["--format", "github-action-benchmark", "--run", str(RUN),
                              "--output", str(out)]) == 0
    assert capsys.readouterr().out == ""  # the file only
    doc = strict_json(out.read_text())
    check_github_action(doc)
    run = load_run(RUN)
    serial = run.by_name["test_wordcount[split-serial-32MiB-w1]"]
    by_name = {e["name"]: e for e in doc}
    median = by_name["test_wordcount[split-serial-32MiB-w1] - median"]
    assert median["unit"] == "ns" and median["value"] == pytest.approx(serial.median * 1e9)
    parent = by_name["test_wordcount[split-serial-32MiB-w1] - parent"]
    assert parent == {"name": parent["name"], "unit": "bytes",
                      "value": serial.extra_info["peak_parent_bytes"]}


@pytest.mark.parametrize("fmt", ["bmf", "github-action-benchmark"])
def test_a_saved_ab_exports_its_ratio_interval_and_memory(capsys: pytest.CaptureFixture,
                                                          fmt: str) -> None:
    doc = exported(capsys, "--format", fmt, "--ab", str(AB))
    saved = json.loads(AB.read_text())
    case = saved["cases"][0]
    interval, memory = case["interval"], case["memory"]["figures"]
    if fmt == "bmf":
        check_bmf(doc)
        assert set(doc) == {c["name"] for c in saved["cases"]}
        assert doc[case["name"]]["time-ratio"] == {"value": interval["ratio"],
                                                   "lower_value": interval["low"],
                                                   "upper_value": interval["high"]}
        assert doc[case["name"]]["peak-parent-bytes"] == {
            "value": round(memory["peak_parent_bytes"]["new"])}
    else:
        check_github_action(doc)
        ratio = next(e for e in doc if e["name"] == f"{case['name']} - time ratio NEW/BASE")
        assert ratio["value"] == interval["ratio"] and ratio["unit"] == "x"
        assert ratio["range"] == f"{interval['low']:.6g} to {interval['high']:.6g} (95%)"


def test_what_cannot_be_exported_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert wcbench("export", ["--format", "bmf", "--ab", str(tmp_path / "none.json")]) == 2
    assert "no saved A/B comparison" in capsys.readouterr().err
    assert wcbench("export", ["--format", "bmf", "--run", "latest", "--results",
                              str(tmp_path)]) == 2
    with pytest.raises(SystemExit) as exc:
        wcbench("export", ["--format", "csv", "--run", "1"])
    assert exc.value.code == 2

"""``wcbench.results``: the saved-run model, the "latest" rule and run lookup, on real saved JSON.

``tests/data/run_small.json`` is a real run saved by pytest-benchmark (see ``tests/test_report.py``
for how it was made); variants are written to temporary storage folders laid out as
pytest-benchmark lays them out (``<storage>/<machine id>/NNNN_<commit>_<date>.json``).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from wcbench import results

FIXTURE = Path(__file__).parent / "data" / "run_small.json"
MACHINE = "Linux-CPython-3.11-64bit"


def raw() -> dict:
    return json.loads(FIXTURE.read_text())


def save(storage: Path, number: int, data: dict, machine: str = MACHINE) -> Path:
    folder = storage / machine
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{number:04d}_cb2180f_20261125_0930{number:02d}.json"
    path.write_text(json.dumps(data))
    return path


def test_a_saved_run_is_read_into_typed_fields() -> None:
    data = raw()
    run = results.load_run(FIXTURE)
    kinds = [b["extra_info"].get("kind") for b in data["benchmarks"]]
    assert len(run.benchmarks) == len(data["benchmarks"]) == 129
    assert len(run.cases) == kinds.count("wordcount") == 127
    # an old run's reads: numpy's one-thread sum, its pytest-benchmark median, at (size, 1)
    assert sorted(run.memory_read) == [(64 << 10, 1), (1 << 20, 1)]
    reads = {b["extra_info"]["text_bytes"]: b["stats"]["median"] for b in data["benchmarks"]
             if b["extra_info"]["kind"] == "memory-read"}
    for (size, _), read in run.memory_read.items():
        assert (read.seconds, read.legacy, read.label) == (reads[size], True, "numpy sum, 1 thread")
    assert [(s.name, s.reason) for s in run.skipped] == [
        (s["name"], s["reason"]) for s in data["wordcount_skipped"]]
    assert len(run.skipped) == 9
    assert run.machine.node == "vm" and run.machine.cpu_count == 2
    assert run.machine.python_version == "3.11.7" and run.machine.cpu_brand == "AMD EPYC"
    assert run.commit.id == data["commit_info"]["id"] and run.commit.dirty is True
    assert run.datetime == data["datetime"]
    assert run.distinct("gil_enabled") == (True,) and run.distinct("python") == ("3.11.7",)
    assert run.number is None  # not named NNNN_...: a fixture file


def test_a_matrix_case_carries_its_figures_and_its_benchmark() -> None:
    data = raw()
    entry = next(b for b in data["benchmarks"]
                 if b["name"] == "test_wordcount[split-processes-spawn-1MiB-w2]")
    info, stats = entry["extra_info"], entry["stats"]
    case = next(c for c in results.load_run(FIXTURE).cases if c.name == entry["name"])
    assert case.strategy == ("split", "processes", "spawn")
    assert (case.workers, case.text_bytes, case.corpus) == (2, 1 << 20, "ascii")
    assert case.median == stats["median"]
    assert case.throughput == (1 << 20) / stats["median"]
    for key in ("peak_tree_bytes", "peak_parent_bytes", "peak_workers_bytes", "copied_bytes",
                "estimate_bytes"):
        assert getattr(case, key) == info[key]
    assert case.key == ("wordcount", "ascii", 1 << 20, "split", "processes", "spawn", 2)
    assert case.benchmark.stats.rounds == stats["rounds"]
    assert case.benchmark.stats.iqr == stats["iqr"]
    assert case.benchmark.group == "size 1MiB"


def test_run_cases_are_listed_per_section_in_table_order() -> None:
    run = results.load_run(FIXTURE)
    assert run.sections == [(64 << 10, "ascii"), (1 << 20, "ascii")]
    cases = run.at(1 << 20, "ascii")
    assert len(cases) == sum(c.text_bytes == 1 << 20 for c in run.cases)
    assert cases[0].strategy == ("split", "serial", None)
    order = [results.case_order(c) for c in cases]
    assert order == sorted(order)
    assert [c.start_method for c in cases if c.strategy[:2] == ("split", "processes")
            and c.workers == 1] == ["fork", "spawn", "forkserver"]


def test_round_times_are_kept_when_saved() -> None:
    """``--benchmark-save-data`` writes every round's time: the model keeps them."""
    bench = results.Benchmark.from_json({"name": "x", "stats": {"median": 2.0,
                                                                "data": [1.0, 2.0, 4.0]}})
    assert bench.stats.data == (1.0, 2.0, 4.0) and bench.stats.rounds is None
    assert bench.kind is None and bench.group is None


def test_latest_is_the_last_measured_whatever_its_folder_or_number(tmp_path: Path) -> None:
    data = raw()
    newer = copy.deepcopy(data)
    newer["datetime"] = "2026-11-25T11:00:00+00:00"
    first = save(tmp_path, 1, newer)   # numbered first, measured last
    second = save(tmp_path, 2, data)
    other = copy.deepcopy(data)
    other["datetime"] = "2026-11-25T10:30:00+00:00"
    elsewhere = save(tmp_path, 1, other, machine="Linux-CPython-3.13-64bit")
    assert results.run_paths(tmp_path) == [second, elsewhere, first]
    assert results.run_paths(tmp_path, MACHINE) == [second, first]
    assert results.latest_run(tmp_path).path == first
    assert results.latest_run(tmp_path, "Linux-CPython-3.13-64bit").path == elsewhere


def test_equal_times_fall_back_to_run_number_and_no_time_to_the_file_date(tmp_path: Path) -> None:
    data = raw()
    paths = [save(tmp_path, n, data) for n in (2, 1, 3)]
    assert results.run_paths(tmp_path) == sorted(paths)
    undated = copy.deepcopy(data)
    del undated["datetime"]
    late = save(tmp_path, 4, undated)
    os.utime(late, (1e9, 1e9))  # 2001: older than any dated run
    assert results.run_paths(tmp_path)[0] == late


def test_runs_are_found_by_path_number_or_part_of_a_name(tmp_path: Path) -> None:
    first = save(tmp_path, 1, raw())
    second = save(tmp_path, 2, raw())
    assert results.find_run("2", tmp_path) == second
    assert results.find_run("0001", tmp_path) == first
    assert results.find_run(str(second), tmp_path) == second
    assert results.find_run("20261125_093001", tmp_path) == first
    assert results.find_run("1", tmp_path, MACHINE) == first
    with pytest.raises(results.SavedRunError, match="no saved run matches '7'"):
        results.find_run("7", tmp_path)
    with pytest.raises(results.SavedRunError, match="ambiguous"):
        results.find_run("cb2180f", tmp_path)
    with pytest.raises(results.SavedRunError, match="no saved run matches '1'"):
        results.find_run("1", tmp_path, "Linux-CPython-3.14-64bit")


def test_a_run_number_in_several_machine_folders_means_this_interpreters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = save(tmp_path, 1, raw())
    save(tmp_path, 1, raw(), machine="Linux-CPython-3.14-64bit")
    monkeypatch.setattr(results, "machine_id", lambda: MACHINE)
    assert results.find_run("1", tmp_path) == here
    monkeypatch.setattr(results, "machine_id", lambda: "Linux-PyPy-3.10-64bit")
    with pytest.raises(results.SavedRunError, match="ambiguous"):
        results.find_run("1", tmp_path)


def test_no_run_or_no_matrix_run_is_said_plainly(tmp_path: Path) -> None:
    with pytest.raises(results.SavedRunError, match=r"no saved run under .*make bench"):
        results.latest_run(tmp_path)
    kernels_only = raw()
    kernels_only["benchmarks"] = [b for b in kernels_only["benchmarks"]
                                  if b["extra_info"]["kind"] == "memory-read"]
    save(tmp_path, 1, kernels_only)
    assert not results.latest_run(tmp_path).cases
    with pytest.raises(results.SavedRunError, match="holds matrix benchmarks"):
        results.latest_run(tmp_path, with_cases=True)


@pytest.mark.parametrize(("content", "message"), [
    (None, "no saved run at"),
    ("{not json", "is not a saved pytest-benchmark run"),
    ('{"benchmarks": 3}', "no 'benchmarks' list"),
    ('{"benchmarks": [{"name": "x", "stats": {}}]}', "KeyError"),
    ('{"benchmarks": [{"name": "x", "stats": {"median": 1},'
     ' "extra_info": {"kind": "wordcount"}}]}', "KeyError"),
])
def test_what_is_not_a_saved_run_is_refused_with_its_path(tmp_path: Path, content: str | None,
                                                          message: str) -> None:
    path = tmp_path / "0001_x.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(results.SavedRunError, match=message) as exc:
        results.load_run(path)
    assert str(path) in str(exc.value)

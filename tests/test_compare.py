"""``wcbench.compare`` (``make compare``): pass and fail paths on a real saved run and variants.

``tests/data/run_small.json`` is a real run of the matrix saved by pytest-benchmark (see
``tests/test_report.py``); the tests copy it into fresh storage folders, modify the copies (a
slower median, a grown memory figure) and check the verdict and the exit status. What the
comparison prints for the committed runs is held exactly by ``tests/test_golden.py``.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
from helpers import WCBENCH, wcbench

from wcbench.commands import common
from wcbench.compare import runs as compare
from wcbench.results import machine_id

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20


FIXTURE = Path(__file__).parent / "data" / "run_small.json"


@pytest.fixture(scope="module")
def saved_run() -> dict:
    return json.loads(FIXTURE.read_text())


def store(folder: Path, *runs: dict) -> list[Path]:
    """Save ``runs`` as 0001_..., 0002_... in ``folder`` (pytest-benchmark's naming)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, run in enumerate(runs, start=1):
        path = folder / f"{i:04d}_abc_20260101_000000.json"
        path.write_text(json.dumps(run))
        paths.append(path)
    return paths


def wordcount_bench(run: dict, executor: str) -> dict:
    return next(b for b in run["benchmarks"]
                if b["extra_info"].get("executor") == executor)


def test_unchanged_runs_pass_and_every_benchmark_is_listed(saved_run: dict, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    base, new = store(tmp_path / "m", saved_run, saved_run)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 0
    out = capsys.readouterr().out
    for bench in saved_run["benchmarks"]:
        assert bench["name"] in out
    assert "no regression" in out and "median" in out and "tree" in out


def test_a_slower_median_fails_and_is_marked(saved_run: dict, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    slower = copy.deepcopy(saved_run)
    bench = wordcount_bench(slower, "processes")
    base_median = bench["stats"]["median"]
    bench["stats"]["median"] = base_median * (1 + compare.TIME_TOLERANCE) \
        + compare.TIME_FLOOR_SECONDS + 0.01
    base, new = store(tmp_path / "m", saved_run, slower)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 1
    out = capsys.readouterr().out
    line = next(li for li in out.splitlines() if li.startswith(bench["name"]))
    assert "median" in line and "!" in line
    assert f"{bench['name']} median" in out.splitlines()[-1]
    # A looser tolerance and floor given on the command line let it pass.
    loose = ["--time-tolerance", "100%", "--time-floor", "1s"]
    assert wcbench("compare", ["--base", str(base), "--new", str(new), *loose]) == 0


def test_time_growth_under_the_floor_passes(saved_run: dict, tmp_path: Path) -> None:
    """Sub-millisecond cases double on scheduler noise alone: below the floor that passes."""
    noisy = copy.deepcopy(saved_run)
    for bench in noisy["benchmarks"]:
        bench["stats"]["median"] += compare.TIME_FLOOR_SECONDS / 2
    base, new = store(tmp_path / "m", saved_run, noisy)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 0
    assert wcbench("compare", ["--base", str(base), "--new", str(new), "--time-floor", "0"]) == 1


def test_a_faster_median_passes(saved_run: dict, tmp_path: Path) -> None:
    faster = copy.deepcopy(saved_run)
    for bench in faster["benchmarks"]:
        bench["stats"]["median"] /= 3
    base, new = store(tmp_path / "m", saved_run, faster)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 0


@pytest.mark.parametrize("key", compare.MEMORY_KEYS)
def test_a_grown_memory_figure_fails(saved_run: dict, tmp_path: Path, key: str,
                                     capsys: pytest.CaptureFixture) -> None:
    grown = copy.deepcopy(saved_run)
    bench = wordcount_bench(grown, "processes")
    info = bench["extra_info"]
    info[key] = int(info[key] * (1 + compare.MEMORY_TOLERANCE) + compare.MEMORY_FLOOR_BYTES
                    + info["text_bytes"] * compare.MEMORY_FLOOR_TEXT + MIB)
    base, new = store(tmp_path / "m", saved_run, grown)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 1
    assert f"{bench['name']} {compare._SHORT[key]}" in capsys.readouterr().out


def test_memory_growth_under_the_floor_passes(saved_run: dict, tmp_path: Path) -> None:
    grown = copy.deepcopy(saved_run)
    for bench in grown["benchmarks"]:
        info = bench["extra_info"]
        for key in ("peak_parent_bytes", "peak_workers_bytes", "peak_tree_bytes"):
            exact = key in compare.EXACT_KEYS and info.get("executor") in compare.EXACT_EXECUTORS
            if key in info and not exact:  # exact peaks: tests/test_ab_compare.py
                info[key] += compare.MEMORY_FLOOR_BYTES // 2
    base, new = store(tmp_path / "m", saved_run, grown)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 0
    # ...unless the floor is lowered.
    assert wcbench("compare", ["--base", str(base), "--new", str(new),
                               "--memory-floor", "1KiB"]) == 1


def test_copied_bytes_are_held_to_their_own_tight_tolerance(saved_run: dict, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    """Counted exactly, so a strategy that starts pickling its text (64 KiB here) is caught."""
    copying = copy.deepcopy(saved_run)
    bench = wordcount_bench(copying, "processes")
    assert bench["extra_info"]["copied_bytes"] == 0  # fork: the chunk is inherited
    bench["extra_info"]["copied_bytes"] = bench["extra_info"]["text_bytes"]
    base, new = store(tmp_path / "m", saved_run, copying)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 1
    assert f"{bench['name']} copied" in capsys.readouterr().out


def test_benchmarks_in_one_run_only_are_listed_not_failed(saved_run: dict, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    fewer = copy.deepcopy(saved_run)
    gone = fewer["benchmarks"].pop()
    fewer["wordcount_skipped"] = [{"name": gone["name"], "reason": "estimated peak too big"}]
    base, new = store(tmp_path / "m", saved_run, fewer)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 0
    out = capsys.readouterr().out
    assert f"only in base: {gone['name']}" in out
    assert f"skipped in new: {gone['name']}: estimated peak too big" in out


def test_default_is_the_two_latest_runs_and_numbers_pick_others(saved_run: dict,
                                                                tmp_path: Path) -> None:
    slow = copy.deepcopy(saved_run)
    for bench in slow["benchmarks"]:
        bench["stats"]["median"] += 1.0
    folder = tmp_path / machine_id()
    first, second, third = store(folder, saved_run, slow, saved_run)
    assert compare.pick_runs(tmp_path) == (second, third)
    assert compare.pick_runs(tmp_path, base="1") == (first, third)
    assert compare.pick_runs(tmp_path, base="0001", new="2") == (first, second)
    assert compare.pick_runs(tmp_path, new="2") == (first, second)
    args = ["--storage", str(tmp_path)]
    assert wcbench("compare", args) == 0  # 0002 (slow) -> 0003: faster
    assert wcbench("compare", [*args, "--base", "1", "--new", "2"]) == 1


def test_missing_or_unreadable_runs_exit_2(saved_run: dict, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    args = ["--storage", str(tmp_path)]
    assert wcbench("compare", args) == 2
    assert "run `make bench` first" in capsys.readouterr().err
    store(tmp_path / machine_id(), saved_run)
    assert wcbench("compare", args) == 2
    assert "only one saved run" in capsys.readouterr().err
    assert wcbench("compare", [*args, "--base", "7"]) == 2
    assert "no saved run matches '7'" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert wcbench("compare", [*args, "--base", str(broken), "--new", str(broken)]) == 2
    assert "not a saved pytest-benchmark run" in capsys.readouterr().err


def test_tolerance_arguments_are_checked(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        wcbench("compare", ["--time-tolerance=-5%"])
    assert exc.value.code == 2
    assert "cannot be negative" in capsys.readouterr().err
    assert common.fraction("25%") == pytest.approx(0.25)
    assert common.fraction("0.4") == pytest.approx(0.4)
    assert common.seconds("5ms") == pytest.approx(0.005)
    assert common.seconds("2") == pytest.approx(2.0)


def test_help_states_the_defaults(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        wcbench("compare", ["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"{compare.TIME_TOLERANCE:.0%}" in out and f"{compare.MEMORY_TOLERANCE:.0%}" in out


def test_module_entry_point_exits_non_zero_on_regression(saved_run: dict, tmp_path: Path) -> None:
    slower = copy.deepcopy(saved_run)
    for bench in slower["benchmarks"]:
        bench["stats"]["median"] += 1.0
    store(tmp_path / machine_id(), saved_run, slower)
    proc = subprocess.run([WCBENCH, "compare", "--storage", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "regression(s)" in proc.stdout


def test_tree_peak_may_rise_to_the_sum_of_its_processes(saved_run: dict, tmp_path: Path) -> None:
    """Short-lived workers overlap or not: a tree peak up to BASE's parent + workers (+tolerance)
    is scheduling, not a regression; beyond it, it is."""
    base_run, new_run = copy.deepcopy(saved_run), copy.deepcopy(saved_run)
    name = wordcount_bench(base_run, "processes")["name"]
    base_info = wordcount_bench(base_run, "processes")["extra_info"]
    base_info.update(peak_parent_bytes=2 * MIB, peak_workers_bytes=200 * MIB,
                     peak_tree_bytes=30 * MIB)
    new_info = next(b for b in new_run["benchmarks"] if b["name"] == name)["extra_info"]
    new_info.update(peak_parent_bytes=2 * MIB, peak_workers_bytes=200 * MIB,
                    peak_tree_bytes=200 * MIB)
    base, new = store(tmp_path / "t", base_run, new_run)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 0
    new_info["peak_tree_bytes"] = int(202 * MIB * (1 + compare.MEMORY_TOLERANCE)) + MIB
    base, new = store(tmp_path / "u", base_run, new_run)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 1

"""Memory in ``pytest --benchmark-compare`` and the one rule set, on real saved runs.

A tiny matrix (numpy at 1 MiB: ``serial``, whose parent holds the kernel's three 1 MiB block
buffers, and ``processes`` under ``spawn``, which copies the text to its worker) is run once and
saved by pytest-benchmark; each test compares a new session, or a modified copy of the saved
run, against it. Every figure checked is the saved run's own, read back from its JSON.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from helpers import wcbench
from test_bench_suite import run_bench

from wcbench.compare import pytest_table, rules
from wcbench.units import format_bytes
from wordcount.kernels.numpy_kernel import BLOCK_BYTES

MATRIX = ("--sizes", "1MiB", "--workers", "1", "--kernels", "numpy", "--executors",
          "serial,processes", "--start-methods", "spawn")
SERIAL = "test_wordcount[numpy-serial-1MiB-w1]"
SPAWN = "test_wordcount[numpy-processes-spawn-1MiB-w1]"


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The storage folder and the run saved in it (``<machine>/0001_*.json``)."""
    storage = tmp_path_factory.mktemp("results")
    proc = run_bench(storage, "--benchmark-autosave", *MATRIX)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (path,) = storage.glob("*/0001_*.json")
    return path, json.loads(path.read_text())


def bench(run: dict, name: str) -> dict:
    return next(b for b in run["benchmarks"] if b["name"] == name)


def save_as(path: Path, number: int, run: dict) -> Path:
    """``run`` saved beside ``path`` as pytest-benchmark would number it."""
    new = path.with_name(f"{number:04d}{path.name[4:]}")
    new.write_text(json.dumps(run))
    return new


def table_lines(stdout: str) -> list[str]:
    """The memory section: from its title to the end of the output."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if " memory: NOW against " in line)
    return lines[start:]


def test_the_saved_figures_are_the_ones_to_judge(saved: tuple[Path, dict]) -> None:
    """What the scenarios below rely on: the serial parent holds exactly the kernel's three block
    buffers (a page or so more), the spawn case copies the text once, with pickle's framing."""
    _, run = saved
    serial, spawn = bench(run, SERIAL)["extra_info"], bench(run, SPAWN)["extra_info"]
    assert 3 * BLOCK_BYTES <= serial["peak_parent_bytes"] <= 3 * BLOCK_BYTES + (64 << 10)
    assert spawn["text_bytes"] < spawn["copied_bytes"] <= spawn["text_bytes"] + 4096


def test_halved_baseline_copies_fail_the_session_naming_copied(saved: tuple[Path, dict]) -> None:
    """Against the latest saved run (``--benchmark-compare`` alone), whose copies were halved."""
    path, run = saved
    halved = copy.deepcopy(run)
    for b in halved["benchmarks"]:
        if "copied_bytes" in b["extra_info"]:
            b["extra_info"]["copied_bytes"] //= 2
    save_as(path, 2, halved)
    proc = run_bench(path.parent.parent, "--benchmark-compare", "--memory-compare-fail=copied:1%",
                     *MATRIX)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = table_lines(proc.stdout)
    assert " memory: NOW against 0002_" in out[0]
    base = bench(halved, SPAWN)["extra_info"]["copied_bytes"]
    assert "Memory has regressed (--memory-compare-fail=copied:1%):" in out
    failed = [line for line in out if line.startswith("\t")]
    assert failed == [f"\t{SPAWN} - copied: {format_bytes(base)} -> {format_bytes(2 * base)} "
                      f"(+100.0%), more than +1% and 4KiB"]
    row = next(line for line in out if line.startswith(SPAWN))
    assert row.rstrip().endswith("2.00x !")  # copied is the last column


def test_identical_code_passes_every_check_and_prints_the_table(saved: tuple[Path, dict]) -> None:
    """Against run 0001 by number (0002 is the latest): every figure checked, at its own limit."""
    path, run = saved
    checks = "parent:25%,workers:10%,tree:150%,copied:1%"
    proc = run_bench(path.parent.parent, "--benchmark-compare=0001",
                     f"--memory-compare-fail={checks}", *MATRIX)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = table_lines(proc.stdout)
    assert " memory: NOW against 0001_" in out[0]
    assert out[1].split() == ["parent", "peak", "workers'", "peaks", "tree", "peak", "copied"]
    assert out[2].split() == ["Name", "(memory)", *["0001", "NOW", "NOW/0001"] * 4]
    for name in (SERIAL, SPAWN):
        row = next(line for line in out if line.startswith(name))
        info = bench(run, name)["extra_info"]
        cells = row.split()
        # the base columns are the saved run's figures
        assert [cells[1], cells[4], cells[7], cells[10]] == [
            format_bytes(info[k]) for k in rules.MEMORY_KEYS]
        assert "!" not in row
    assert not any(line.startswith("test_memory_read") for line in out)  # no memory figures
    assert "no memory figure of 2 benchmark(s) grew past its limit" in out
    assert "Memory has regressed" not in proc.stdout


def test_the_option_needs_a_comparison_and_a_valid_spec(tmp_path: Path) -> None:
    proc = run_bench(tmp_path, "--memory-compare-fail=copied:1%", "--collect-only", *MATRIX)
    assert proc.returncode == 4
    assert "--memory-compare-fail requires --benchmark-compare" in proc.stderr
    proc = run_bench(tmp_path, "--benchmark-compare", "--memory-compare-fail=heap:1%",
                     "--collect-only", *MATRIX)
    assert proc.returncode == 4
    assert "FIGURE one of parent, workers, tree, copied" in proc.stderr


def test_a_doubled_parent_peak_fails_wcbench_compare(saved: tuple[Path, dict], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    """The numpy kernel's working memory doubling, 3 -> 6 MiB: the old 4 MiB floor passed it."""
    _, run = saved
    doubled = copy.deepcopy(run)
    info = bench(doubled, SERIAL)["extra_info"]
    info["peak_parent_bytes"] *= 2
    info["peak_tree_bytes"] *= 2
    base, new = save_as(tmp_path / "0001_x.json", 1, run), save_as(tmp_path / "0002_x.json", 2,
                                                                   doubled)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(f"1 regression(s): {SERIAL} parent;")
    row = next(line for line in out if line.startswith(SERIAL))
    old = bench(run, SERIAL)["extra_info"]

    def shown(key: str) -> str:
        return f"{format_bytes(old[key])}->{format_bytes(info[key])} +100%"

    # the parent's exact peak fails; the tree's (sampled, ~) stays within its wide tolerance
    assert f"parent {shown('peak_parent_bytes')} !" in row
    assert f"tree~ {shown('peak_tree_bytes')}  copied" in row


@pytest.mark.parametrize("beyond", [False, True])
def test_a_tree_peak_within_its_stated_noise_does_not_fail(saved: tuple[Path, dict],
                                                          tmp_path: Path, beyond: bool) -> None:
    """The tree peak is sampled: growth within its stated tolerance (+150%, 48 MiB, 1x the text,
    from the larger of BASE's tree and its parent plus workers) passes, in wcbench compare and
    in the pytest table, even with a tighter PCT (the floors stay); 1 MiB beyond it fails."""
    _, run = saved
    grown = copy.deepcopy(run)
    info = bench(grown, SPAWN)["extra_info"]
    base_info = bench(run, SPAWN)["extra_info"]
    reference = max(base_info["peak_tree_bytes"],
                    base_info["peak_parent_bytes"] + base_info["peak_workers_bytes"])
    allowed = rules.WIDE.allowed(reference, base_info["text_bytes"])
    info["peak_tree_bytes"] = reference + allowed + (1 << 20 if beyond else -(1 << 20))
    base, new = save_as(tmp_path / "0001_x.json", 1, run), save_as(tmp_path / "0002_x.json", 2,
                                                                   grown)
    assert wcbench("compare", ["--base", str(base), "--new", str(new)]) == int(beyond)
    tight = {"tree": 0.10}
    table = pytest_table.Table("0001_x", (pytest_table.Row(SPAWN, tuple(rules.judge(
        base_info, info, rules.Rules().with_relative(tight)))),))
    failed = [(n, j.key) for n, j in table.failures(tight)]
    if reference * rules.WIDE.relative <= max(rules.WIDE.floor, base_info["text_bytes"]):
        assert failed == ([(SPAWN, "peak_tree_bytes")] if beyond else [])  # a floor decided
    lines = pytest_table.format_table(table, rules.Rules(), tight)
    assert any("not exact (~): tree peak (sampled)" in line for line in lines)


def test_rules_floors_and_exactness() -> None:
    tolerance = rules.Tolerance(0.10, 1000)
    assert not tolerance.grew(100, 1100)  # the floor
    assert tolerance.grew(100, 1101)
    assert not tolerance.grew(100_000, 110_000)
    assert tolerance.grew(100_000, 110_001)
    r = rules.Rules()
    assert r.tolerance("peak_parent_bytes", "serial") == (rules.PARENT, True)
    assert r.tolerance("peak_workers_bytes", "processes") == (rules.WORKERS, True)
    assert r.tolerance("peak_parent_bytes", "threads") == (rules.WIDE, False)
    assert r.tolerance("peak_tree_bytes", "serial") == (rules.WIDE, False)
    assert r.tolerance("copied_bytes", "dask") == (rules.COPIED, True)
    # the probe: a 3 MiB working memory doubling is a regression, and A/A noise is not
    assert rules.PARENT.grew(3 << 20, 6 << 20) and not rules.PARENT.grew(3 << 20, (3 << 20) + 4096)
    assert rules.parse_fail_spec("copied:1%, parent:0.25") == {"copied": 0.01, "parent": 0.25}
    tighter = r.with_relative({"parent": 0.05, "tree": 0.5})
    assert tighter.parent == rules.Tolerance(0.05, rules.PARENT.floor)
    assert tighter.wide.relative == 0.5 and tighter.wide.floor == rules.WIDE.floor

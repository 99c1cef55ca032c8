"""The pytest plugin in another project: a pytest-benchmark suite in a temporary directory, with
no conftest of ours, gets memory figures with ``--benchmark-memory``, the memory table in
``--benchmark-compare`` and a failing session with ``--memory-compare-fail``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

#: A user's benchmarks: a plain allocation, and a spawn pool sent two payloads.
SUITE = textwrap.dedent("""
    import multiprocessing, os
    SIZE = int(os.environ["PAYLOAD"])

    def work(chunk):
        return len(chunk)

    def job():
        data = [b"x" * SIZE for _ in range(2)]
        pool = multiprocessing.get_context("spawn").Pool(2)
        try:
            return sum(pool.map(work, data))
        finally:
            pool.close()  # the workers end by themselves (terminate() could kill one starting)
            pool.join()

    def test_allocation(benchmark):
        benchmark(lambda: len(b"y" * (SIZE * 4)))  # every byte written: resident

    def test_pool(benchmark):
        assert benchmark.pedantic(job, rounds=1, iterations=1) == 2 * SIZE
""")


def run_pytest(project: Path, payload: int, *options: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "--benchmark-storage", f"file://{project / 'store'}", *options],
        cwd=project, env=dict(env, PAYLOAD=str(payload)), capture_output=True, text=True,
        timeout=120)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project, with one run saved with memory figures (payloads of 1 MB)."""
    root = tmp_path_factory.mktemp("project")
    (root / "test_mine.py").write_text(SUITE)
    assert not list(root.glob("conftest.py"))
    done = run_pytest(root, 1_000_000, "--benchmark-memory", "--benchmark-autosave")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root


def saved(project: Path) -> dict[str, dict]:
    (path,) = project.glob("store/*/0001_*.json")
    return {b["name"]: b["extra_info"] for b in json.loads(path.read_text())["benchmarks"]}


def test_memory_figures_are_saved_with_each_benchmark(project: Path) -> None:
    figures = saved(project)
    pool, allocation = figures["test_pool"], figures["test_allocation"]
    assert 2_000_000 < pool["copied_bytes"] < 2_000_000 + 16384  # two payloads and tasks
    assert pool["peak_workers_bytes"] > 0 and pool["peak_tree_bytes"] > 2_000_000
    assert allocation["copied_bytes"] == 0 and allocation["peak_workers_bytes"] == 0
    # VmHWM is read from the kernel's per-CPU batched RSS counters: off by up to 64 pages a CPU
    slack = 64 * 4096 * (os.cpu_count() or 1)
    assert 4_000_000 - slack <= allocation["peak_parent_bytes"] < 4_000_000 + slack + (1 << 20)
    assert pool["returned_bytes"] > 0 and pool["returned_not_measured"] == []


def test_compare_shows_memory_and_fails_on_growth(project: Path) -> None:
    """Payloads tripled: the parent's peak and the copies grew past 10%."""
    done = run_pytest(project, 3_000_000, "--benchmark-memory", "--benchmark-compare",
                      "--memory-compare-fail=parent:10%,copied:10%")
    out = done.stdout
    assert done.returncode == 1, out[-3000:] + done.stderr[-3000:]
    assert " memory: NOW against 0001_" in out
    assert "Memory has regressed (--memory-compare-fail=parent:10%,copied:10%):" in out
    assert "test_allocation - parent:" in out and "test_pool - copied:" in out


def test_compare_of_unchanged_code_passes(project: Path) -> None:
    done = run_pytest(project, 1_000_000, "--benchmark-memory", "--benchmark-compare",
                      "--memory-compare-fail=parent:10%,copied:10%")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "no memory figure of 2 benchmark(s) grew past its limit" in done.stdout


def test_flamegraphs_are_written_beside_the_saved_run(project: Path) -> None:
    """Last in this module: it saves a run of its own (0002)."""
    done = run_pytest(project, 1_000_000, "--benchmark-memory", "--benchmark-flamegraphs",
                      "--benchmark-autosave")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (saved_run,) = project.glob("store/*/0002_*.json")
    folder = saved_run.with_name(f"{saved_run.stem}_flamegraphs")
    assert f"flamegraphs of every process of each benchmark: {folder / 'index.html'}" \
        in done.stdout
    index = json.loads((folder / "index.json").read_text())
    assert {s["name"] for s in index["scenarios"]} == {"test_pool", "test_allocation"}
    pool = [p for p in index["processes"] if p["scenario"] == "test_pool"]
    workers = [p for p in pool if p["role"] == "worker"]
    assert len(workers) == 2 and all(p["page"] and not p["reason"] for p in workers), pool
    assert sum(w["received_bytes"] for w in workers) >= 2_000_000  # both payloads, unpickled
    (main,) = [p for p in pool if p["role"] == "parent"]
    assert main["page"] and main["sent_bytes"] >= 2_000_000

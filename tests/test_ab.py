"""``make ab``: the statistics on synthetic data with known answers, then real sessions.

The real sessions run in a temporary clone of this repository made by the test: an A/A
comparison of one revision with itself, and the working tree with a numpy kernel made three times
slower by an uncommitted edit, on one quick in-process case. Error paths exit 2 with one line.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import WCBENCH

from wcbench import corpus
from wcbench.ab import run as ab
from wcbench.ab.result import AbResult
from wcbench.ab.sides import WORKTREE
from wcbench.ab.stats import RatioInterval, ratio_interval, verdict
from wcbench.ab.text import format_result
from wcbench.matrix import Case, Selection

ROOT = Path(__file__).resolve().parents[1]

# Appended to numpy_kernel.py: the kernel spins, by the wall clock, twice as long as it counted.
SLOWDOWN = '''

import time as _ab_time

_ab_fast_count_numpy = count_numpy


def count_numpy(data, start=0, end=None):
    began = _ab_time.perf_counter()
    n = _ab_fast_count_numpy(data, start, end)
    until = _ab_time.perf_counter() + 2 * (_ab_time.perf_counter() - began)
    while _ab_time.perf_counter() < until:
        pass
    return n
'''


# Appended to numpy_kernel.py: one word too many.
WRONG_COUNT = '''

_ab_right_count_numpy = count_numpy


def count_numpy(data, start=0, end=None, **options):
    return _ab_right_count_numpy(data, start, end, **options) + 1
'''


# -- statistics --------------------------------------------------------------------------------

def test_exact_ratio_has_a_point_interval() -> None:
    base = [1.0, 2.0, 3.0, 4.0, 5.0]
    new = [2 * t for t in base]
    interval = ratio_interval(base, new)
    assert (interval.ratio, interval.low, interval.high) == (2.0, 2.0, 2.0)
    assert verdict(interval, 0.10) == "slower"
    assert verdict(ratio_interval(new, base), 0.10) == "faster"


def test_same_distribution_is_same_and_a_shift_is_found() -> None:
    rng = np.random.default_rng(1)
    load = rng.lognormal(0, 0.2, 200)  # the machine's load, shared by both halves of a round
    base = 0.010 * load * rng.lognormal(0, 0.03, 200)
    same = 0.010 * load * rng.lognormal(0, 0.03, 200)
    interval = ratio_interval(base, same)
    assert interval.low < 1 < interval.high
    assert verdict(interval, 0.10) == "same"
    slower = 0.0125 * load * rng.lognormal(0, 0.03, 200)  # 25% slower
    interval = ratio_interval(base, slower)
    assert interval.low < 1.25 < interval.high
    assert verdict(interval, 0.10) == "slower"


def test_pairing_narrows_the_interval_when_load_is_shared() -> None:
    rng = np.random.default_rng(2)
    load = rng.lognormal(0, 0.3, 60)
    base = load * rng.lognormal(0, 0.02, 60)
    new = load * rng.lognormal(0, 0.02, 60)
    paired = ratio_interval(base, new)
    independent = ratio_interval(base, new, paired=False)
    assert paired.high - paired.low < (independent.high - independent.low) / 2


def test_grouped_rounds_carry_each_instances_own_bias_into_the_interval() -> None:
    # identical code; each pair of side processes runs a few percent apart for its whole life
    # (memory layout), and rounds within a process vary by 1%: rounds alone look decisive
    rng = np.random.default_rng(4)
    instances, rounds = 8, 10
    groups = np.repeat(np.arange(instances), rounds)
    bias = np.repeat(rng.normal(0, 0.04, instances), rounds)
    base = 0.010 * rng.lognormal(0, 0.01, groups.size)
    new = 0.010 * np.exp(bias) * rng.lognormal(0, 0.01, groups.size)
    flat = ratio_interval(base, new)
    grouped = ratio_interval(base, new, groups=groups)
    assert grouped.high - grouped.low > 2 * (flat.high - flat.low)
    assert grouped.low <= np.exp(np.median(bias)) <= grouped.high
    # without a bias between instances the grouped interval is about as narrow as the flat one
    same = 0.010 * rng.lognormal(0, 0.01, groups.size)
    flat, grouped = ratio_interval(base, same), ratio_interval(base, same, groups=groups)
    assert grouped.high - grouped.low < 1.6 * (flat.high - flat.low)


def test_grouped_ratio_is_the_median_of_each_instances_ratio() -> None:
    # three instances: 1.2 in each, whatever regime each pair of processes ran in; pooling the
    # rounds would mix a fast BASE instance with a slow NEW one
    base = [1, 1, 1, 5, 5, 5, 1, 1, 1]
    new = [1.2, 1.2, 1.2, 6, 6, 6, 1.2, 1.2, 1.2]
    interval = ratio_interval(base, new, groups=[0, 0, 0, 1, 1, 1, 2, 2, 2])
    assert (interval.ratio, interval.low, interval.high) == pytest.approx((1.2, 1.2, 1.2))
    assert interval.rounds == 9


def test_grouped_rounds_need_two_instances() -> None:
    with pytest.raises(ValueError, match="two instances"):
        ratio_interval([1, 2, 3], [1, 2, 3], groups=[0, 0, 0])
    with pytest.raises(ValueError, match="each of the 3 rounds"):
        ratio_interval([1, 2, 3], [1, 2, 3], groups=[0, 1])


def test_few_noisy_rounds_are_inconclusive() -> None:
    rng = np.random.default_rng(3)
    base, new = rng.lognormal(0, 0.5, 8), rng.lognormal(0, 0.5, 8)
    assert verdict(ratio_interval(base, new), 0.10) == "inconclusive"


@pytest.mark.parametrize(("low", "high", "expected"), [
    (1.11, 1.3, "slower"), (1.05, 1.3, "inconclusive"), (0.95, 1.09, "same"),
    (0.8, 0.9, "faster"), (0.8, 0.95, "inconclusive"), (0.92, 1.0, "same"),
])
def test_verdict_boundaries(low: float, high: float, expected: str) -> None:
    assert verdict(RatioInterval(1.0, low, high, 20), 0.10) == expected


@pytest.mark.parametrize(("executor", "method", "workers", "kind"), [
    ("serial", None, 1, "in-process"), ("threads", None, 1, "in-process"),
    ("threads", None, 2, "threads"), ("processes", "spawn", 1, "processes"),
    ("process-pool", "fork", 2, "processes"), ("shared-memory", "fork", 1, "processes"),
    ("dask", None, 2, "processes"),
])
def test_case_kinds_and_their_thresholds(executor: str, method: str | None, workers: int,
                                        kind: str) -> None:
    case = Case("numpy", executor, method, 1 << 20, workers)
    assert ab.case_kind(case) == kind
    assert ab.THRESHOLDS[kind] == 0.10


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="as many"):
        ratio_interval([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="positive"):
        ratio_interval([1, 0], [1, 2])
    with pytest.raises(ValueError, match="two rounds"):
        ratio_interval([1], [1])
    with pytest.raises(ValueError, match="threshold"):
        verdict(RatioInterval(1, 1, 1, 2), 0)


# -- real sessions -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository's HEAD (the measured code comes from it)."""
    path = tmp_path_factory.mktemp("ab") / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def text_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ab-text") / "text.txt"
    path.write_bytes(corpus.generate(32 << 20))  # long enough calls: see quick_case
    return path


def run_ab(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([WCBENCH, "ab", *args], cwd=ROOT, text=True,
                          capture_output=True, env=env, timeout=300)


def quick_case(clone: Path, text_file: Path, out: Path) -> list[str]:
    """numpy, serial, 32 MiB: a call of about 10 ms. On a loaded machine a call of about 1 ms
    either runs uninterrupted or loses a whole time slice, and the median of such rounds flips
    between the two (A/A ratios from 0.2 to 4 were seen at load 16): too short to test with."""
    return ["--repo", str(clone), "--kernels", "numpy", "--executors", "serial",
            "--corpus-file", str(text_file), "--budget", "4", "--output-dir", str(out)]


def saved(out: Path) -> dict:
    (path,) = out.glob("*.json")
    return json.loads(path.read_text())


def test_a_revision_against_itself(clone: Path, text_file: Path, tmp_path: Path) -> None:
    done = run_ab("--base", "HEAD", "--new", "HEAD", *quick_case(clone, text_file, tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    result = saved(tmp_path)
    (case,) = result["cases"]
    assert case["name"] == "numpy-serial-32MiB-w1"
    assert case["verdict"] != "slower"
    assert case["counts"]["base"] == case["counts"]["new"] == len(text_file.read_bytes().split())
    assert len(case["rounds"]) >= ab.MIN_ROUNDS
    assert {r["first"] for r in case["rounds"]} == {"base", "new"}
    # blocks of rounds, each run by a fresh process a side
    instances = [r["instance"] for r in case["rounds"]]
    assert instances == sorted(instances)
    assert set(collections.Counter(instances).values()) == {ab.BLOCK_ROUNDS}
    pids = [p[s] for p in case["processes"] for s in ("base", "new")]
    assert len(case["processes"]) == len(set(instances)) >= ab.MIN_BLOCKS
    assert len(set(pids)) == len(pids)
    commits = {result["sides"][s]["commit"] for s in ("base", "new")}
    assert len(commits) == 1 and None not in commits
    assert case["memory"]["figures"]["copied_bytes"] == {"base": 0, "new": 0, "grew": False,
                                                         "exact": True}
    assert "no regression" in done.stdout.splitlines()[-1]


def against_an_uncommitted_kernel_edit(clone: Path, text_file: Path, out: Path,
                                       addition: str) -> subprocess.CompletedProcess:
    """HEAD against the working tree with ``addition`` appended to the numpy kernel's module."""
    kernel = clone / "wordcount" / "kernels" / "numpy_kernel.py"
    original = kernel.read_text()
    kernel.write_text(original + addition)
    try:
        return run_ab("--base", "HEAD", *quick_case(clone, text_file, out))
    finally:
        kernel.write_text(original)


def test_an_uncommitted_slowdown_is_slower(clone: Path, text_file: Path,
                                           tmp_path: Path) -> None:
    done = against_an_uncommitted_kernel_edit(clone, text_file, tmp_path, SLOWDOWN)
    assert done.returncode == 1, done.stdout + done.stderr
    result = saved(tmp_path)
    (case,) = result["cases"]
    assert case["verdict"] == "slower"
    assert case["interval"]["low"] > 1.5
    assert result["sides"]["new"]["dirty"] == ["wordcount/kernels/numpy_kernel.py"]
    assert result["sides"]["new"]["path"] == str(clone)
    assert "REGRESSION" in done.stdout.splitlines()[-1]
    assert any(line.startswith("numpy-serial-32MiB-w1") and "slower" in line
               for line in done.stdout.splitlines())


def test_a_committed_slowdown_is_slower(clone: Path, text_file: Path, tmp_path: Path) -> None:
    """BASE and NEW both commits, as a CI job compares a pull request with its base branch."""
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    work = tmp_path / "work"
    subprocess.run(["git", "-C", str(clone), "worktree", "add", "--quiet", "--detach", str(work),
                    head], check=True)
    try:
        kernel = work / "wordcount" / "kernels" / "numpy_kernel.py"
        kernel.write_text(kernel.read_text() + SLOWDOWN)
        git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run([*git, "commit", "--quiet", "-am", "slower numpy kernel"], check=True)
        slow = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                              text=True).stdout.strip()
    finally:
        subprocess.run(["git", "-C", str(clone), "worktree", "remove", "--force", str(work)],
                       check=True)
    out = tmp_path / "out"
    done = run_ab("--base", head, "--new", slow, *quick_case(clone, text_file, out))
    assert done.returncode == 1, done.stdout + done.stderr
    result = saved(out)
    assert [result["sides"][s]["commit"] for s in ("base", "new")] == [head, slow]
    (case,) = result["cases"]
    assert case["verdict"] == "slower" and case["interval"]["low"] > 1.5
    assert "REGRESSION" in done.stdout.splitlines()[-1]


def test_a_different_count_is_a_regression(clone: Path, text_file: Path,
                                           tmp_path: Path) -> None:
    done = against_an_uncommitted_kernel_edit(clone, text_file, tmp_path, WRONG_COUNT)
    assert done.returncode == 1, done.stdout + done.stderr
    (case,) = saved(tmp_path)["cases"]
    words = len(text_file.read_bytes().split())
    assert case["verdict"] == "wrong count"
    assert case["counts"] == {"base": words, "new": words + 1}
    assert case["rounds"] == []
    assert "REGRESSION" in done.stdout.splitlines()[-1]
    assert "wrong count" in done.stdout


def _one_line_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ab: "), done.stderr
    for word in words:
        assert word in lines[0]


def test_unknown_revision(clone: Path, tmp_path: Path) -> None:
    _one_line_error(run_ab("--repo", str(clone), "--base", "no-such-rev",
                           "--output-dir", str(tmp_path)), "unknown revision 'no-such-rev'")


def test_revision_without_the_package(clone: Path, tmp_path: Path) -> None:
    empty = subprocess.run(["git", "-C", str(clone), "commit-tree", "-m", "empty",
                            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"],  # git's empty tree
                           check=True, capture_output=True, text=True).stdout.strip()
    _one_line_error(run_ab("--repo", str(clone), "--base", empty, "--output-dir",
                           str(tmp_path)), "has no wordcount package")


def test_no_git(clone: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))  # no git on PATH
    _one_line_error(run_ab("--repo", str(clone), "--base", "HEAD", "--output-dir",
                           str(tmp_path), env=env), "git is not installed")


def test_missing_interpreter(tmp_path: Path) -> None:
    _one_line_error(run_ab("--python-new", str(tmp_path / "python9"), "--output-dir",
                           str(tmp_path)), "no interpreter", "PYTHON_NEW")


def test_interpreter_without_numpy(clone: Path, tmp_path: Path) -> None:
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _one_line_error(run_ab("--repo", str(clone), "--python-new", str(venv / "bin" / "python"),
                           "--output-dir", str(tmp_path)), "NEW", "numpy")
    assert not list(tmp_path.glob("*.json"))


def test_a_session_is_called_from_python_with_a_selection(tmp_path: Path) -> None:
    """``compare_sides`` takes a ``Selection`` and named options, as the command unpacks them;
    a kernel neither side has stops it before any case runs, with nothing saved."""
    with pytest.raises(ValueError, match="unknown kernel 'nope'"):
        ab.compare_sides(Selection.parse(kernels="nope", sizes="1MiB"),
                         ab.SessionOptions(budget=1), base=WORKTREE, output_dir=tmp_path)
    assert not list(tmp_path.glob("*.json"))


def test_the_table_of_a_saved_result() -> None:
    side = {"rev": "HEAD", "commit": "a" * 40, "dirty": [], "describe": "HEAD (aaaaaaaaaa)",
            "python": "3.11.7", "implementation": "CPython", "gil_enabled": True,
            "executable": "/usr/bin/python3"}
    figures = {k: {"base": 1 << 20, "new": 1 << 20, "grew": False}
               for k in ("copied_bytes", "peak_workers_bytes", "peak_parent_bytes")}
    case = {"name": "numpy-serial-32MiB-w1", "kind": "in-process", "threshold": 0.1,
            "rounds": [{"base": 0.01, "new": 0.012, "first": "base"}] * 20,
            "median": {"base": 0.01, "new": 0.012}, "verdict": "slower",
            "interval": {"ratio": 1.2, "low": 1.15, "high": 1.25, "rounds": 20},
            "memory": {"figures": figures}, "memory_grew": [], "regression": True}
    result = {"machine": {"cpu_count": 2, "loadavg_before": [1.0, 1, 1],
                          "loadavg_after": [2.0, 1, 1]},
              "settings": {"memory_calls": 3}, "sides": {"base": side, "new": side},
              "cases": [case], "regression": True, "duration_seconds": 12.0}
    lines = format_result(AbResult.from_json(result))
    assert lines[0] == "BASE: HEAD (aaaaaaaaaa) on CPython 3.11.7, GIL on, /usr/bin/python3"
    row = next(line for line in lines if line.startswith("numpy-serial"))
    assert row.split() == ["numpy-serial-32MiB-w1", "in-process", "20", "10ms", "12ms",
                           "1.200", "[1.150-1.250]", "slower", "(+-10%)"]
    assert lines[-1] == ("ab: REGRESSION: 1 slower of 1 case(s) (numpy-serial-32MiB-w1); "
                         "memory: no growth past its limits; 12s")


def test_the_default_repository_is_this_checkout() -> None:
    """``wcbench ab`` without ``--repo`` compares this checkout's revisions and saves under its
    ``results/ab``: ROOT is the folder holding ``wordcount/``, not the ``wcbench`` package."""
    from wcbench.ab.sides import ROOT

    assert (ROOT / "wordcount" / "__init__.py").is_file()
    assert (ROOT / "results" / "ab").is_dir()

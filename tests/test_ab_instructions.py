"""``wcbench ab --measure instructions`` and the suite's ``--instructions``: callgrind's counts.

The client requests (``wcbench/ab/_callgrind``) must do nothing outside valgrind: no output, no
cost beyond a call. Under valgrind, one call's count must repeat, process to process, to within
the threshold; a kernel doing 5% more work must be called slower, the same code the same; and
without a valgrind (or with one the interpreter cannot run under) every entry point exits 2 with
one line. Texts are small: callgrind runs code about 50 times slower.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import WCBENCH
from test_ab import WRONG_COUNT

from wcbench import corpus, record, results
from wcbench.ab import instructions, validate
from wcbench.ab import run as ab
from wcbench.ab.result import AbResult, CaseInstructions, CaseResult, Pair, load_ab
from wcbench.ab.sides import AbError
from wcbench.ab.stats import count_interval, verdict
from wcbench.ab.text import format_result
from wcbench.compare import export
from wcbench.matrix import Case

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "wcbench" / "ab" / "worker.py"


def _valgrind() -> instructions.Callgrind | None:
    """This machine's valgrind, or None: the tests that count skip without one (the Debian
    unstable root of docs/pythons.md has none); those of exit 2 without one run anyway."""
    if os.environ.get("WCBENCH_TEST_NO_VALGRIND") is not None:
        return None
    try:
        return instructions.find_valgrind()
    except AbError:
        return None


VALGRIND = _valgrind()
needs_valgrind = pytest.mark.skipif(
    VALGRIND is None, reason="no valgrind on this machine (apt-get install valgrind)")


# -- the client requests, outside valgrind -----------------------------------------------------

CLIENT_REQUESTS_ALONE = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import worker
callgrind = worker.load_callgrind()
assert callgrind is not None, "wcbench/ab/_callgrind was not built"
assert callgrind.running_on_valgrind() == 0
assert callgrind.count_call("x", divmod, 7, 2) == (3, 1)
assert callgrind.count_call("x", sorted, [3, 1], reverse=True) == [3, 1]
try:
    callgrind.count_call("x", int, "nope")
except ValueError:
    pass
else:
    raise AssertionError("an exception inside the call must come out of it")

def nothing():
    return None

def cost(call, n=100_000):
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, time.perf_counter() - started)
    return best / n

direct = cost(nothing)
counted = cost(lambda: callgrind.count_call("x", nothing))
print(f"{direct} {counted}")
"""


#: What the build of ``wcbench/ab/_callgrind`` needs (setup.py: optional without it).
CALLGRIND_HEADER = Path("/usr/include/valgrind/callgrind.h")


#: Whether it was built for this interpreter.
CALLGRIND_BUILT = any((WORKER.parent / f"_callgrind{suffix}").exists()
                      for suffix in importlib.machinery.EXTENSION_SUFFIXES)


@pytest.mark.skipif(not CALLGRIND_HEADER.exists() and not CALLGRIND_BUILT,
                    reason=f"no {CALLGRIND_HEADER} here, so no wcbench/ab/_callgrind was built "
                    "(apt-get install valgrind, then make install)")
def test_the_client_requests_do_nothing_outside_valgrind(tmp_path: Path) -> None:
    """A call through ``count_call`` outside valgrind is the call: same result, same exception,
    nothing printed (the requests are a no-op sequence on a real CPU), and under a microsecond
    more than calling directly (best of five loops of 100,000). Where valgrind's header is
    there, the extension must have been built."""
    done = subprocess.run([sys.executable, "-c", CLIENT_REQUESTS_ALONE, str(WORKER.parent)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    direct, counted = map(float, done.stdout.split())
    assert counted - direct < 1e-6, (direct, counted)
    assert not list(tmp_path.iterdir())  # no callgrind.out file either


# -- verdicts on counts ------------------------------------------------------------------------

def test_counts_are_judged_by_their_whole_range() -> None:
    same = count_interval([1000, 1001, 999], [1000, 1002, 1000])
    assert same.ratio == 1.0 and same.low == pytest.approx(1000 / 1001)
    assert same.high == pytest.approx(1002 / 999) and same.rounds == 3
    assert verdict(same, 0.01) == "same"
    assert verdict(count_interval([100, 100], [102, 103]), 0.01) == "slower"
    assert verdict(count_interval([100, 100], [99, 100]), 0.01) == "inconclusive"
    assert verdict(count_interval([100, 100], [95, 96]), 0.01) == "faster"
    for bad in (([1], [1]), ([1, 2], [1, 2, 3]), ([0, 1], [1, 1])):
        with pytest.raises(ValueError):
            count_interval(*bad)


def test_only_in_process_cases_are_counted() -> None:
    serial, threads = Case("numpy", "serial", None, 1 << 20, 1), Case("numpy", "threads", None,
                                                                       1 << 20, 2)
    spawn = Case("numpy", "processes", "spawn", 1 << 20, 1)
    pool, dask = Case("numpy", "process-pool", "fork", 1 << 20, 2), Case("numpy", "dask", None,
                                                                          1 << 20, 2)
    assert instructions.refusal(serial) is None and instructions.refusal(threads) is None
    assert all("own process" in instructions.refusal(c) for c in (spawn, pool, dask))
    cases, skips = instructions.refusals([serial, spawn], [], ("instructions",))
    assert cases == [serial] and [s.name for s in skips] == [spawn.name]
    cases, skips = instructions.refusals([serial, spawn], [], ("time", "instructions"))
    assert cases == [serial, spawn] and skips[0].reason.startswith("timed only")
    assert [c.executor for c in ab.default_cases(measures=("instructions",))] == ["serial",
                                                                                 "threads"]
    with pytest.raises(ValueError, match="--measure"):
        ab.SessionOptions(measures=("cycles",))


def _counted_result() -> AbResult:
    counted = CaseInstructions(Pair((100_000_000, 100_000_100, 99_999_900),
                                    (102_000_000, 102_000_050, 101_999_950)),
                               count_interval((100_000_000, 100_000_100, 99_999_900),
                                              (102_000_000, 102_000_050, 101_999_950)),
                               0.01, "slower")
    case = CaseResult("numpy-serial-32MiB-w1", "in-process", "numpy", "serial", 1, None,
                      32 << 20, 0.01, "slower", True, counts=Pair(5, 5),
                      instructions=counted)
    data = {"duration_seconds": 12.0, "machine": {"cpu_count": 2, "loadavg_before": [1, 1, 1],
                                                  "loadavg_after": [1, 1, 1]},
            "settings": {"measures": ["instructions"], "instructions": {
                "version": "valgrind-3.19.0", "calls": 3, "warmup_calls": 12,
                "simulated_cpu": {"new": {"cpu_features": ["AVX", "AVX2"]}}}},
            "sides": {"base": {"rev": "HEAD"}, "new": {"rev": "worktree"}},
            "cases": [case.to_json()], "regression": True, "format": "wcbench-ab",
            "version": 3}
    return AbResult.from_json(data)


def test_a_counted_result_reads_back_and_renders_counts(tmp_path: Path) -> None:
    result = _counted_result()
    path = tmp_path / "ab.json"
    path.write_text(json.dumps(result.to_json(), indent=1) + "\n")
    again = load_ab(path)
    assert again.to_json() == result.to_json()
    (case,) = again.cases
    assert case.instructions.calls.new == (102_000_000, 102_000_050, 101_999_950)
    assert not case.timed and again.settings.measured == ("instructions",)
    lines = format_result(again)
    row = next(line for line in lines if line.startswith("numpy-serial"))
    assert row.split()[:7] == ["numpy-serial-32MiB-w1", "in-process", "3", "100.000M",
                               "102.000M", "+2.00%", "1.0200"]
    assert lines[-1].startswith("ab: REGRESSION: instructions 1 slower of 1 case(s)")
    assert "memory: not measured" in lines[-1]
    bmf = export.export(export.from_ab(again), "bmf")["numpy-serial-32MiB-w1"]
    assert bmf["instructions"] == {"value": 102_000_000, "lower_value": 101_999_950,
                                   "upper_value": 102_000_050}
    assert bmf["instructions-ratio"]["value"] == pytest.approx(1.02)
    assert "latency" not in bmf


def test_validate_summarises_counts_by_their_own_figures() -> None:
    summary = validate.summarise({"numpy2": [{"exit": 1, "seconds": 10.0,
                                              "result": _counted_result()}]})
    case = summary["numpy2"]["cases"]["numpy-serial-32MiB-w1"]
    assert case["verdicts"] == {"slower": 1} and case["median_ratio"] == 1.02
    assert case["threshold"] == 0.01 and case["median_rounds"] == 3
    with pytest.raises(ValueError, match="worker starts are not counted"):
        validate.validate(scenarios="aa,start30", measure="instructions")


# -- under valgrind ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_text(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("instructions") / "text.txt"
    path.write_bytes(corpus.generate(2 << 20))
    return path


@needs_valgrind
def test_one_calls_count_repeats_within_the_threshold(small_text: Path) -> None:
    """The same call counted in two processes (the suite's ``--instructions`` path): every
    count within the in-process threshold of every other."""
    case = Case("numpy", "serial", None, 2 << 20, 1)
    first = instructions.count_case(case, small_text, callgrind=VALGRIND)
    second = instructions.count_case(case, small_text, callgrind=VALGRIND)
    assert len(first) == len(second) == instructions.CALLS
    both = [*first, *second]
    assert max(both) / min(both) - 1 < instructions.THRESHOLDS["in-process"] / 4, both
    assert min(both) > 1_000_000  # the kernel's work, not only the call's


@needs_valgrind
def test_the_suite_saves_a_cases_count_in_its_record(tmp_path: Path) -> None:
    """``pytest bench/bench_wordcount.py --instructions``: the count of each in-process case in
    its record (read back by ``wcbench.record``) and on the terminal; none for a process case."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/bench_wordcount.py", "--instructions",
         "-p", "no:cacheprovider", f"--benchmark-storage=file://{tmp_path}",
         "--benchmark-autosave", "--sizes", "256KiB", "--kernels", "numpy", "--executors",
         "serial,processes", "--start-methods", "fork", "--workers", "1"],
        cwd=ROOT, text=True, capture_output=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (saved,) = tmp_path.glob("*/0001_*.json")
    run = results.load_run(saved)
    serial = run.by_name["test_wordcount[numpy-serial-256KiB-w1]"]
    calls = record.instruction_calls(serial.extra_info)
    assert len(calls) == instructions.CALLS and max(calls) / min(calls) < 1.01
    assert serial.extra_info[record.INSTRUCTIONS_TOOL].startswith("valgrind-")
    (case,) = [c for c in run.cases if c.executor == "serial"]
    assert case.instructions == serial.extra_info[record.INSTRUCTIONS]
    forked = run.by_name["test_wordcount[numpy-processes-fork-256KiB-w1]"]
    assert record.INSTRUCTIONS not in forked.extra_info
    assert "instructions (callgrind)" in done.stdout
    assert "test_wordcount[numpy-serial-256KiB-w1]: " in done.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ab-instructions") / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(path)], check=True)
    return path


def run_ab(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([WCBENCH, "ab", "--measure", "instructions", *args], cwd=ROOT,
                          text=True, capture_output=True, env=env, timeout=300)


@needs_valgrind
def test_the_same_code_is_same_more_work_slower_and_a_wrong_count_a_regression(
        clone: Path, small_text: Path, tmp_path: Path) -> None:
    """HEAD against itself, then against a numpy kernel that counts the first 5% of its span
    again (``ab-validate``'s slowdown), then one that counts a word too many: exit 0 ``same``,
    exit 1 ``slower``, exit 1 ``wrong count``."""
    quick = ["--repo", str(clone), "--kernels", "numpy", "--executors", "serial",
             "--corpus-file", str(small_text)]
    done = run_ab("--base", "HEAD", "--new", "HEAD", *quick, "--output-dir", str(tmp_path / "aa"))
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = (tmp_path / "aa").glob("*.json")
    (case,) = load_ab(path).cases
    assert case.verdict == case.instructions.verdict == "same"
    assert case.instructions.interval.high - case.instructions.interval.low < 0.002
    assert case.counts.base == case.counts.new == len(small_text.read_bytes().split())
    kernel = clone / "wordcount" / "kernels" / "numpy_kernel.py"
    original = kernel.read_text()
    kernel.write_text(original + validate.numpy_slowdown(0.05))
    try:
        done = run_ab("--base", "HEAD", *quick, "--output-dir", str(tmp_path / "slow"))
    finally:
        kernel.write_text(original)
    assert done.returncode == 1, done.stdout + done.stderr
    (path,) = (tmp_path / "slow").glob("*.json")
    (case,) = load_ab(path).cases
    assert case.instructions.verdict == "slower" and not case.rounds
    # 5% of the kernel's work, and its second call's own cost (about 80,000 instructions)
    assert 1.04 < case.instructions.interval.low <= case.instructions.interval.high < 1.08
    assert "REGRESSION" in done.stdout.splitlines()[-1]
    kernel.write_text(original + WRONG_COUNT)
    try:
        done = run_ab("--base", "HEAD", *quick, "--output-dir", str(tmp_path / "wrong"))
    finally:
        kernel.write_text(original)
    assert done.returncode == 1, done.stdout + done.stderr
    (path,) = (tmp_path / "wrong").glob("*.json")
    (case,) = load_ab(path).cases
    assert case.verdict == "wrong count" and case.instructions is None
    assert case.counts_differ.new == case.counts_differ.base + 1 and case.threshold == 0.01


# -- without valgrind --------------------------------------------------------------------------

def _one_line(done: subprocess.CompletedProcess, prefix: str, *words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_no_valgrind_exits_2_with_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-valgrind")
    _one_line(run_ab("--valgrind", missing, "--output-dir", str(tmp_path)), "ab: ",
              "no valgrind at", "no-valgrind")
    env = dict(os.environ, WCBENCH_VALGRIND=missing)
    _one_line(run_ab("--output-dir", str(tmp_path), env=env), "ab: ", "no valgrind at")
    done = subprocess.run([WCBENCH, "ab-validate", "--measure", "instructions",
                           "--output-dir", str(tmp_path)], cwd=ROOT, text=True,
                          capture_output=True, env=env, timeout=60)
    _one_line(done, "ab-validate: ", "no valgrind at")
    done = subprocess.run([sys.executable, "-m", "pytest", "bench/bench_wordcount.py",
                           "--instructions", "-p", "no:cacheprovider", "--sizes", "16KiB"],
                          cwd=ROOT, text=True, capture_output=True, env=env, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "" and done.stderr.strip().splitlines() == [
        f"Exit: --instructions: no valgrind at {missing!r}: counting instructions needs "
        "valgrind's callgrind (apt-get install valgrind; WCBENCH_VALGRIND, or wcbench ab's "
        "--valgrind, names another)"]
    assert not list(tmp_path.glob("*.json"))


def _fake_valgrind(folder: Path, body: str) -> str:
    """A script that says it is valgrind and then does ``body`` with the command given."""
    path = folder / "valgrind"
    path.write_text("#!/bin/sh\n[ \"$1\" = --version ] && { echo valgrind-0.0-fake; exit 0; }\n"
                    + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_a_python_that_cannot_run_under_valgrind_exits_2(tmp_path: Path) -> None:
    broken = _fake_valgrind(tmp_path, "echo 'valgrind: failed to start tool' >&2; exit 1")
    _one_line(run_ab("--valgrind", broken, "--base", "worktree", "--kernels", "numpy",
                     "--executors", "serial", "--sizes", "1MiB", "--output-dir",
                     str(tmp_path)),
              "ab: ", "cannot run under valgrind", "failed to start tool")
    direct = tmp_path / "direct"
    direct.mkdir()
    skipping = _fake_valgrind(direct, 'while [ "${1#-}" != "$1" ]; do shift; done; exec "$@"')
    _one_line(run_ab("--valgrind", skipping, "--base", "worktree", "--kernels", "numpy",
                     "--executors", "serial", "--sizes", "1MiB", "--output-dir",
                     str(tmp_path)),
              "ab: ", "not running under valgrind" if CALLGRIND_BUILT
              else "no callgrind client requests")  # where nothing could be built, that first
    assert not list(tmp_path.glob("*.json"))

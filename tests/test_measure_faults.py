"""``wcbench measure`` when things go wrong: nothing to run, a command that fails, hangs, or is
interrupted. Every process of a run carries a tag in its environment, so the process table says
whether anything is left; the shared block and semaphore a hung program made are named by it and
must be gone from /dev/shm afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import helpers
import psutil
import pytest
from helpers import WCBENCH

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = str(Path(__file__).with_name("measured_program.py"))
#: Liveness bound for a stopped tree to be gone (it takes well under a second here).
GONE_SECONDS = 10.0


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """``wcbench measure ARGS`` in the background, every process it starts tagged."""
    tag = uuid.uuid4().hex
    proc = subprocess.Popen([WCBENCH, "measure", "--storage", str(tmp_path / "results"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **{helpers.TAG_ENV: tag}), cwd=ROOT)
    return proc, tag


def read_until(proc: subprocess.Popen, marker: str) -> str:
    """Lines of the command's stdout up to the first holding ``marker`` (that line)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if marker in line:
            return line
    raise AssertionError(f"{marker!r} never printed; stderr: {proc.stderr.read()}")


def saved_runs(tmp_path: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(tmp_path.glob("results/*/0*.json"))]


def assert_nothing_left(tag: str, names: list[str]) -> None:
    assert helpers.wait_for(lambda: not helpers.tagged_processes(tag), GONE_SECONDS), \
        f"left running: {sorted(helpers.tagged_processes(tag))}"
    left = [n for n in names if os.path.exists(f"/dev/shm/{n}")]
    assert not left, f"left in /dev/shm: {left}"


def shm_names(line: str) -> list[str]:
    """``block psm_x semaphore /mp-y`` -> the /dev/shm entries (``psm_x``, ``sem.mp-y``)."""
    words = line.split()
    return [words[1], "sem." + words[3].lstrip("/")]


@pytest.mark.parametrize(("args", "says"), [
    ([], "no command given"),
    (["--", "no-such-program-here"], "cannot start 'no-such-program-here'"),
    (["--", __file__], "cannot start"),  # a file, not executable
    (["--runs", "0", "--", "true"], "--runs must be at least 1"),
])
def test_a_command_that_cannot_run_is_one_line_and_status_2(tmp_path: Path, args: list[str],
                                                            says: str) -> None:
    done = subprocess.run([WCBENCH, "measure", "--storage", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())


def test_a_failing_command_is_saved_marked_failed(tmp_path: Path) -> None:
    proc, tag = start(tmp_path, "--", sys.executable, "-c",
                      "import sys; print('partial'); sys.exit(3)")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert err.strip().endswith("exit status 3")
    (run,) = saved_runs(tmp_path)
    info = run["benchmarks"][0]["extra_info"]
    assert info["failed"] is True and info["exit_status"] == 3
    assert info["failure"] == "exit status 3" and info["timed_runs"] == 0
    assert_nothing_left(tag, [])


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_timeout_stops_a_hung_tree_and_leaves_nothing(tmp_path: Path, method: str) -> None:
    proc, tag = start(tmp_path, "--timeout", "1", "--", sys.executable, PROGRAM, "hang", method)
    names = shm_names(read_until(proc, "block "))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert "timed out after" in err and "process(es) of the command's tree" in out, out
    (run,) = saved_runs(tmp_path)
    info = run["benchmarks"][0]["extra_info"]
    assert info["failed"] is True and info["failure"].startswith("timed out after")
    roles = sorted(p["role"] for p in info["processes"])
    assert roles.count("process") == 2 and "main" in roles, roles
    assert_nothing_left(tag, names)


def timed_runs_started(proc: subprocess.Popen, seen: set[int]) -> int:
    """How many bare runs of the command ``proc`` (wcbench) has started so far, each a new child
    of it running ``measured_program.py sleep``; ``seen`` keeps those found earlier."""
    try:
        children = psutil.Process(proc.pid).children()
    except psutil.NoSuchProcess:
        return len(seen)
    for child in children:
        try:
            if "sleep" in child.cmdline():
                seen.add(child.pid)
        except psutil.Error:
            continue
    return len(seen)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_timed_runs_keeps_the_finished_ones(tmp_path: Path, signum: int,
                                                           status: int) -> None:
    proc, tag = start(tmp_path, "--runs", "100", "--", sys.executable, PROGRAM, "sleep", "0.1")
    read_until(proc, "measured run (untimed")
    seen: set[int] = set()
    assert helpers.wait_for(lambda: timed_runs_started(proc, seen) >= 3, 30, every=0.005)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, (out, err)
    assert "after" in err and "timed run(s), the tree stopped; saved" in err, err
    (run,) = saved_runs(tmp_path)
    info = run["benchmarks"][0]["extra_info"]
    assert 2 <= info["timed_runs"] < 100
    assert run["wordcount_incomplete"]["reason"] == signal.Signals(signum).name
    assert_nothing_left(tag, [])


def test_ctrl_c_during_the_measured_run_stops_the_tree_and_saves_nothing(tmp_path: Path) -> None:
    proc, tag = start(tmp_path, "--", sys.executable, PROGRAM, "hang", "spawn")
    names = shm_names(read_until(proc, "block "))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "interrupted during the measured run" in err and "nothing saved" in err
    assert saved_runs(tmp_path) == []
    assert_nothing_left(tag, names)

"""``wordcount --executor interpreters``: counts, one-line errors, and signals that stop it.

The CLI runs as a real subprocess. For signals it runs with ``interp_kernels``' napping kernel
and blocks of a word or two, so every interpreter is busy for far longer than the test waits;
the test signals once every chunk's kernel has announced itself (a sign, not a fixed sleep),
then checks the exit status and line, that it came promptly, and that the CLI destroyed every
subinterpreter before exiting (it writes the ids left to a file on its way out). Run by
``test_interpreters.test_on_other_pythons`` where the suite's own Python has no subinterpreters.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import helpers
import interp_kernels
import pytest
from test_cli import SIGNAL_LIVENESS_SECONDS, TEXT, assert_one_line_error, run_cli

import wordcount
from wordcount.executors import _subinterpreters as sub
from wordcount.text import chunk_spans

if "interpreters" not in wordcount.EXECUTORS:
    pytest.skip(f"this Python has none: {sub.UNAVAILABLE}; test_interpreters_elsewhere runs "
                "this file where one is", allow_module_level=True)
TESTS_DIR = Path(__file__).parent
KERNELS = [k for k in ("split", "native") if k in wordcount.KERNELS]


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.mark.parametrize("executor", ["interpreters", "interpreter-pool"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_counts(text_file: Path, kernel: str, executor: str) -> None:
    result = run_cli(str(text_file), "--kernel", kernel, "--executor", executor,
                     "--workers", "3")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{len(TEXT.split())}\n", "")


def test_numpy_refused_in_one_line(text_file: Path) -> None:
    assert_one_line_error(run_cli(str(text_file), "--kernel", "numpy", "--executor",
                                  "interpreters", "--workers", "2"),
                          "numpy", "subinterpreter", "numpy/numpy#24755")


def test_invalid_utf8(tmp_path: Path) -> None:
    """The first bad byte of a memory-mapped file, shared with the interpreters."""
    data = ("word " * 300).encode() + b"\xff" + ("more " * 300).encode() + b"\xc3("
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    first_bad = data.index(b"\xff")
    assert_one_line_error(run_cli(str(path), "--executor", "interpreters", "--workers", "4"),
                          "invalid UTF-8", f"byte offset {first_bad}")


def test_start_method_refused(text_file: Path) -> None:
    assert_one_line_error(run_cli(str(text_file), "--executor", "interpreters",
                                  "--start-method", "spawn"), "takes no start_method")


def _start_busy(path: Path, kernel: str = "nap", workers: int = 3,
                executor: str = "interpreters") -> tuple[subprocess.Popen[bytes], Path]:
    """The CLI counting with the napping kernel, once every chunk's interpreter counts."""
    ready = path.parent / f"ready-{time.monotonic_ns()}"
    ready.mkdir()
    left = path.parent / f"left-{time.monotonic_ns()}.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR),
                                                                     os.environ.get("PYTHONPATH")])),
               **{helpers.READY_DIR_ENV: str(ready), interp_kernels.LEFT_FILE_ENV: str(left)})
    proc = subprocess.Popen([sys.executable, "-c", "import interp_kernels; "
                             "interp_kernels.cli_main()", str(path), "--kernel", kernel,
                             "--executor", executor, "--workers", str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    chunks = len(chunk_spans(path.read_bytes(), workers))
    if not helpers.wait_for(lambda: helpers.kernels_running(ready) >= chunks or proc.poll(),
                            timeout=60) or proc.poll() is not None:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the kernels never all started: {err.decode()}")
    return proc, left


def _finish(proc: subprocess.Popen[bytes], left: Path) -> tuple[int, str, str]:
    """Wait within the liveness bound; the CLI must have left no subinterpreter."""
    try:
        out, err = proc.communicate(timeout=SIGNAL_LIVENESS_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"the CLI did not exit within {SIGNAL_LIVENESS_SECONDS} s")
    assert json.loads(left.read_text()) == [0], "subinterpreters left when the CLI exited"
    return proc.returncode, out.decode(), err.decode()


#: Both executors that run subinterpreters: made per call, and pooled.
EXECUTORS = [e for e in ("interpreters", "interpreter-pool") if e in wordcount.EXECUTORS]


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("target", ["group", "pid"])
def test_ctrl_c(text_file: Path, target: str, executor: str) -> None:
    proc, left = _start_busy(text_file, executor=executor)
    if target == "group":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    assert _finish(proc, left) == (130, "", "wordcount: interrupted\n")


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup(text_file: Path, signum: signal.Signals, executor: str) -> None:
    proc, left = _start_busy(text_file, executor=executor)
    proc.send_signal(signum)
    assert _finish(proc, left) == (128 + signum, "", f"wordcount: terminated by {signum.name}\n")


@pytest.mark.parametrize("executor", EXECUTORS)
def test_raising_kernel_is_one_line(tmp_path: Path, executor: str) -> None:
    """A kernel raising in one interpreter: one line naming the chunk, promptly, although the
    other two chunks hold about 40 s of naps each: they stopped."""
    path = tmp_path / "raise.txt"
    path.write_text(helpers.RAISE_WORD + " word" * 6000)
    left = tmp_path / "left.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR),
                                                                     os.environ.get("PYTHONPATH")])),
               **{interp_kernels.LEFT_FILE_ENV: str(left)})
    result = subprocess.run([sys.executable, "-c", "import interp_kernels; "
                             "interp_kernels.cli_main()", str(path), "--kernel", "raise_or_nap",
                             "--executor", executor, "--workers", "3"],
                            capture_output=True, text=True, env=env, check=False,
                            timeout=SIGNAL_LIVENESS_SECONDS)
    assert_one_line_error(result, "worker for chunk 0 failed", "RuntimeError", "on purpose")
    assert json.loads(left.read_text()) == [0]

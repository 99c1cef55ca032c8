"""The ``wordcount`` CLI, run as a real subprocess: counts, options, and one-line errors.

Every error (bad option, unknown name, unreadable path, invalid UTF-8, a killed worker) must be
exactly one line on stderr with exit status 2 and no traceback; Ctrl-C exits 130 promptly, and
neither leaves a worker process or a /dev/shm block behind. Interrupt and kill cases run the real
CLI with helper kernels registered (``helpers.cli_main``) so that workers are busy on demand.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import helpers
import psutil
import pytest
from helpers import PROCESS_GRID

import wordcount
from wordcount.executors import PROCESS_EXECUTORS, START_METHODS, refusal
from wordcount.text import chunk_spans

TESTS_DIR = Path(__file__).parent
#: A liveness bound for a CLI to react to a signal (it takes a fraction of a second here).
SIGNAL_LIVENESS_SECONDS = 15.0
TEXT = "Zwölf Boxkämpfer\u2003jagen\tViktor quer über den\u00a0großen Sylter Deich.\n" * 20


def run_cli(*args: str, stdin: bytes | None = None,
            timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python -m wordcount ARGS`` with captured, decoded output."""
    return subprocess.run([sys.executable, "-m", "wordcount", *args], input=stdin,
                          capture_output=True, timeout=timeout, check=False,
                          text=stdin is None)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, nothing on stdout, exactly one line on stderr holding every needle."""
    err = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
    assert result.returncode == 2, (result.returncode, err)
    assert not result.stdout
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


# --- counting ---------------------------------------------------------------------------------


def test_console_script_counts(text_file: Path) -> None:
    script = Path(sys.executable).parent / "wordcount"
    result = subprocess.run([str(script), str(text_file)], capture_output=True, text=True,
                            check=False, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{len(TEXT.split())}\n", "")


@pytest.mark.parametrize("kernel", wordcount.KERNELS)
@pytest.mark.parametrize("executor", [e for e in wordcount.EXECUTORS if e not in PROCESS_EXECUTORS])
def test_executors_without_start_method(text_file: Path, kernel: str, executor: str) -> None:
    """serial, threads, and optional engines (Dask: its local cluster starts and closes with the
    CLI, quietly); a pair the executor refuses (numpy in subinterpreters) exits 2 saying why."""
    workers = "1" if executor == "serial" else "3"
    result = run_cli(str(text_file), "--kernel", kernel, "--executor", executor,
                     "--workers", workers)
    if refusal(kernel, executor):
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr.startswith(f"wordcount: error: {refusal(kernel, executor)}")
        return
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{len(TEXT.split())}\n", "")


@pytest.mark.parametrize(("executor", "method", "kernel"), [
    (ex, m, wordcount.KERNELS[i % len(wordcount.KERNELS)]) for i, (ex, m) in enumerate(PROCESS_GRID)
])
def test_process_executors_quietly(text_file: Path, executor: str, method: str,
                                   kernel: str) -> None:
    """Every process executor and start method counts right and says nothing on stderr: no
    resource-tracker warning and no "leaked shared_memory" message when the CLI exits."""
    result = run_cli(str(text_file), "--kernel", kernel, "--executor", executor,
                     "--workers", "3", "--start-method", method)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{len(TEXT.split())}\n", "")


@pytest.mark.parametrize("kernel", wordcount.KERNELS)
def test_stdin(kernel: str) -> None:
    data = TEXT.encode()
    result = run_cli("-", "--kernel", kernel, "--executor", "threads", "--workers", "2",
                     stdin=data)
    assert (result.returncode, result.stdout, result.stderr) == \
        (0, f"{len(TEXT.split())}\n".encode(), b"")


@pytest.mark.parametrize("content", [b"", b" \t\n\x1c\xe3\x80\x80"], ids=["empty", "blank"])
def test_no_words(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "blank.txt"
    path.write_bytes(content)
    result = run_cli(str(path), "--kernel", "numpy")
    assert (result.returncode, result.stdout, result.stderr) == (0, "0\n", "")


def test_help_lists_every_name() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for name in (*wordcount.KERNELS, *wordcount.EXECUTORS, *START_METHODS,
                 "--kernel", "--executor", "--workers", "--start-method"):
        assert name in result.stdout


# --- errors: one line, exit 2 -----------------------------------------------------------------


@pytest.mark.parametrize(("args", "needles"), [
    (["--kernel", "nope"], ["unknown kernel 'nope'", *wordcount.KERNELS]),
    (["--executor", "nope"], ["unknown executor 'nope'", *wordcount.EXECUTORS]),
    (["--executor", "processes", "--start-method", "nope"],
     ["unknown start method 'nope'", *START_METHODS]),
    (["--executor", "threads", "--start-method", START_METHODS[0]], ["takes no start_method"]),
    (["--workers", "2"], ["serial executor runs one worker"]),
    (["--workers", "0", "--executor", "threads"], ["at least 1"]),
    (["--workers", "-3", "--executor", "processes"], ["at least 1"]),
    (["--workers", "two"], ["--workers", "invalid int value"]),
    (["--workers", "1.5"], ["--workers", "invalid int value"]),
    (["--bogus"], ["unrecognized arguments"]),
], ids=["kernel", "executor", "start-method", "start-method-for-threads", "serial-workers",
        "zero-workers", "negative-workers", "workers-not-int", "workers-float", "unknown-option"])
def test_bad_options(text_file: Path, args: list[str], needles: list[str]) -> None:
    assert_one_line_error(run_cli(str(text_file), *args), *needles)


def test_missing_path_argument() -> None:
    assert_one_line_error(run_cli(), "PATH")


def test_missing_file(tmp_path: Path) -> None:
    assert_one_line_error(run_cli(str(tmp_path / "absent.txt")), "absent.txt",
                          "No such file or directory")


def test_directory(tmp_path: Path) -> None:
    assert_one_line_error(run_cli(str(tmp_path)), str(tmp_path), "Is a directory")


def test_unreadable_file() -> None:
    """A file nobody may read. Tests often run as root, whom ``chmod 000`` does not stop, so the
    file is one the kernel refuses to everyone: a write-only sysctl."""
    path = "/proc/sys/vm/drop_caches"
    with pytest.raises(PermissionError):
        open(path, "rb").close()  # the premise: even this process cannot read it
    assert_one_line_error(run_cli(path), path, "Permission denied")


def test_system_error_while_counting(text_file: Path) -> None:
    """An OSError that is not about the input (here: out of file descriptors while starting
    workers) is still one line, and is not blamed on the file."""
    result = subprocess.run(
        [sys.executable, "-m", "wordcount", str(text_file), "--executor", "processes",
         "--workers", "8"], capture_output=True, text=True, check=False, timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16)))
    err = assert_one_line_error(result, "Too many open files")
    assert "cannot read" not in err


@pytest.mark.parametrize("kernel", wordcount.KERNELS)
@pytest.mark.parametrize("executor", ["serial", "threads", "processes", "shared-memory"])
def test_invalid_utf8(tmp_path: Path, kernel: str, executor: str) -> None:
    """The first bad byte's offset, whichever chunk it falls in; the file is memory-mapped, and
    views of the map held by the error must not turn the message into a traceback."""
    data = ("word " * 300).encode() + b"\xff" + ("more " * 300).encode() + b"\xc3("
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    workers = "1" if executor == "serial" else "4"
    result = run_cli(str(path), "--kernel", kernel, "--executor", executor, "--workers", workers)
    first_bad = data.index(b"\xff")
    assert_one_line_error(result, "invalid UTF-8", f"byte offset {first_bad}")


# --- signals: Ctrl-C and a worker killed from outside ------------------------------------------


def _start_busy_cli(path: Path, executor: str, method: str | None,
                    workers: int = 3) -> tuple[subprocess.Popen[bytes], set[int]]:
    """The CLI with the sleeping helper kernel, once every chunk's kernel runs (each announces
    itself in a directory); the pids of its workers."""
    args = [sys.executable, "-c", "import helpers; helpers.cli_main()", str(path),
            "--kernel", "sleep", "--executor", executor, "--workers", str(workers)]
    if method is not None:
        args += ["--start-method", method]
    ready = path.parent / f"ready-{time.monotonic_ns()}"
    ready.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR),
                                                                     os.environ.get("PYTHONPATH")])),
               **{helpers.READY_DIR_ENV: str(ready)})
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)  # its own process group, as a shell makes
    chunks = len(chunk_spans(path.read_bytes(), workers))
    if not helpers.wait_for(lambda: helpers.kernels_running(ready) >= chunks or proc.poll(),
                            timeout=60) or proc.poll() is not None:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the kernels never all started: {err.decode()}")
    return proc, helpers.worker_processes(proc.pid)


def _finish(proc: subprocess.Popen[bytes], workers: set[int],
            watch: set[str]) -> subprocess.CompletedProcess[str]:
    """Wait for the CLI within the liveness bound; check it left no worker and no segment."""
    t0 = time.monotonic()
    try:
        out, err = proc.communicate(timeout=SIGNAL_LIVENESS_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"the CLI did not exit within {SIGNAL_LIVENESS_SECONDS} s")
    assert time.monotonic() - t0 < SIGNAL_LIVENESS_SECONDS
    alive = {pid for pid in workers if psutil.pid_exists(pid)
             and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE}
    assert not alive, f"workers outlived the CLI: {sorted(alive)}"
    assert not helpers.leftover_segments(watch)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())


SIGINT_CASES = [(ex, m, "group") for ex, m in PROCESS_GRID] + [("threads", None, "group")] + \
    [(ex, START_METHODS[0], "pid") for ex in sorted({ex for ex, _ in PROCESS_GRID})]


@pytest.mark.parametrize(("executor", "method", "target"), SIGINT_CASES)
def test_ctrl_c(text_file: Path, executor: str, method: str | None, target: str) -> None:
    """SIGINT to the process group (what a terminal's Ctrl-C does) or to the CLI alone."""
    proc, workers = _start_busy_cli(text_file, executor, method)
    with helpers.shm_watch(proc.pid) as seen:
        if target == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        result = _finish(proc, workers, seen)
    assert (result.returncode, result.stdout, result.stderr) == \
        (130, "", "wordcount: interrupted\n")
    if executor == "shared-memory":
        assert any(n.startswith("psm_") for n in seen)  # the leftover check had a block to check


@pytest.mark.parametrize(("executor", "method"), PROCESS_GRID)
def test_worker_killed_from_outside(text_file: Path, executor: str, method: str) -> None:
    proc, workers = _start_busy_cli(text_file, executor, method)
    with helpers.shm_watch(proc.pid) as seen:
        os.kill(min(workers), signal.SIGKILL)
        result = _finish(proc, workers, seen)
    err = assert_one_line_error(result, "wordcount: error:", "worker")
    # the pool reports it as its own BrokenProcessPool ("died") or, when the parent sees the
    # exit status first, by signal name like the other executors
    assert re.search(r"killed by SIGKILL|pool worker died", err), err


#: SIGTERM under every executor and start method; SIGHUP once per executor.
TERMINATE_CASES = [(ex, m, signal.SIGTERM) for ex, m in PROCESS_GRID] + \
    [(ex, m, signal.SIGHUP) for ex, m in zip(sorted(PROCESS_EXECUTORS),
                                                START_METHODS * 3, strict=False)]


@pytest.mark.parametrize(("executor", "method", "signum"), TERMINATE_CASES)
def test_sigterm_and_sighup_end_it_like_ctrl_c(text_file: Path, executor: str, method: str,
                                               signum: signal.Signals) -> None:
    """What a service manager or a closed terminal sends: workers stopped and reaped, shared
    memory unlinked, one line, exit status 128 + the signal's number."""
    proc, workers = _start_busy_cli(text_file, executor, method)
    with helpers.shm_watch(proc.pid) as seen:
        proc.send_signal(signum)
        result = _finish(proc, workers, seen)
    assert (result.returncode, result.stdout, result.stderr) == \
        (128 + signum, "", f"wordcount: terminated by {signum.name}\n")
    assert not helpers.zombie_children(proc.pid)
    if executor == "shared-memory":
        assert any(n.startswith("psm_") for n in seen)

"""Nothing outlives a parent that dies abruptly, and an unguarded main module is named as such.

Each case runs a real program in a subprocess whose environment carries a tag; every process it
starts inherits the tag (fork, spawn, the fork server, the resource tracker alike), so after the
program is gone the process table tells exactly whether anything of it is left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import helpers
import pytest
from helpers import PROCESS_GRID

from wordcount.executors import START_METHODS

TESTS_DIR = Path(__file__).parent
#: Liveness bound for everything of a killed program to end (it takes well under a second here).
ORPHAN_LIVENESS_SECONDS = 10.0
#: Liveness bound for a failing script (spawn children import numpy and the package first).
SCRIPT_LIVENESS_SECONDS = 60.0


def _env(tag: str, **extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, **{helpers.TAG_ENV: tag}, **extra)


def _segments_mapped_by_tree(pids: set[int]) -> set[str]:
    return set().union(*(helpers.shm_segments_mapped(p) for p in pids))


def _assert_all_gone(tag: str, segments: set[str]) -> float:
    """Wait for every tagged process to end; then no segment may be left. Seconds it took."""
    t0 = time.monotonic()
    gone = helpers.wait_for(lambda: not helpers.tagged_processes(tag), ORPHAN_LIVENESS_SECONDS,
                            every=0.01)
    elapsed = time.monotonic() - t0
    assert gone, f"left running: {sorted(helpers.tagged_processes(tag))}"
    assert helpers.wait_for(lambda: not helpers.leftover_segments(segments), 2.0), \
        f"left in /dev/shm: {sorted(helpers.leftover_segments(segments))}"
    return elapsed


@pytest.mark.parametrize(("executor", "method"), PROCESS_GRID)
def test_sigkill_of_the_parent_takes_everything_with_it(tmp_path: Path, executor: str,
                                                        method: str) -> None:
    """The CLI SIGKILLed (as the OOM killer does) while its workers count: workers, pool
    workers, the fork server and the resource tracker all end, and the shared block goes."""
    path = tmp_path / "text.txt"
    path.write_text("a b c\n" * 1000)
    ready = tmp_path / "ready"
    ready.mkdir()
    tag = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-c", "import helpers; helpers.cli_main()", str(path), "--kernel", "sleep",
         "--executor", executor, "--start-method", method, "--workers", "2"],
        env=_env(tag, **{helpers.READY_DIR_ENV: str(ready)}), stderr=subprocess.PIPE)
    try:
        assert helpers.wait_for(lambda: helpers.kernels_running(ready) >= 2 or proc.poll(), 60)
        assert proc.poll() is None, proc.communicate()[1]
        tree = helpers.tagged_processes(tag)
        segments = {n for n in _segments_mapped_by_tree(tree) if n.startswith("psm_")}
        assert len(tree) >= 3  # the CLI, two workers (and the helpers that go with them)
    finally:
        proc.kill()
        proc.communicate()
    _assert_all_gone(tag, segments)
    if executor == "shared-memory":
        assert segments  # the check above had a block to check


UNGUARDED = """\
import wordcount
print(wordcount.count_words("a b c " * 50_000, executor={executor!r}, workers=2,
                            start_method={method!r}))
"""


def _run_unguarded(args: list[str], tag: str, stdin: str | None = None,
                   cwd: Path | None = None) -> str:
    result = subprocess.run(args, input=stdin, capture_output=True, text=True, env=_env(tag),
                            cwd=cwd, timeout=SCRIPT_LIVENESS_SECONDS, check=False)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert not result.stdout
    _assert_all_gone(tag, set())
    # The parent's error is the last one: it comes once the children have failed (printing their
    # own tracebacks), and the resource tracker may still add a warning after it, at exit.
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("wordcount.errors.WorkerError: ")]
    assert errors, result.stderr
    return errors[-1]


@pytest.mark.parametrize(("executor", "method"),
                         [(ex, m) for ex, m in PROCESS_GRID if m != "fork"])
def test_unguarded_main_module(tmp_path: Path, executor: str, method: str) -> None:
    """The commonest multiprocessing mistake: a script that counts at import time. Its spawn or
    forkserver children fail while re-importing it; the call says so instead of hanging."""
    script = tmp_path / "count_unguarded.py"
    script.write_text(UNGUARDED.format(executor=executor, method=method))
    last = _run_unguarded([sys.executable, str(script)], uuid.uuid4().hex)
    assert "while starting" in last, last
    assert f"re-imports the main module ({script})" in last, last
    assert 'if __name__ == "__main__":' in last, last


@pytest.mark.parametrize("method", [m for m in START_METHODS if m != "fork"])
def test_script_from_standard_input(tmp_path: Path, method: str) -> None:
    """``python - <<EOF``: there is no file for a child to re-import."""
    code = textwrap.dedent(UNGUARDED.format(executor="processes", method=method))
    last = _run_unguarded([sys.executable, "-"], uuid.uuid4().hex, stdin=code, cwd=tmp_path)
    assert "read from standard input" in last and "cannot re-import" in last, last
    assert "use the fork start method" in last, last


def test_guarded_main_module_counts(tmp_path: Path) -> None:
    """The same script with the guard works under spawn: the hint is about the guard."""
    script = tmp_path / "count_guarded.py"
    body = UNGUARDED.format(executor="processes", method="spawn")
    script.write_text("if __name__ == '__main__':\n" + textwrap.indent(body, "    "))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=_env(uuid.uuid4().hex), timeout=SCRIPT_LIVENESS_SECONDS,
                            check=False)
    assert (result.returncode, result.stdout) == (0, "150000\n"), result.stderr


def test_worker_whose_parent_is_gone_exits(tmp_path: Path) -> None:
    """The check behind the parent-death signal: a worker whose parent died before the signal
    was armed exits at once (here: a parent pid that is not its parent)."""
    code = ("from wordcount.executors._orphans import bind_to_parent; import os; "
            "bind_to_parent(os.getppid() + 1 if os.getppid() != 1 else 2); print('alive')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=SCRIPT_LIVENESS_SECONDS, check=False)
    assert (result.returncode, result.stdout) == (1, "")

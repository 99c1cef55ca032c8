"""The ``wcbench`` console script: its subcommands, their help and the exit statuses they share.

Run as users run it, the installed script in a subprocess; the statuses themselves are judged
per command in their own test files (``test_compare.py``, ``test_ab.py``, ...).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import WCBENCH

from wcbench.commands import COMMANDS
from wcbench.commands.common import EXIT_STATUSES

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([WCBENCH, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_help_lists_every_subcommand_and_the_exit_statuses() -> None:
    done = run("--help")
    assert done.returncode == 0, done.stderr
    for name, module in COMMANDS.items():
        assert name in done.stdout
        assert module.HELP.split()[0] in done.stdout
    assert EXIT_STATUSES in done.stdout


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_subcommand_has_help_with_the_exit_statuses(name: str) -> None:
    done = run(name, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: wcbench {name}")
    assert EXIT_STATUSES in done.stdout


def test_no_subcommand_or_an_unknown_one_is_a_usage_error() -> None:
    for args in ((), ("nope",), ("compare", "--no-such-option")):
        done = run(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.startswith("usage: wcbench"), done.stderr
        assert done.stdout == ""


def test_nothing_to_read_is_status_2_in_one_line(tmp_path: Path) -> None:
    for args, words in ((("compare", "--storage", str(tmp_path)), "run `make bench` first"),
                        (("report", "--results", str(tmp_path)), "no saved run"),
                        (("summary", str(tmp_path / "none.json")), "none.json")):
        done = run(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{args[0]}: "), done.stderr
        assert words in lines[0], done.stderr


def test_python_m_wcbench_is_the_same_command() -> None:
    done = subprocess.run([sys.executable, "-m", "wcbench", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and EXIT_STATUSES in done.stdout

"""The subinterpreter executors' tests, run under the other CPythons >= 3.13 (GIL builds) here.

The suite runs under one interpreter (``make test``: the checkout's ``.venv``), which may have no
subinterpreters (CPython 3.11 here). So ``interpreter_finder`` looks for every other CPython that
has them (``PATH``, pyenv, the Debian unstable root of docs/pythons.md), and the newest of each
module they come from (``_interpreters`` on 3.13, ``concurrent.interpreters`` from 3.14) gets a
virtual environment in the checkout the way the README says (``make install PYTHON=<path>``:
``.venv-python3.13``, kept between runs) and runs
``test_interpreters.py``, ``test_interpreter_pool.py``, ``test_interpreters_cli.py``,
``test_interpreters_estimate.py``,
``test_interpreters_flamegraphs.py`` and ``test_interpreters_frames.py`` there. Where none is
found, the test is skipped, saying so; under a Python that has them, those files also run
directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from interpreter_finder import (
    SID_ROOT,
    SID_SCRIPT,
    is_mountpoint,
    other_pythons,
    run_tests_under,
    unmount_stale_checkout,
)

import wordcount

HAS = "interpreters" in wordcount.EXECUTORS


@pytest.mark.skipif(HAS, reason="this Python has subinterpreters")
def test_asking_for_it_names_the_python_it_needs() -> None:
    with pytest.raises(ValueError, match=r"interpreters.*need Python 3\.13 or newer"):
        wordcount.count_words("a b", executor="interpreters", workers=2)


def _module(version: tuple[int, ...]) -> str:
    """The module a Python's subinterpreters come from: each is one code path of
    ``wordcount/executors/_subinterpreters.py``."""
    return "_interpreters" if version[:2] == (3, 13) else "concurrent.interpreters"


def newest_per_module() -> list[object]:
    """Of the other Pythons, the newest for each code path this Python does not run itself:
    3.14 and 3.15 take the same path, so one of them covers it here (a ``make test`` under
    each runs these files directly; docs/pythons.md)."""
    mine = _module(sys.version_info) if HAS else None
    newest: dict[str, object] = {}
    for python in other_pythons():  # sorted by version: the last of each module wins
        if _module(python.version) != mine:
            newest[_module(python.version)] = python
    return list(newest.values())


@pytest.mark.parametrize("python", newest_per_module() or [None],
                         ids=lambda p: "none-found" if p is None else p.label)
def test_on_other_pythons(python: object) -> None:
    """These tests, run under the newest other CPython of each subinterpreter module."""
    if python is None:
        pytest.skip("no other CPython >= 3.13 with the GIL (PATH, pyenv, the Debian unstable "
                    "root) that reaches subinterpreters by a module this Python does not use")
    result = run_tests_under(python, ["tests/test_interpreters.py",  # type: ignore[arg-type]
                                      "tests/test_interpreter_pool.py",
                                      "tests/test_interpreters_cli.py",
                                      "tests/test_interpreters_estimate.py",
                                      "tests/test_interpreters_flamegraphs.py",
                                      "tests/test_interpreters_frames.py"])
    tail = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and "failed" not in result.stdout, tail


@pytest.mark.skipif(not (SID_ROOT.is_dir() and SID_SCRIPT.is_file() and os.geteuid() == 0),
                    reason="no Debian unstable root to enter here (docs/pythons.md)")
def test_a_checkout_cloned_again_at_the_same_path_is_seen_inside_the_root(tmp_path: Path) -> None:
    """A CI runner deletes its clone and clones again at the same path: the root still showed
    the deleted directory there ("make: getcwd: No such file or directory") until the finder
    unmounted it. ``/tmp`` is itself mounted inside the root, so the checkout here lives
    elsewhere, as a runner's does."""
    home = Path(tempfile.mkdtemp(prefix="wcbench-reclone-", dir="/var/tmp"))
    checkout = home / "clone"
    try:
        def cwd_inside() -> subprocess.CompletedProcess[str]:
            return subprocess.run(["sh", str(SID_SCRIPT), "run", "python3.15", "-c",
                                   "import os; print(os.getcwd())"], cwd=checkout,
                                  capture_output=True, text=True, timeout=120, check=False)

        checkout.mkdir()
        first = cwd_inside()
        assert first.returncode == 0 and first.stdout.strip() == str(checkout), first.stderr
        checkout.rmdir()
        checkout.mkdir()
        assert "No such file or directory" in cwd_inside().stderr  # the stale view
        assert unmount_stale_checkout(checkout)
        again = cwd_inside()
        assert again.returncode == 0 and again.stdout.strip() == str(checkout), again.stderr
        assert not unmount_stale_checkout(checkout)  # a current view is left alone
    finally:
        inside = SID_ROOT / checkout.relative_to("/")
        if is_mountpoint(inside):
            subprocess.run(["umount", str(inside)], check=True, timeout=60)
        shutil.rmtree(SID_ROOT / home.relative_to("/"), ignore_errors=True)  # the mount point
        shutil.rmtree(home, ignore_errors=True)

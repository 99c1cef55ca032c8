"""``wcbench ab`` chooses its cases among the executors both sides have, and shows refused pairs.

The sides' ``hello`` answers are given here (a CPython 3.11 side has no ``interpreters``, a
3.13 side has it), and the matrix options as the ``Selection`` they parse into, so the choice is
tested without starting processes or parsing a command line; one real session on CPython 3.13
runs where such a virtual environment exists.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import WCBENCH

from wcbench.ab import run as ab
from wcbench.ab.sides import AbError
from wcbench.matrix import Selection
from wordcount.executors import REFUSED

ROOT = Path(__file__).resolve().parents[1]
OLD = ["serial", "threads", "processes", "process-pool", "shared-memory"]
PY311 = {"python": "3.11.7", "executors": OLD}
PY313 = {"python": "3.13.0", "executors": [*OLD, "interpreters"]}
VENV_313 = ROOT / ".venv-python3.13" / "bin" / "python"


def args(**matrix: str) -> Selection:
    return Selection.parse(**matrix)


def names(cases: list) -> list[str]:
    return [c.name for c in cases]


def test_interpreters_join_only_when_both_sides_have_them() -> None:
    matrix = {"kernels": "split", "sizes": "1MiB", "workers": "2"}
    both, refused = ab.choose_cases(args(**matrix), {"base": PY313, "new": PY313})
    assert "split-interpreters-1MiB-w2" in names(both) and not refused
    one, _ = ab.choose_cases(args(**matrix), {"base": PY311, "new": PY313})
    assert not [c for c in one if c.executor == "interpreters"]
    assert names(one) == [n for n in names(both) if "interpreters" not in n]
    default, _ = ab.choose_cases(args(), {"base": PY313, "new": PY313})
    assert default[-1].name == "split-interpreters-1MiB-w2"
    assert ab.case_kind(default[-1]) == "threads"
    old, _ = ab.choose_cases(args(), {"base": PY311, "new": PY313})
    assert names(old) == names(ab.default_cases())


def test_refused_pairs_are_set_apart_with_their_reason() -> None:
    cases, refused = ab.choose_cases(args(kernels="numpy,split", executors="interpreters",
                                          sizes="1MiB", workers="2"),
                                     {"base": PY313, "new": PY313})
    assert names(cases) == ["split-interpreters-1MiB-w2"]
    assert names(refused) == ["numpy-interpreters-1MiB-w2"]
    assert refused[0].refusal == REFUSED[("numpy", "interpreters")]


def test_choosing_leaves_the_selection_as_it_was(tmp_path: Path) -> None:
    """A corpus file sets the cases' size; the selection it came from is not changed."""
    text = tmp_path / "text.txt"
    text.write_bytes(b"one two three\n" * 100)
    selection = Selection.parse(corpus_file=str(text))
    before = repr(selection)
    cases, _ = ab.choose_cases(selection, {"base": PY311, "new": PY311})
    assert {c.size for c in cases} == {text.stat().st_size}
    assert names(cases) == list(dict.fromkeys(
        c.name.replace("32MiB", "1400B").replace("1MiB", "1400B") for c in ab.default_cases()))
    assert repr(selection) == before and selection.sizes == ()


def test_an_executor_one_side_lacks_is_named_with_that_side() -> None:
    with pytest.raises(AbError, match=r"'interpreters' is not available to BASE \(Python "
                                      r"3\.11\.7\).*3\.13 or newer"):
        ab.choose_cases(args(executors="interpreters"), {"base": PY311, "new": PY313})
    with pytest.raises(ValueError, match="unknown executor 'nope'"):
        ab.choose_cases(args(executors="nope"), {"base": PY313, "new": PY313})


@pytest.mark.skipif(not VENV_313.exists(), reason="no .venv-python3.13 (make install "
                                                  "PYTHON=python3.13)")
def test_a_session_on_313_times_interpreters_and_shows_the_refusal(tmp_path: Path) -> None:
    done = subprocess.run(
        [WCBENCH, "ab", "--base", "worktree", "--python-base", str(VENV_313), "--python-new",
         str(VENV_313), "--kernels", "numpy,split", "--executors", "interpreters", "--sizes",
         "1MiB", "--workers", "2", "--budget", "3", "--output-dir", str(tmp_path)],
        cwd=ROOT, text=True, capture_output=True, timeout=300)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    reason = REFUSED[("numpy", "interpreters")]
    assert f"numpy-interpreters-1MiB-w2: refused: {reason}" in done.stderr
    assert f"refused: numpy-interpreters-1MiB-w2: {reason}" in done.stdout
    (path,) = tmp_path.glob("*.json")
    result = json.loads(path.read_text())
    assert [c["name"] for c in result["cases"]] == ["split-interpreters-1MiB-w2"]
    assert result["refused"] == [{"name": "numpy-interpreters-1MiB-w2", "reason": reason}]
    case = result["cases"][0]
    assert case["counts"]["base"] == case["counts"]["new"]
    assert case["memory"]["figures"]["peak_workers_bytes"]["base"] == 0
    assert case["memory"]["figures"]["copied_bytes"]["base"] == 0

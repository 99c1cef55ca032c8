"""``wcbench flamegraphs`` on subinterpreters (CPython >= 3.13): what memray captures of them.

All in the parent's capture: each interpreter's allocations carry its thread's name, and what
it does inside the subinterpreter (its imports, the kernel's word list) has no Python frames;
only the thread's own calls in the main interpreter (creating the interpreter, binding its
names) do. The refused numpy pair is shown with its reason, not run. Run under every CPython
with subinterpreters by ``tests/test_interpreters_elsewhere.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import wcbench

import wordcount
from wcbench.flamegraphs.run import DEFAULT_EXECUTORS, NATIVE_INTERPRETERS
from wordcount.executors import REFUSED

pytestmark = pytest.mark.skipif("interpreters" not in wordcount.EXECUTORS,
                                reason="this Python has no subinterpreters (3.13+)")
memray = pytest.importorskip("memray")

SIZE = 256 << 10


def _live(reader: memray.FileReader) -> list:
    frees = {memray.AllocatorType.FREE, memray.AllocatorType.MUNMAP}
    return [r for r in reader.get_allocation_records() if r.allocator not in frees]


def test_subinterpreters_are_in_the_parent_capture_under_their_threads(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "interpreters" in DEFAULT_EXECUTORS
    assert wcbench("flamegraphs", ["--sizes", f"{SIZE}B", "--kernels", "split,numpy",
                                   "--executors", "interpreters", "--output",
                                   str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert f"numpy-interpreters-256KiB-w2: refused: {REFUSED[('numpy', 'interpreters')]}" in said
    assert not (tmp_path / "numpy-interpreters-256KiB-w2").exists()
    folder = tmp_path / "split-interpreters-256KiB-w2"
    scenario = json.loads((folder / "scenario.json").read_text())
    assert [p["label"] for p in scenario["processes"]] == ["parent"]
    assert sorted(p.name for p in folder.glob("*.bin")) == ["parent.bin"]
    records = _live(memray.FileReader(folder / "parent.bin"))
    threads = {f"wordcount-interp-{i}" for i in range(2)}
    mine = [r for r in records if r.thread_name in threads]
    assert {r.thread_name for r in mine} == threads
    without = [r for r in mine if not r.stack_trace()]
    assert sum(r.size for r in without) > 0.9 * sum(r.size for r in mine)
    framed = {f[0] for r in mine for f in r.stack_trace()[:1]}
    assert "_thread_main" in framed  # the thread binds and reports in the main interpreter
    assert not framed & {"count_split", "count_inside"}  # inside: no Python frames
    assert "subinterpreter" in (tmp_path / "index.json").read_text()


def test_native_stacks_of_subinterpreters_are_skipped_with_the_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert wcbench("flamegraphs", ["--sizes", f"{SIZE}B", "--kernels", "split", "--executors",
                                   "interpreters", "--native", "--output", str(tmp_path)]) == 0
    assert f"split-interpreters-256KiB-w2: {NATIVE_INTERPRETERS}" in capsys.readouterr().out

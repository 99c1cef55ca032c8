"""``wcbench flamegraphs -- COMMAND`` on real programs: memray in every Python process of the
examples' Process + Queue word count under fork, spawn and forkserver, and of a
``ProcessPoolExecutor`` program; each worker's capture read with memray's ``FileReader``; the
pages opened in a real headless browser (``tests/browser.py``)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import browser
import helpers
import pytest
from helpers import WCBENCH
from test_measure_faults import PROGRAM, assert_nothing_left, read_until, shm_names

from wcbench.matrix import Selection

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))
from process_queue import split_into_chunks  # noqa: E402

TEXT_BYTES = 1 << 20
#: Roles each start method's tree holds, one capture each.
ROLES = {"fork": ["main", "process", "process"],
         "spawn": ["main", "process", "process", "resource-tracker"],
         "forkserver": ["forkserver", "main", "process", "process", "resource-tracker"]}


def capture(tmp: Path, *command: str, pages: bool = False) -> tuple[dict[str, Any], Path]:
    """``wcbench flamegraphs --output TMP [--no-pages] -- COMMAND``: the scenario and its
    directory."""
    done = subprocess.run([WCBENCH, "flamegraphs", "--output", str(tmp),
                           *([] if pages else ["--no-pages"]), "--", *command],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    (scenario,) = tmp.glob("*/scenario.json")
    return json.loads(scenario.read_text()), scenario.parent


def chunk_loads(path: Path) -> list[int]:
    """Sizes of the allocations live at the capture's peak made while multiprocessing
    unpickled what the parent sent (``spawn._main``, the child's start)."""
    from memray import FileReader

    return [r.size for r in FileReader(path).get_high_watermark_allocation_records(
                merge_threads=True)
            if any(file.endswith("spawn.py") and fn == "_main"
                   for fn, file, _ in r.stack_trace(max_stacks=64))]


def role(entry: dict[str, Any]) -> str:
    return entry["label"].split(" ")[0].replace("multiprocessing.Process", "process")


@pytest.fixture(scope="module")
def text_path() -> Path:
    return Selection().text_path(TEXT_BYTES)


@pytest.fixture(scope="module")
def spawn_pages(tmp_path_factory: pytest.TempPathFactory,
                text_path: Path) -> tuple[dict[str, Any], Path]:
    return capture(tmp_path_factory.mktemp("flamegraphs"), sys.executable,
                   str(EXAMPLES / "process_queue.py"), str(text_path), "--start-method",
                   "spawn", pages=True)


def check_process_queue(data: dict[str, Any], directory: Path, text_path: Path,
                        method: str) -> None:
    labels = sorted({"main": "main", "resource": "resource-tracker",
                     "forkserver": "forkserver"}.get(role(p), "process")
                    for p in data["processes"])
    assert labels == ROLES[method], data["processes"]
    for p in data["processes"]:  # one capture per Python process, each readable
        assert p["reason"] is None and (directory / p["capture"]).exists(), p
        assert p["heap_peak_bytes"] > 0
    chunk = max(len(c.encode()) for c in split_into_chunks(text_path.read_text(), 2))
    workers = [p for p in data["processes"] if p["role"] == "worker"]
    for w in workers:
        loads = chunk_loads(directory / w["capture"])
        if method == "fork":  # inherited: nothing unpickled, nothing received
            assert loads == [] and w["received_bytes"] == 0, (loads, w)
        else:  # the unpickled chunk, live at the worker's peak
            assert any(chunk - 2048 <= size <= chunk + 4096 for size in loads), (loads, chunk)
            assert w["received_bytes"] >= len(pickle.dumps("x" * (chunk - 2048)))
    index = json.loads((directory.parent / "index.json").read_text())
    named = {p["pid"] for p in index["processes"] if p["scenario"] == data["name"]}
    assert named == {p["pid"] for p in data["processes"]}


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_every_python_process_is_captured(tmp_path: Path, text_path: Path, method: str) -> None:
    data, directory = capture(tmp_path, sys.executable, str(EXAMPLES / "process_queue.py"),
                              str(text_path), "--start-method", method)
    check_process_queue(data, directory, text_path, method)


def test_every_spawn_process_is_captured_with_a_page(spawn_pages: tuple[dict[str, Any], Path],
                                                     text_path: Path) -> None:
    data, directory = spawn_pages
    check_process_queue(data, directory, text_path, "spawn")
    for p in data["processes"]:
        assert (directory / p["page"]).exists()


def test_process_pool_workers_are_captured(tmp_path: Path, text_path: Path) -> None:
    data, directory = capture(tmp_path, sys.executable, str(EXAMPLES / "process_pool.py"),
                              str(text_path), "--start-method", "spawn")
    workers = [p for p in data["processes"] if p["role"] == "worker"]
    assert len(workers) == 2 and all(p["reason"] is None for p in workers), workers
    assert all((directory / p["capture"]).exists() for p in data["processes"])
    assert all("concurrent.futures worker (spawn)" in p["label"] for p in workers)
    chunk = max(len(c.encode()) for c in split_into_chunks(text_path.read_text(), 2))
    assert sum(w["received_bytes"] for w in workers) >= 2 * chunk


def test_processes_without_a_capture_are_listed_with_the_reason(tmp_path: Path) -> None:
    """A shell around the program is not Python; a Python run with -I loads no hook."""
    data, _ = capture(tmp_path, "sh", "-c",
                      f"{sys.executable} -I -c 'import time; time.sleep(0.3)'; "
                      f"{sys.executable} -c 'import time; time.sleep(0.3)'")
    reasons = {p["label"].split(" ")[0] + " " + p["label"].split(" ")[1]: p["reason"]
               for p in data["processes"]}
    assert any(r and r.startswith("not Python") for r in reasons.values()), reasons
    assert any(r and "no report" in r for r in reasons.values()), reasons
    assert any(r is None for r in reasons.values()), reasons  # the probed Python


def test_the_pages_open_offline_without_errors(spawn_pages: tuple[dict[str, Any], Path]) -> None:
    why = browser.available()
    if why:
        pytest.skip(f"no browser here: {why}")
    data, directory = spawn_pages
    worker = next(p for p in data["processes"] if p["role"] == "worker")
    with browser.browser() as open_page:
        index = open_page(directory.parent / "index.html",
                          f"document.querySelectorAll('a[href$=\".html\"]').length == "
                          f"{len(data['processes'])}")
        page = open_page(directory / worker["page"],  # the flamegraph drawn, with the line
                         "Array.from(document.querySelectorAll('.d3-flame-graph-label'))"  # split
                         ".some(label => label.textContent.includes('chunk.split()'))")
    for seen in (index, page):
        assert [m for m in seen.console if m["level"] == "SEVERE"] == [], seen.console
        offsite = [u for u in seen.requests if not u.startswith(("file:", "data:"))]
        assert offsite == [], offsite
    assert index.result is True  # a link to every process's page
    assert "memray flamegraph" in page.title and str(worker["pid"]) in page.title
    assert page.result is True


def test_a_hung_command_is_stopped_and_what_it_captured_kept(tmp_path: Path) -> None:
    """As ``wcbench measure`` stops it: the tree stopped at the deadline, status 1, nothing left
    running nor in /dev/shm; each process stopped by SIGTERM closed its capture first."""
    tag = uuid.uuid4().hex
    proc = subprocess.Popen([WCBENCH, "flamegraphs", "--output", str(tmp_path), "--no-pages",
                             "--timeout", "2", "--", sys.executable, PROGRAM, "hang", "spawn"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=dict(os.environ, **{helpers.TAG_ENV: tag}))
    names = shm_names(read_until(proc, "block "))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    (scenario,) = tmp_path.glob("*/scenario.json")
    data = json.loads(scenario.read_text())
    assert data["status"].startswith("timed out after") and data["failed"] is True
    (main,) = [p for p in data["processes"] if p["role"] == "parent"]
    assert main["capture"] and not main["reason"], main
    workers = [p for p in data["processes"] if p["role"] == "worker"]
    # each worker captured, or (stopped while it was still starting, on a loaded machine) why not
    assert len(workers) == 2 and all(bool(p["capture"]) != bool(p["reason"]) for p in workers)
    assert_nothing_left(tag, names)

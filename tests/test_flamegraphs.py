"""memray captures of the parent and every worker: real processes, tiny texts, one run each.

What the issue asks to see is checked in the captures themselves (memray's ``FileReader``): the
chunk a spawn worker unpickles, the parent's slicing, the list ``str.split()`` builds, and its
absence with the numpy kernel over shared memory. Only one scenario is rendered to HTML (rendering
is the slow part); the index must link every page and file, and no page may fetch anything.
"""

from __future__ import annotations

import html
import json
import linecache
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import memray
import pytest
from helpers import wcbench

from wcbench import corpus
from wcbench.flamegraphs import index as flamegraphs_index
from wcbench.flamegraphs.capture import capture_scenario
from wcbench.flamegraphs.hooks import WorkerCapture
from wcbench.flamegraphs.run import CaptureSettings, capture_all
from wcbench.matrix import Case, Selection
from wcbench.units import format_bytes_spaced
from wordcount import count_report
from wordcount.errors import WorkerError
from wordcount.executors._task import Task
from wordcount.kernels import count_split
from wordcount.measure import Measurement

SIZE = 64 << 10
WORKERS = 2


@pytest.fixture(scope="module")
def text() -> bytes:
    return corpus.generate(SIZE)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("flamegraphs")


def _scenario(root: Path, text: bytes, kernel: str, executor: str, method: str | None,
              render: bool = False) -> dict[str, Any]:
    workers = 1 if executor == "serial" else WORKERS
    # The suite's own figures only where a test reads them (they cost another count).
    return capture_scenario(Case(kernel, executor, method, len(text), workers), text, root,
                            render=render, suite=executor == "serial")


@pytest.fixture(scope="module")
def spawn(root: Path, text: bytes) -> dict[str, Any]:
    """The rendered scenario: split kernel, one process per chunk, spawn."""
    return _scenario(root, text, "split", "processes", "spawn", render=True)


_FREEING = {memray.AllocatorType.FREE, memray.AllocatorType.MUNMAP,
            memray.AllocatorType.PYMALLOC_FREE}


def _records(root: Path, scenario: dict[str, Any], label: str) -> list[Any]:
    """Every allocation (frees left out) in the capture of process ``label``."""
    proc = next(p for p in scenario["processes"] if p["label"] == label)
    reader = memray.FileReader(root / scenario["name"] / proc["capture"])
    return [r for r in reader.get_allocation_records() if r.allocator not in _FREEING]


def _frames(record: Any) -> list[tuple[str, str, int]]:
    return list(record.stack_trace())


def _big(records: list[Any], size: int) -> list[Any]:
    return [r for r in records if r.size >= size]


def _workers(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in scenario["processes"] if p["label"] != "parent"]


def test_every_spawn_worker_is_captured_with_its_chunk(root: Path, spawn: dict[str, Any]) -> None:
    workers = _workers(spawn)
    assert [w["label"] for w in workers] == ["worker-0", "worker-1"]
    assert sorted(c for w in workers for c in w["chunks"]) == [0, 1]
    assert sum(w["chunk_bytes"] for w in workers) == SIZE
    for w in workers:
        capture = root / spawn["name"] / w["capture"]
        assert memray.FileReader(capture).metadata.pid == w["pid"]
        assert w["heap_peak_bytes"] >= w["chunk_bytes"] > SIZE // 4
        assert w["total_allocated_bytes"] >= w["chunk_bytes"]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_worker_capture_shows_the_chunk_being_unpickled(root: Path, text: bytes,
                                                        spawn: dict[str, Any],
                                                        method: str) -> None:
    scenario = spawn if method == "spawn" else _scenario(root, text, "split", "processes", method)
    for w in _workers(scenario):
        unpickled = []
        for record in _big(_records(root, scenario, w["label"]), w["chunk_bytes"]):
            frames = _frames(record)
            if frames and frames[0][0] == "_receive" and frames[0][1].endswith("_lifecycle.py"):
                unpickled.append(linecache.getline(frames[0][1], frames[0][2]))
        assert unpickled, f"{w['label']}: no chunk-sized allocation in _lifecycle's _receive"
        assert all("pickle.load" in line for line in unpickled), unpickled


def test_parent_capture_shows_the_chunks_sliced(root: Path, spawn: dict[str, Any]) -> None:
    smallest = min(w["chunk_bytes"] for w in _workers(spawn))
    slices = [r for r in _big(_records(root, spawn, "parent"), smallest)
              if any(fn == "chunk_copy" for fn, _, _ in _frames(r))]
    assert len(slices) == WORKERS


def test_split_list_dominates_the_worker_peak(spawn: dict[str, Any]) -> None:
    for w in _workers(spawn):
        largest = w["largest_at_peak"]
        assert largest["stack"][0][0] == "count_split"
        assert largest["size"] > 3 * w["chunk_bytes"]  # word objects and the list holding them


def test_numpy_over_shared_memory_copies_no_chunk_and_builds_no_list(root: Path,
                                                                     text: bytes) -> None:
    scenario = _scenario(root, text, "numpy", "shared-memory", "forkserver")
    workers = _workers(scenario)
    assert len(workers) == WORKERS
    for w in workers:
        records = _records(root, scenario, w["label"])
        assert records, "the forkserver worker's capture is empty"
        assert not [r for r in records if any(fn == "count_split" for fn, _, _ in _frames(r))]
        # Chunk-sized: the mapping of the shared block (not a copy) and the kernel's block
        # buffers (as big as the chunk at this tiny size); nothing unpickled, nothing decoded.
        big = _big(records, w["chunk_bytes"])
        mapped = [r for r in big if r.allocator == memray.AllocatorType.MMAP
                  and any(fn == "attach" for fn, _, _ in _frames(r))]
        assert len(mapped) == 1
        others = [_frames(r) for r in big if r not in mapped]
        assert all(any(file.endswith("numpy_kernel.py") for _, file, _ in f) for f in others), \
            others


def test_fork_workers_are_followed_and_closed(root: Path, text: bytes) -> None:
    scenario = _scenario(root, text, "split", "processes", "fork")
    directory = root / scenario["name"]
    assert sorted(p.name for p in directory.glob("*.bin")) == [
        "parent.bin", "worker-0.bin", "worker-1.bin"]
    for w in _workers(scenario):
        assert any(fn == "count_split" for r in _records(root, scenario, w["label"])
                   for fn, _, _ in _frames(r))
        assert w["heap_peak_bytes"] > 3 * w["chunk_bytes"]


def test_pool_workers_get_one_capture_each(root: Path, text: bytes) -> None:
    scenario = _scenario(root, text, "split", "process-pool", "spawn")
    workers = _workers(scenario)
    assert 1 <= len(workers) <= WORKERS
    assert sorted(c for w in workers for c in w["chunks"]) == [0, 1]
    assert len({w["pid"] for w in workers}) == len(workers)
    for w in workers:
        if w["chunks"]:  # the chunk arrives through the pool's call queue: unpickled in get()
            got = [r for r in _big(_records(root, scenario, w["label"]), SIZE // 4)
                   if _frames(r) and _frames(r)[0][0] == "get"]
            assert got, w


def test_threads_show_in_the_parent_capture_only(root: Path, text: bytes) -> None:
    scenario = _scenario(root, text, "split", "threads", None)
    assert [p["label"] for p in scenario["processes"]] == ["parent"]
    assert scenario["processes"][0]["largest_at_peak"]["stack"][0][0] == "count_split"
    assert scenario["count"] == len(text.split())


def test_each_page_is_titled_with_its_scenario_and_process(root: Path,
                                                          spawn: dict[str, Any]) -> None:
    for proc in spawn["processes"]:
        content = (root / spawn["name"] / proc["page"]).read_text()
        title = re.search(r"<title>([^<]*)</title>", content).group(1)  # the document's
        assert spawn["name"] in title and f"{proc['label']} (pid {proc['pid']})" in title


def test_spawn_figures_count_the_copies_exactly(spawn: dict[str, Any]) -> None:
    parent, *workers = spawn["processes"]
    envelope = 64
    assert parent["sent_bytes"] == SIZE + envelope * WORKERS  # the chunks, pickled
    assert parent["received_bytes"] == sum(w["sent_bytes"] for w in workers) > 0
    for w in workers:
        assert w["received_bytes"] == w["chunk_bytes"] + envelope  # its chunk, unpickled
        assert w["shared_bytes"] == w["shared_mapped_bytes"] == 0  # no shared mapping
        # It holds the chunk, its decoded str and the list of words, privately.
        assert w["private_growth_bytes"] > 3 * w["chunk_bytes"]
    sent = format_bytes_spaced(parent["sent_bytes"])
    assert (f"the parent pickled {sent} in {WORKERS} tasks; each worker unpickled its"
            in flamegraphs_index.story(spawn))


def test_shared_memory_figures_show_the_block_mapped_not_copied(root: Path,
                                                                text: bytes) -> None:
    scenario = _scenario(root, text, "numpy", "shared-memory", "spawn")
    parent, *workers = scenario["processes"]
    assert 0 < parent["sent_bytes"] < 512 * WORKERS  # names and offsets only
    assert parent["shared_mapped_bytes"] == SIZE  # the block it created and filled
    for w in workers:
        assert 0 < w["received_bytes"] < 512
        [block] = w["shared_mappings"]
        assert block["path"].startswith("/dev/shm/") and block["size"] == SIZE
        # It read its own chunk of the block: those pages, and no more than the block.
        assert w["chunk_bytes"] - 4096 <= w["shared_bytes"] <= SIZE
    sentence = flamegraphs_index.story(scenario)
    assert f"each worker mapped the {format_bytes_spaced(SIZE)} block" in sentence
    assert "no private copy" in sentence


def test_fork_workers_receive_nothing_by_pickle(root: Path, text: bytes) -> None:
    scenario = _scenario(root, text, "numpy", "processes", "fork")
    parent, *workers = scenario["processes"]
    assert parent["sent_bytes"] == 0 and all(w["received_bytes"] == 0 for w in workers)
    assert "the parent pickled nothing (fork)" in flamegraphs_index.story(scenario)


def test_index_json_has_every_process_and_the_reconciliation(root: Path, text: bytes,
                                                             spawn: dict[str, Any]) -> None:
    serial = _scenario(root, text, "numpy", "serial", None)
    flamegraphs_index.write_index(root)
    data = json.loads((root / "index.json").read_text())
    names = {s["name"] for s in data["scenarios"]}
    assert {spawn["name"], serial["name"]} <= names
    rows = [p for p in data["processes"] if p["scenario"] == spawn["name"]]
    assert [p["role"] for p in rows] == ["parent", "worker", "worker"]
    assert set(rows[0]) >= {"scenario", "role", "pid", "chunks", "heap_peak_bytes",
                            "private_growth_bytes", "shared_bytes", "received_bytes",
                            "sent_bytes"}
    assert rows == [{"scenario": spawn["name"],
                     **{k: p[k] for k in flamegraphs_index.PROCESS_KEYS}}
                    for p in spawn["processes"]]
    note = data["reconciliation"]
    assert serial["name"] in note
    assert format_bytes_spaced(serial["processes"][0]["heap_peak_bytes"]) in note
    assert html.escape(note) in (root / "index.html").read_text()


def test_index_links_every_page_and_file(root: Path, spawn: dict[str, Any]) -> None:
    index = flamegraphs_index.write_index(root)
    links = re.findall(r'href="([^"]+)"', index.read_text())
    for link in links:
        assert (root / link).is_file(), link
    pages = sorted(p.name for p in (root / spawn["name"]).glob("*.html"))
    assert pages == ["parent.html", "worker-0.html", "worker-1.html"]
    # Every page and raw capture of every scenario in the directory, and nothing else.
    produced = {str(p.relative_to(root)) for pattern in ("*/*.html", "*/*.bin")
                for p in root.glob(pattern)}
    assert len(produced) > 3
    assert set(links) == produced


def test_pages_fetch_nothing_from_the_web(root: Path, spawn: dict[str, Any]) -> None:
    pages = [*sorted((root / spawn["name"]).glob("*.html")), flamegraphs_index.write_index(root)]
    for page in pages:
        content = page.read_text()
        assert not re.search(r"<script[^>]*\ssrc=", content), page
        assert not re.search(r"<link[^>]*\shref=[\"']?(https?:)?//", content), page
        assert "<script" in content or page.name == "index.html"


def test_tasks_pickle_as_before_when_no_capture_is_open() -> None:
    task = Task(0, count_split, b"a b", 0, 3, 0)
    assert task.measure.capture is None
    assert task.__reduce__()[1][0] is None
    assert pickle.loads(pickle.dumps(task)) == task


def test_the_hook_is_pickled_ahead_of_the_data() -> None:
    hook = WorkerCapture("/nonexistent", parent_pid=-1, one_task_per_process=True)
    task = Task(0, count_split, b"a b", 0, 3, 0, Measurement(capture=hook))
    _, args = task.__reduce__()
    assert args[0] is hook and args.index(b"a b") > 0


def test_counting_never_imports_memray() -> None:
    code = ("import sys, wordcount; "
            "n = wordcount.count_words('a b c', executor='processes', workers=2, "
            "start_method='spawn'); "
            "assert n == 3 and 'memray' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_command_line_runs_each_scenario_in_a_fresh_process(tmp_path: Path) -> None:
    out = tmp_path / "fg"
    assert wcbench("flamegraphs", ["--sizes", "64KiB", "--kernels", "split", "--executors",
                             "serial", "--output", str(out)]) == 0
    scenario = json.loads((out / "split-serial-64KiB-w1" / "scenario.json").read_text())
    [parent] = scenario["processes"]
    assert parent["pid"] != os.getpid()
    assert parent["heap_peak_bytes"] > 3 * SIZE  # the text's words and their list, in that process
    assert 'href="split-serial-64KiB-w1/parent.html"' in (out / "index.html").read_text()


def test_command_line_refuses_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert wcbench("flamegraphs", ["--executors", "nope"]) == 2
    assert "unknown executor 'nope'" in capsys.readouterr().err


def test_a_worker_whose_capture_cannot_start_fails_the_call(tmp_path: Path) -> None:
    hook = WorkerCapture(str(tmp_path / "missing"), os.getpid(), True)
    with pytest.raises(WorkerError, match=r"worker for chunk \d failed .*Could not create"):
        count_report(b"a b c d", executor="processes", workers=2, start_method="spawn",
                     measure=Measurement(capture=hook))


def test_captures_are_made_from_python_with_a_selection(tmp_path: Path) -> None:
    """``capture_all`` takes a ``Selection`` and named settings, as the command unpacks them:
    here a text file counted at its own size, in this process."""
    text = tmp_path / "text.txt"
    text.write_bytes(corpus.generate(SIZE))
    out = tmp_path / "fg"
    selection = Selection.parse(corpus_file=str(text), kernels="split", executors="serial",
                                workers="1")
    assert capture_all(selection, CaptureSettings(output=out), here=True) == 0
    [scenario] = json.loads((out / "index.json").read_text())["scenarios"]
    assert scenario["name"] == "split-serial-64KiB-w1" and scenario["corpus"] == "text.txt"

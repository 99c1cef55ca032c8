"""``wcbench measure`` on real programs: the examples' word counts under every start method,
checked against an independent sampler and against pickle itself.

Each measured run is checked three ways: the roles and start methods every process reports;
the tree's peak against a PSS sampler written here (a separate process summing the PSS of every
process that carries the probe's environment, so the bare timed run is not in its peak); the
bytes pickled to workers against ``pickle.dumps`` of the chunks the program sends.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import WCBENCH

from wcbench.matrix import Selection

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))
from process_queue import split_into_chunks  # noqa: E402

#: Big enough that each worker's word list lasts tens of milliseconds (both samplers see it).
TEXT_BYTES = 8 << 20
#: Bytes a spawned or forkserver child is sent beside its chunk (its name, the queue, the
#: preparation data: sys.path, the main module's path...), per child: an upper bound.
ENVELOPE_BYTES = 8 << 10

#: The independent sampler: every 2 ms, the summed PSS of the descendants of ``wcbench measure``
#: (its pid in argv) whose environment holds the probe's directory (the measured run's tree: not
#: wcbench's sampler, not the bare timed run), until a line arrives on stdin; prints the peak.
#: wcbench measure adopts its command's orphans (a subreaper), so they stay its descendants.
INDEPENDENT = textwrap.dedent(r"""
    import os, select, sys, time
    root = int(sys.argv[1])
    def read(path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return b""
    def tasks(pid):
        try:  # a process may end between any two reads
            return os.listdir(f"/proc/{pid}/task")
        except OSError:
            return []
    def descendants(pid):
        for tid in tasks(pid):
            for child in read(f"/proc/{pid}/task/{tid}/children").split():
                yield int(child)
                yield from descendants(int(child))
    def pss(pid):
        for line in read(f"/proc/{pid}/smaps_rollup").split(b"\n"):
            if line.startswith(b"Pss:"):
                return int(line.split()[1]) * 1024
        return 0
    try:  # as wcbench's sampler does: less often preempted in the middle of a sample
        os.setpriority(os.PRIO_PROCESS, 0, -15)
    except OSError:
        pass
    print("ready", flush=True)
    peak, probed = 0, set()  # a process's environment read until it holds the probe's
    while not select.select([sys.stdin], [], [], 0.002)[0]:
        tree = []
        for p in descendants(root):
            if p in probed or b"WCBENCH_PROBE_DIR=" in read(f"/proc/{p}/environ"):
                probed.add(p)
                tree.append(p)
        peak = max(peak, sum([pss(p) for p in tree]))
    print(peak, flush=True)
""")


@pytest.fixture(scope="module")
def text_path() -> Path:
    return Selection().text_path(TEXT_BYTES)


def measure(tmp_path: Path, *command: str, options: tuple[str, ...] = ("--runs", "1"),
            independent: bool = False) -> tuple[subprocess.CompletedProcess, dict, int | None]:
    """``wcbench measure OPTIONS --no-save --json FILE -- COMMAND``: the completed process, the
    record written, and the independent sampler's peak (when asked)."""
    out = tmp_path / "record.json"
    peak = None
    with subprocess.Popen([WCBENCH, "measure", *options, "--no-save", "--json", str(out), "--",
                           *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, cwd=ROOT) as proc:
        watcher = None
        if independent:  # ready long before the CLI has started its command (0.5 s of imports)
            watcher = subprocess.Popen([sys.executable, "-c", INDEPENDENT, str(proc.pid)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert watcher.stdout is not None and watcher.stdout.readline() == "ready\n"
        try:
            stdout, stderr = proc.communicate(timeout=120)
        finally:
            if watcher is not None:
                peak = int(watcher.communicate("stop\n", timeout=30)[0])
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    data = json.loads(out.read_text()) if out.exists() else {}
    return done, data.get("benchmark", {}), peak


def processes(bench: dict, role: str) -> list[dict]:
    return [p for p in bench["extra_info"]["processes"] if p["role"] == role]


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_process_queue_program_under_each_start_method(tmp_path: Path, text_path: Path,
                                                       method: str) -> None:
    proc, bench, independent = measure(
        tmp_path, sys.executable, str(EXAMPLES / "process_queue.py"), str(text_path),
        "--start-method", method, independent=True)
    assert proc.returncode == 0, proc.stderr
    text = text_path.read_text()
    assert proc.stdout.splitlines()[0] == str(len(text.split()))
    info = bench["extra_info"]
    assert info["failed"] is False and info["timed_runs"] == 1
    (main,) = processes(bench, "main")
    workers = processes(bench, "process")
    assert [w["start_method"] for w in workers] == [method, method]
    assert all(w["ppid"] == (main["pid"] if method != "forkserver" else
                             processes(bench, "forkserver")[0]["pid"]) for w in workers)
    assert len(processes(bench, "forkserver")) == (method == "forkserver")
    assert len(processes(bench, "resource-tracker")) == (method != "fork")
    assert main["peak_rss_bytes"] == info["peak_parent_bytes"] > len(text)

    # the tree's peak against the independent sampler's, in the same run
    assert independent is not None and independent > 0
    assert abs(info["peak_tree_bytes"] - independent) <= 0.10 * independent, \
        (info["peak_tree_bytes"], independent)

    # bytes pickled: the chunks themselves under spawn and forkserver, nothing under fork;
    # back, each worker's count
    chunks = sum(len(pickle.dumps(c)) for c in split_into_chunks(text, 2))
    back = 2 * len(pickle.dumps(len(text.split()) // 2))
    if method == "fork":
        assert info["copied_bytes"] == 0
    else:
        assert chunks <= info["copied_bytes"] <= chunks + 2 * ENVELOPE_BYTES, \
            (info["copied_bytes"], chunks)
    assert back - 4 <= info["returned_bytes"] <= back + 4
    assert info["copied_not_measured"] == [] and info["returned_not_measured"] == []


def test_process_pool_program_counts_every_task_and_result(tmp_path: Path,
                                                           text_path: Path) -> None:
    proc, bench, _ = measure(tmp_path, sys.executable, str(EXAMPLES / "process_pool.py"),
                             str(text_path), "--start-method", "spawn", "--processes", "2")
    assert proc.returncode == 0, proc.stderr
    info = bench["extra_info"]
    workers = processes(bench, "executor-worker")
    assert len(workers) == 2 and {w["start_method"] for w in workers} == {"spawn"}
    chunks = split_into_chunks(text_path.read_text(), 2)
    assert sum(len(pickle.dumps(c)) for c in chunks) <= info["copied_bytes"] \
        <= sum(len(pickle.dumps(c)) for c in chunks) + 4 * ENVELOPE_BYTES
    assert 0 < info["returned_bytes"] < 4096
    (main,) = processes(bench, "main")
    assert main["pickled_messages"] >= len(chunks)


def test_threads_program_copies_nothing(tmp_path: Path, text_path: Path) -> None:
    proc, bench, _ = measure(tmp_path, sys.executable, str(EXAMPLES / "threads.py"),
                             str(text_path))
    assert proc.returncode == 0, proc.stderr
    info = bench["extra_info"]
    assert [p["role"] for p in info["processes"]] == ["main"]
    assert info["copied_bytes"] == 0 and info["peak_workers_bytes"] == 0
    assert "tree peak" in proc.stdout and "bytes pickled by multiprocessing: 0B" in proc.stdout

"""A benchmark run stopped or killed part-way: what it keeps, and what it leaves behind.

Real ``pytest bench`` sessions on a tiny matrix, real signals, sent when the run shows a sign
(a journal line written, a worker process existing), never after a fixed sleep. Each test then
checks the saved cases (those finished before the signal, none invented, the running one named),
the process table (nothing of the run left) and /dev/shm (no segment or semaphore the run mapped).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import helpers
import pytest

from wcbench import results
from wcbench.session import journal as journals
from wcbench.storage import save_numbered

ROOT = Path(__file__).resolve().parent.parent
#: Cases that take a few seconds in all: serial first, then one process case (collection order).
TINY = ("--sizes", "16KiB", "--kernels", "numpy", "--workers", "2")
#: How long a sign of progress, or the run's end, may take (seconds; a loaded 2-core machine).
PATIENCE = 90.0
#: Names in /dev/shm a run may leave: multiprocessing's shared memory and semaphores.
OURS = re.compile(r"^(psm_|wnsm_|sem\.mp-)")


def shm_mapped(pid: int) -> dict[int, str]:
    """Inode -> name of each /dev/shm file ``pid`` maps. By inode: glibc makes a semaphore under
    a temporary name and links it to its ``sem.mp-`` name, so the map shows the temporary one."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return {}
    return {int(f[4]): f[5][len("/dev/shm/"):] for f in map(str.split, maps.splitlines())
            if len(f) >= 6 and f[5].startswith("/dev/shm/")}


def leftovers(seen: dict[int, str]) -> set[str]:
    """Entries of /dev/shm (ours by prefix) that are files the run mapped."""
    left = set()
    for name in os.listdir("/dev/shm"):
        try:
            if OURS.match(name) and os.stat(f"/dev/shm/{name}").st_ino in seen:
                left.add(name)
        except FileNotFoundError:
            continue
    return left


@contextmanager
def bench(storage: Path, *args: str) -> Iterator[tuple[subprocess.Popen, str, dict[int, str]]]:
    """A ``pytest bench`` session as ``make bench`` runs it, tagged so every process it starts
    can be found, with the /dev/shm files any of them maps collected while it runs."""
    import psutil

    tag = uuid.uuid4().hex
    env = dict(os.environ, **{helpers.TAG_ENV: tag})
    cmd = [sys.executable, "-m", "pytest", "bench/bench_wordcount.py", "-p", "no:cacheprovider",
           f"--benchmark-storage=file://{storage}", "--benchmark-autosave", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen: dict[int, str] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                tree = [proc.pid, *(p.pid for p in psutil.Process(proc.pid).children(True))]
            except psutil.NoSuchProcess:
                tree = []
            for pid in tree:
                seen.update(shm_mapped(pid))
            done.wait(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield proc, tag, seen
    finally:
        done.set()
        watcher.join()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def journal_of(storage: Path) -> journals.Contents | None:
    for path in journals.find(storage):
        return journals.read(path)  # complete from its first appearance (renamed into place)
    return None


def wait_for_case(storage: Path, proc: subprocess.Popen, name: str, seen: dict[int, str],
                  mapped: str) -> journals.Contents:
    """Until ``name`` has started (its journal line), has a worker process, and the run maps a
    /dev/shm file named ``mapped...`` (so the leftover check has something to check)."""
    def ready() -> journals.Contents | None:
        assert proc.poll() is None, proc.communicate()
        contents = journal_of(storage)
        if contents is None or contents.running != name:
            return None
        if not any(n.startswith(mapped) for n in list(seen.values())):
            return None
        return contents if helpers.worker_processes(proc.pid) else None

    found: list[journals.Contents] = []
    assert helpers.wait_for(lambda: found.append(c) or True if (c := ready()) else False,
                            PATIENCE, every=0.005), f"{name} never started"
    return found[-1]


def assert_nothing_left(tag: str, seen: dict[int, str]) -> None:
    assert helpers.wait_for(lambda: not helpers.tagged_processes(tag), PATIENCE), \
        f"processes of the run left: {sorted(helpers.tagged_processes(tag))}"
    assert helpers.wait_for(lambda: not leftovers(seen), PATIENCE), \
        f"left in /dev/shm: {sorted(leftovers(seen))}"


def saved_runs(storage: Path) -> list[results.SavedRun]:
    return [results.load_run(p) for p in results.run_paths(storage)]


def assert_finished_only(run: results.SavedRun, finished: list[str], running: str) -> None:
    """The saved run holds exactly the cases finished before the signal, each complete."""
    assert [b.name for b in run.benchmarks] == finished
    assert all(b.stats.rounds and b.kind for b in run.benchmarks)
    assert run.incomplete is not None and run.incomplete["running"] == running


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_sigterm_in_the_middle_of_a_process_case(tmp_path: Path, method: str) -> None:
    target = f"test_wordcount[numpy-processes-{method}-16KiB-w2]"
    with bench(tmp_path, *TINY, "--executors", "serial,processes", "--start-methods",
               method) as (proc, tag, seen):
        before = wait_for_case(tmp_path, proc, target, seen, "sem.")  # a Queue's semaphore
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=PATIENCE)
    assert proc.returncode == 143, out[-2000:] + err
    ours = [line for line in err.splitlines() if line.startswith("pytest:")]
    assert ours == [f"pytest: stopped by SIGTERM during {target}; the finished benchmarks saved "
                    f"in {results.run_paths(tmp_path)[0]}"], err
    (run,) = saved_runs(tmp_path)
    assert_finished_only(run, [b["name"] for b in before.benchmarks], target)
    assert run.incomplete["reason"] == "SIGTERM"
    assert before.benchmarks and not journals.find(tmp_path)  # saved: the journal has served
    assert_nothing_left(tag, seen)


def test_sighup_between_cases_then_compare_says_incomplete(tmp_path: Path) -> None:
    # A spawned case after the first two leaves work to stop: with only quick cases left, the
    # signal could arrive as the run was already being saved (whole, so not incomplete).
    with bench(tmp_path, *TINY, "--executors", "serial,threads,processes",
               "--start-methods", "spawn") as (proc, tag, seen):
        assert helpers.wait_for(lambda: (c := journal_of(tmp_path)) is not None
                                and c.benchmarks and c.running is None, PATIENCE, every=0.002)
        before = journal_of(tmp_path)
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=PATIENCE)
    assert proc.returncode == 129, out[-2000:] + err
    assert len([line for line in err.splitlines() if line.startswith("pytest:")]) == 1, err
    (run,) = saved_runs(tmp_path)
    finished = [b["name"] for b in before.benchmarks]
    names = [b.name for b in run.benchmarks]
    # between cases: what had finished is kept; the case it stopped, if one began, is not
    assert names[:len(finished)] == finished and run.incomplete["reason"] == "SIGHUP"
    assert run.incomplete["running"] not in names
    assert "incomplete: stopped by SIGHUP" in run.incomplete_note
    assert_nothing_left(tag, seen)
    # pytest-benchmark's own comparison says the run it compares against is incomplete
    compared = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/bench_wordcount.py", "-p", "no:cacheprovider",
         f"--benchmark-storage=file://{tmp_path}", "--benchmark-compare", *TINY,
         "--executors", "serial", "-k", "memory_read"],
        cwd=ROOT, capture_output=True, text=True, timeout=PATIENCE)
    assert compared.returncode == 0, compared.stdout[-2000:] + compared.stderr
    assert "the run compared against is incomplete: stopped by SIGHUP" in \
        re.sub(r"\s+", " ", compared.stdout + compared.stderr)


def test_sigkill_mid_case_then_recover(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    target = "test_wordcount[numpy-shared-memory-spawn-16KiB-w2]"
    with bench(tmp_path, *TINY, "--executors", "serial,shared-memory", "--start-methods",
               "spawn") as (proc, tag, seen):
        before = wait_for_case(tmp_path, proc, target, seen, "psm_")  # the text's block
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=PATIENCE)
    assert proc.returncode == -signal.SIGKILL
    assert_nothing_left(tag, seen)  # workers die with it; the resource tracker unlinks the rest
    assert not results.run_paths(tmp_path)  # pytest-benchmark saved nothing...
    (path,) = journals.find(tmp_path)  # ...the journal kept what finished

    # the next session says there is a journal to recover
    nxt = subprocess.run([sys.executable, "-m", "pytest", "bench/bench_wordcount.py",
                          "-p", "no:cacheprovider", f"--benchmark-storage=file://{tmp_path}",
                          "--benchmark-autosave", "--collect-only", "-q", *TINY],
                         cwd=ROOT, capture_output=True, text=True, timeout=PATIENCE)
    assert f"left {len(before.benchmarks)} finished benchmark(s) in {path}" in nxt.stderr
    assert f"wcbench recover --storage {tmp_path}" in nxt.stderr

    assert helpers.wcbench("recover", ["--storage", str(tmp_path), "--exit-status", "137"]) == 0
    out = capsys.readouterr().out
    (run,) = saved_runs(tmp_path)
    assert f"saved {run.path}" in out and target in out
    assert_finished_only(run, [b["name"] for b in before.benchmarks], target)
    assert run.incomplete["reason"] in ("killed", "killed for memory")
    assert run.incomplete["exit_status"] == 137
    assert not journals.find(tmp_path)
    # the readers say so
    assert helpers.wcbench("compare", ["--storage", str(tmp_path), "--base", str(run.path),
                                       "--new", str(run.path)]) == 0
    assert out.count("incomplete:") == 1 and capsys.readouterr().out.count("incomplete:") == 2


# --- the journal, saving, and bad saved data --------------------------------------------------


def test_a_torn_last_journal_line_is_ignored(tmp_path: Path) -> None:
    journal = journals.Journal.create(tmp_path, {"save": "x"})
    journal.append({"type": "start", "name": "a"})
    journal.append({"type": "benchmark", "benchmark": {"name": "a", "stats": {"median": 1.0}}})
    journal.append({"type": "start", "name": "b"})
    line = json.dumps({"type": "benchmark", "benchmark": {"name": "b"}}).encode()
    os.write(journal._fd, line[: len(line) // 2])  # a kill mid-write
    journal.close()
    contents = journals.read(journal.path)
    assert [b["name"] for b in contents.benchmarks] == ["a"]
    assert (contents.running, contents.torn) == ("b", 1)
    assert contents.writer_alive()  # this process wrote it


def _save_many(folder: str, worker: int, count: int, barrier: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    for i in range(count):
        save_numbered(Path(folder), lambda n: f"{n:04d}_run.json",
                      json.dumps({"worker": worker, "i": i, "pad": "x" * 50_000}).encode())


def test_runs_saved_at_once_never_share_a_number(tmp_path: Path) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    workers, count = 4, 10
    barrier = ctx.Barrier(workers)
    procs = [ctx.Process(target=_save_many, args=(str(tmp_path), w, count, barrier))
             for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(PATIENCE)
    assert [p.exitcode for p in procs] == [0] * workers
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == [f"{n:04d}_run.json" for n in range(1, workers * count + 1)]
    saved = {(d["worker"], d["i"]) for d in (json.loads(f.read_text()) for f in files)}
    assert saved == {(w, i) for w in range(workers) for i in range(count)}  # none overwritten


def test_a_corrupt_foreign_or_future_file_is_named_and_skipped(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = next((ROOT / "tests/data/results").glob("Linux-CPython-3.11-64bit/0001_*.json"))
    folder = tmp_path / source.parent.name
    folder.mkdir()
    good = json.loads(source.read_text())
    for n, stamp in ((1, "2026-11-25T11:00:00+00:00"), (2, "2026-11-26T11:00:00+00:00")):
        (folder / f"000{n}_good.json").write_text(json.dumps({**good, "datetime": stamp}))
    text = json.dumps({**good, "datetime": "2026-11-27T11:00:00+00:00"})
    (folder / "0003_truncated.json").write_text(text[: len(text) // 2])
    (folder / "0004_foreign.json").write_text(json.dumps({"format": "something else"}))
    (folder / "0005_future.json").write_text(json.dumps(
        {**good, "datetime": "2026-11-28T11:00:00+00:00", "wordcount_format": 99}))

    assert results.latest_run(tmp_path).path.name == "0002_good.json"
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(line.startswith("warning: skipping ") for line in err)
    for name in ("0003_truncated", "0004_foreign", "0005_future"):
        assert sum(name in line for line in err) == 1, err
    assert "newer than this checkout reads" in next(line for line in err if "0005" in line)

    args = ["--storage", str(tmp_path), "--machine", folder.name]
    assert helpers.wcbench("compare", args) == 0  # the two latest readable: 0001 and 0002
    out = capsys.readouterr()
    assert "0001_good" in out.out and "0002_good" in out.out and out.err.count("skipping") == 3
    for spec, says in (("3", "is not a saved pytest-benchmark run"),
                       ("5", "newer than this checkout reads")):
        assert helpers.wcbench("compare", [*args, "--base", "1", "--new", spec]) == 2
        assert says in capsys.readouterr().err


def test_sigterm_of_wcbench_ab_saves_the_finished_cases(tmp_path: Path) -> None:
    """Two cases; SIGTERM once the first is judged: it is saved, the second is named."""
    from wcbench import corpus

    text = tmp_path / "text.txt"
    text.write_bytes(corpus.generate(32 << 20))  # calls of about 10 ms, as test_ab's quick case
    out, repo = tmp_path / "ab", tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
    tag = uuid.uuid4().hex
    proc = subprocess.Popen(
        [helpers.WCBENCH, "ab", "--repo", str(repo), "--base", "HEAD", "--new", "HEAD",
         "--kernels", "numpy", "--executors", "serial,threads", "--workers", "2",
         "--corpus-file", str(text), "--budget", "30", "--output-dir", str(out)],
        cwd=ROOT, env=dict(os.environ, **{helpers.TAG_ENV: tag}), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        first = proc.stderr.readline()  # "  numpy-serial-32MiB-w1: <verdict>", the sign
        proc.send_signal(signal.SIGTERM)
        stdout, rest = proc.communicate(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert first.strip().startswith("numpy-serial-32MiB-w1:"), first + rest
    assert proc.returncode == 143, stdout + rest
    (path,) = out.glob("*.json")
    assert rest.splitlines() == [f"ab: stopped by SIGTERM during numpy-threads-32MiB-w2; the 1 "
                                 f"finished case(s) saved in {path}"]
    saved = json.loads(path.read_text())
    assert [c["name"] for c in saved["cases"]] == ["numpy-serial-32MiB-w1"]
    assert saved["incomplete"] == {"reason": "SIGTERM", "running": "numpy-threads-32MiB-w2",
                                   "finished": 1}
    assert "incomplete: stopped by SIGTERM" in stdout
    assert helpers.wait_for(lambda: not helpers.tagged_processes(tag), PATIENCE)

"""The ``dask`` executor against a real cluster: ``dask scheduler`` and ``dask worker`` on loopback.

The cluster is started once for the module (two worker processes of one thread each) and torn
down at the end, checking that no process of it survives. The executor is pointed at it through
Dask's own configuration, as a user would. The kernels below are imported by the scheduler and the
workers (this directory is on their ``PYTHONPATH``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dask
import psutil
import pytest
from distributed import Client

from wordcount.api import count_report, count_words
from wordcount.errors import InvalidUTF8Error, WorkerError
from wordcount.executors import available_executors, dask_executor, resolve_start_method
from wordcount.executors._task import payload_size
from wordcount.measure import Measurement
from wordcount.text import chunk_spans
from wordcount.transfer import TransferMeter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
N_WORKERS = 2
#: Liveness bound for a call whose worker dies: Dask itself reacts in well under a second.
FAIL_WITHIN_SECONDS = 15.0

TEXT = ("Grüße aus Köln\u3000naïve café\u2028日本語 テキスト\x1c x\xa0y \t\n" * 2000
        + "last\u2003word")


# -- kernels the workers import (by reference, from this module) -----------------------------

def killing_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    """Dies the way an OOM kill does: SIGKILL to its own worker process, mid-count."""
    os.kill(os.getpid(), signal.SIGKILL)
    return 0


def raising_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    raise ZeroDivisionError("kernel bug")


def sleeping_kernel(data: object, start: int = 0, end: int | None = None) -> int:
    """Holds its worker for a while, so a call can be interrupted while it runs."""
    time.sleep(3.0)
    return 0


# -- the cluster -------------------------------------------------------------------------------

def _env() -> dict[str, str]:
    path = os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path.rstrip(os.pathsep)}


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A scheduler and a two-process worker on random loopback ports; its address and pids."""
    tmp = tmp_path_factory.mktemp("dask")
    sched_file = tmp / "scheduler.json"
    log = (tmp / "cluster.log").open("w")
    dask_cli = [str(BIN / "dask")]
    scheduler = subprocess.Popen(
        [*dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(sched_file)], env=_env(), stdout=log, stderr=log)
    procs = [scheduler]
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() or not sched_file.read_text().strip():
            assert scheduler.poll() is None, (tmp / "cluster.log").read_text()
            assert time.monotonic() < deadline, "scheduler did not start"
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        worker = subprocess.Popen(
            [*dask_cli, "worker", address, "--host", "127.0.0.1", "--nworkers", str(N_WORKERS),
             "--nthreads", "1", "--no-dashboard"], env=_env(), stdout=log, stderr=log)
        procs.append(worker)
        with Client(address, set_as_default=False) as client:
            client.wait_for_workers(N_WORKERS, timeout=60)
        tree = [psutil.Process(p.pid) for p in procs]
        tree += [c for p in list(tree) for c in p.children(recursive=True)]
        with dask.config.set({"scheduler-address": address}):
            yield {"address": address, "worker": worker}
    finally:
        dask_executor.close()
        for p in reversed(procs):
            _stop(p)
        log.close()
    _, alive = psutil.wait_procs(tree, timeout=20)
    assert not alive, f"cluster processes left running: {alive}"


@pytest.fixture
def client(cluster: dict) -> Iterator[Client]:
    """A client of the test cluster, once it has all its workers again (a test may kill one)."""
    with Client(cluster["address"], set_as_default=False) as c:
        c.wait_for_workers(N_WORKERS, timeout=60)
        yield c


def _scheduler_tasks(client: Client) -> int:
    return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


def _wait_no_tasks(client: Client, timeout: float = 10.0) -> int:
    """Tasks the scheduler still holds once the call's futures had time to be released."""
    deadline = time.monotonic() + timeout
    while (n := _scheduler_tasks(client)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return n


# -- registry ----------------------------------------------------------------------------------

def test_registered_and_takes_no_start_method() -> None:
    assert "dask" in available_executors()
    assert resolve_start_method("dask", None) is None
    with pytest.raises(ValueError, match="takes no start_method"):
        resolve_start_method("dask", "fork")


# -- exact counts on the cluster ---------------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("kernel", ["split", "numpy"])
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_exact_counts(client: Client, workers: int, kernel: str, as_bytes: bool) -> None:
    text = TEXT.encode() if as_bytes else TEXT
    assert count_words(text, kernel=kernel, executor="dask", workers=workers) == len(TEXT.split())


@pytest.mark.parametrize("text", ["", "   \u3000 ", "one", "a b", "x" * 1000])
def test_edge_texts(client: Client, text: str) -> None:
    assert count_words(text, executor="dask", workers=2) == len(text.split())
    assert count_words(text.encode(), kernel="numpy", executor="dask", workers=2) == \
        len(text.split())


def test_bytes_like_inputs(client: Client) -> None:
    data = bytearray(TEXT.encode())
    assert count_words(data, executor="dask", workers=2) == len(TEXT.split())
    assert count_words(memoryview(data), kernel="numpy", executor="dask", workers=2) == \
        len(TEXT.split())


def test_work_runs_on_the_cluster_workers(cluster: dict, client: Client) -> None:
    worker_pids = set(client.run(os.getpid).values())
    started = {c.pid for c in psutil.Process(cluster["worker"].pid).children(recursive=True)}
    assert len(worker_pids) == N_WORKERS and worker_pids <= started

    report = count_report(TEXT, executor="dask", workers=N_WORKERS,
                          measure=Measurement(probe=True))
    assert report.count == len(TEXT.split())
    assert {c.pid for c in report.chunks} == worker_pids  # one chunk on each worker
    assert os.getpid() not in worker_pids
    memory = report.worker_memory()
    assert set(memory) == worker_pids
    for m in memory.values():
        assert 0 < m.private_bytes <= m.peak_rss_bytes
        assert m.peak_private_bytes >= m.private_bytes


def test_copied_bytes_count_each_chunk_once(client: Client) -> None:
    for text in (TEXT, TEXT.encode()):
        spans = chunk_spans(text, 3)
        expected = sum(payload_size(text[a:b]) + dask_executor.ENVELOPE_BYTES for a, b in spans)
        meter = TransferMeter()
        report = count_report(text, executor="dask", workers=3, measure=Measurement(meter=meter))
        assert report.count == len(TEXT.split())
        assert (meter.bytes, meter.messages) == (expected, len(spans))


def test_invalid_utf8_reports_the_first_offset(client: Client) -> None:
    good = "word " * 4000
    data = good.encode() + b"\xff" + good.encode() + b"\xc3(" + good.encode()
    for kernel in ("split", "numpy"):
        with pytest.raises(InvalidUTF8Error) as info:
            count_words(data, kernel=kernel, executor="dask", workers=3)
        assert info.value.offset == len(good)


def test_kernel_error_is_a_worker_error(client: Client) -> None:
    with pytest.raises(WorkerError, match="ZeroDivisionError: kernel bug"):
        count_report(TEXT, kernel=raising_kernel, executor="dask", workers=2)
    assert _wait_no_tasks(client) == 0


# -- failures ----------------------------------------------------------------------------------

def test_worker_killed_mid_count_fails_promptly(client: Client) -> None:
    before = set(client.run(os.getpid).values())
    started = time.monotonic()
    with pytest.raises(WorkerError, match="lost"):
        count_report(TEXT, kernel=killing_kernel, executor="dask", workers=2)
    assert time.monotonic() - started < FAIL_WITHIN_SECONDS
    assert _wait_no_tasks(client) == 0
    dead = [pid for pid in before if not psutil.pid_exists(pid)]
    assert dead, "the kernel should have killed a worker process"
    # The nanny restarts the dead worker; the executor then counts on the new one.
    client.wait_for_workers(N_WORKERS, timeout=60)
    assert count_words(TEXT, executor="dask", workers=2) == len(TEXT.split())


def test_ctrl_c_cancels_the_call(cluster: dict, client: Client) -> None:
    """SIGINT to a process mid-count: KeyboardInterrupt there, and no task left on the cluster."""
    code = ("import test_dask, wordcount.api as a\n"
            "a.count_report('a b c d ' * 100, kernel=test_dask.sleeping_kernel,"
            " executor='dask', workers=2)\n")
    env = {**_env(), "DASK_SCHEDULER_ADDRESS": cluster["address"]}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=HERE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not client.run_on_scheduler(
                lambda dask_scheduler: any(t.state == "processing"
                                           for t in dask_scheduler.tasks.values())):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the count never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=FAIL_WITHIN_SECONDS)
    finally:
        _stop(proc)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert _wait_no_tasks(client) == 0


def test_unreachable_scheduler_is_a_worker_error() -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    settings = {"scheduler-address": address, "distributed.comm.timeouts.connect": "1s"}
    started = time.monotonic()
    with dask.config.set(settings), pytest.raises(WorkerError, match="cannot reach"):
        count_words(TEXT, executor="dask", workers=2)
    assert time.monotonic() - started < FAIL_WITHIN_SECONDS


# -- the local cluster -------------------------------------------------------------------------

def test_local_cluster_when_no_scheduler_is_configured() -> None:
    """Without a configured address: a local cluster of worker processes, grown on demand and
    closed by ``close`` with nothing left behind. It starts no profiler thread in this process
    (it would abort subinterpreters: docs/interpreters.md); its workers keep Dask's setting."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    with dask.config.set({"scheduler-address": None}):
        try:
            report = count_report(TEXT, kernel="numpy", executor="dask", workers=2)
            assert report.count == len(TEXT.split())
            local = {p.pid for p in me.children(recursive=True)} - before
            assert {c.pid for c in report.chunks} <= local
            assert len({c.pid for c in report.chunks}) == 2
            assert "Profile" not in {t.name for t in threading.enumerate()}
            profile = "distributed.worker.profile.enabled"
            on_workers = dask_executor.get_client(2).run(lambda: dask.config.get(profile))
            assert set(on_workers.values()) == {dask.config.get(profile)}, on_workers
            # A call asking for more workers grows the cluster: three chunks, three processes.
            report = count_report(TEXT, executor="dask", workers=3)
            assert report.count == len(TEXT.split())
            assert len({c.pid for c in report.chunks}) == 3
        finally:
            dask_executor.close()
    left = [p for p in me.children(recursive=True)
            if p.pid not in before and "resource_tracker" not in " ".join(p.cmdline())]
    _, alive = psutil.wait_procs(left, timeout=20)
    assert not alive, f"local cluster processes left running: {alive}"


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_local_cluster_ends_with_the_cli(tmp_path: Path, signum: signal.Signals) -> None:
    """The CLI on its own local cluster, SIGKILLed (as the OOM killer does) or sent SIGTERM
    while the cluster's workers count: nothing the CLI started outlives it (distributed's
    worker processes watch their parent; SIGTERM closes the cluster on the way out)."""
    import helpers

    path = tmp_path / "text.txt"
    path.write_text("a b c\n" * 100)
    ready = tmp_path / "ready"
    ready.mkdir()
    tag = f"dask-{time.monotonic_ns()}"
    env = {**_env(), helpers.READY_DIR_ENV: str(ready), helpers.TAG_ENV: tag}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-c", "import helpers; helpers.cli_main()", str(path),
                             "--kernel", "sleep", "--executor", "dask", "--workers", "2"],
                            env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        assert helpers.wait_for(lambda: helpers.kernels_running(ready) >= 2 or proc.poll(), 60)
        assert proc.poll() is None, proc.communicate()[1]
        assert len(helpers.tagged_processes(tag)) >= 3  # the CLI and two worker processes
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=FAIL_WITHIN_SECONDS)
    finally:
        _stop(proc)
    if signum == signal.SIGTERM:
        assert (proc.returncode, err) == (143, "wordcount: terminated by SIGTERM\n")
    assert helpers.wait_for(lambda: not helpers.tagged_processes(tag), FAIL_WITHIN_SECONDS), \
        f"left running: {helpers.tagged_processes(tag)}"

"""Dask: chunks scattered to the workers of a Dask cluster and counted there.

Which cluster: the one whose address Dask's own configuration gives (``scheduler-address``, set by
``DASK_SCHEDULER_ADDRESS`` or ``dask.config.set``), so a user who already runs a cluster points
the package at it the way they point any Dask code at it. Otherwise a ``LocalCluster`` of worker
processes (one thread each, so ``str.split`` is not held back by one worker's GIL), started on first
use, grown (never shrunk) when a call asks for more workers than it has, and closed at interpreter
exit. Starting a cluster takes seconds, so it is kept for the life of the process rather than per
call; the benchmarks then time the count, not the cluster's start. The local cluster starts no
profiler thread in the caller's process: distributed's (on every Python but 3.11) samples
``sys._current_frames()`` there once a second, which aborts a process running subinterpreters
(the ``interpreters`` executor; docs/interpreters.md). Its worker processes keep Dask's setting
(``distributed.worker.profile.enabled``).

How data moves: the parent slices each chunk (a copy, as ``processes`` does) and scatters it to
one worker, chosen round-robin over the cluster's workers; the counting task is pinned to that
worker, so a chunk crosses the network exactly once and each chunk is counted by a different
worker while there are enough of them. Dask serialises the chunk itself (not through
``Task.__reduce__``), so the bytes are recorded here, once per chunk, at the scatter.

Failures: a worker that dies takes its scattered chunk with it; the chunk cannot be recomputed, so
Dask cancels the task at once instead of retrying it elsewhere, and the call raises
``WorkerError`` promptly, whatever the cluster's ``allowed-failures``. On any error or Ctrl-C the
call's futures are cancelled, so nothing of it stays on the cluster. The local cluster closes at
exit (the CLI's SIGTERM and SIGHUP unwind to it); if the process is killed outright, distributed's
worker processes see their parent gone and exit.
"""

from __future__ import annotations

import atexit
import logging
import threading
import uuid
from collections.abc import Callable

import dask
from distributed import Client, Future, LocalCluster, as_completed

from wordcount.errors import InvalidUTF8Error, WorkerError
from wordcount.executors._task import (
    ENVELOPE_BYTES,
    ChunkResult,
    Task,
    chunk_copy,
    first_error,
    payload_size,
    portable_error,
    run_task,
)
from wordcount.measure import Measurement
from wordcount.procmem import reset_peak
from wordcount.text import Text, chunk_spans

_lock = threading.Lock()
_clients: dict[str, Client] = {}
#: Dask's switch for its statistical profiler (off for the local cluster's servers in this process).
_PROFILE = "distributed.worker.profile.enabled"
_local: LocalCluster | None = None


class _Client(Client):
    """distributed's ``Client``, ending its event-loop thread when it fails to connect: a failed
    ``Client(address)`` leaves its "IO loop" thread running for the life of the process
    (distributed 2025-2026), so a process that later forks would fork beside it."""

    def start(self, **kwargs: object) -> None:
        try:
            super().start(**kwargs)
        except BaseException:
            self._loop_runner.stop()
            raise


def scheduler_address() -> str | None:
    """The scheduler Dask's configuration names (``DASK_SCHEDULER_ADDRESS``), or None."""
    return dask.config.get("scheduler-address", None) or None


def _local_client(workers: int) -> Client:
    """The process's local cluster's client, with at least ``workers`` worker processes."""
    global _local
    client = _clients.get("local")
    if client is None or client.status != "running":
        profile = dask.config.get(_PROFILE, True)
        # A dead worker's data cannot be recomputed anyway; no retry elsewhere, fail fast. The
        # cluster's servers in this process (scheduler, nannies) read the profiler setting as
        # they start, and the first one on the loop decides for good (see the module)...
        with dask.config.set({"distributed.scheduler.allowed-failures": 0, _PROFILE: False}):
            # ...while each worker process gets the one it would have had: a nanny hands its
            # worker this config merged over Dask's, one top-level section at a time.
            section = dask.config.merge(dask.config.get("distributed"),
                                        {"worker": {"profile": {"enabled": profile}}})
            _local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  scheduler_kwargs={"dashboard": False},
                                  silence_logs=logging.ERROR, config={"distributed": section})
        client = _clients["local"] = Client(_local, set_as_default=False)
    elif _local is not None and len(_local.workers) < workers:
        _local.scale(workers)
    client.wait_for_workers(workers)
    return client


def get_client(workers: int) -> Client:
    """A connected client: to the configured scheduler, else to the local cluster (see module)."""
    address = scheduler_address()
    with _lock:
        if address is None:
            return _local_client(workers)
        client = _clients.get(address)
        if client is None or client.status != "running":
            try:
                client = _Client(address, set_as_default=False)
            except OSError as exc:  # also TimeoutError: nothing answers at that address
                raise WorkerError(f"cannot reach the dask scheduler at {address!r} (from "
                                  f"dask's scheduler-address setting): {exc}") from None
            _clients[address] = client
        return client


@atexit.register
def close() -> None:
    """Close every client this process opened and its local cluster, if any (runs at exit), and
    end the one thread distributed keeps after that (see ``_retire_offload_thread``)."""
    global _local
    with _lock:
        used = bool(_clients) or _local is not None
        for client in _clients.values():
            client.close()
        _clients.clear()
        if _local is not None:
            _local.close()
            _local = None
        if used:
            _retire_offload_thread()


def _retire_offload_thread() -> None:
    """distributed runs some work in a one-thread pool of its own (``distributed.utils``'
    ``_offload_executor``, "Dask-Offload"), whose thread lives until the interpreter exits. A
    process that forks later would fork beside it (the hazard CPython warns about since 3.12),
    so once every client here is closed the pool is replaced by a fresh one, which starts no
    thread until it is used, and the old one is shut down and its thread joined."""
    from concurrent.futures import ThreadPoolExecutor

    import distributed.utils as dutils

    old = getattr(dutils, "_offload_executor", None)
    if not isinstance(old, ThreadPoolExecutor) or not old._threads:
        return
    dutils._offload_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="Dask-Offload")
    old.shutdown(wait=True)


def _count_on_worker(index: int, kernel: Callable[..., int], data: object, offset: int,
                     probe: bool) -> ChunkResult:
    """Worker side: count one scattered chunk; the worker outlives the call, so reset its peak."""
    if probe:
        reset_peak()
    try:
        return run_task(Task(index, kernel, data, 0, len(data), offset,  # type: ignore[arg-type]
                             Measurement(probe=probe)))
    except Exception as exc:
        raise portable_error(index, exc) from None


def _outcome(index: int, future: Future, worker: str) -> ChunkResult | Exception:
    """A finished future's result, or the error that ended it (a lost worker among them)."""
    if future.status == "finished":
        return future.result()
    if future.status == "error":
        exc = future.exception()
        if isinstance(exc, InvalidUTF8Error | WorkerError):
            return exc
        return WorkerError(f"dask task for chunk {index} on {worker} failed: {exc!r}")
    return WorkerError(f"dask worker {worker} holding chunk {index} was lost before counting it "
                       f"(task {future.status})")


def run(text: Text, workers: int, kernel: Callable[..., int], *,
        start_method: str | None, measure: Measurement) -> list[ChunkResult]:
    """Scatter each chunk to a worker of the cluster and count it there (see module)."""
    client = get_client(workers)
    addresses = sorted(client.scheduler_info()["workers"])
    if not addresses:
        raise WorkerError(f"the dask cluster at {client.scheduler.address} has no workers")
    call = uuid.uuid4().hex
    pending: dict[Future, tuple[int, str]] = {}
    held: list[Future] = []
    try:
        for i, (a, b) in enumerate(chunk_spans(text, workers)):
            worker = addresses[i % len(addresses)]
            chunk = chunk_copy(text, a, b)
            if measure.meter is not None:
                measure.meter.add(payload_size(chunk) + ENVELOPE_BYTES)
            data = client.scatter(chunk, workers=[worker], hash=False)
            del chunk
            future = client.submit(_count_on_worker, i, kernel, data, a, measure.probe,
                                   key=f"wordcount-{call}-{i}", workers=[worker],
                                   allow_other_workers=False, pure=False, retries=0)
            held += [data, future]
            pending[future] = (i, worker)
        outcomes: list[ChunkResult | Exception] = []
        for future in as_completed(list(pending), loop=client.loop):
            index, worker = pending[future]
            outcome = _outcome(index, future, worker)
            outcomes.append(outcome)
            if isinstance(outcome, Exception) and not isinstance(outcome, InvalidUTF8Error):
                raise outcome  # fail now; invalid UTF-8 waits for the others' first offset
        errors = [o for o in outcomes if isinstance(o, Exception)]
        if errors:
            raise first_error(errors)
        return sorted(outcomes, key=lambda r: r.index)  # type: ignore[union-attr]
    except BaseException:
        if held and client.status == "running":
            client.cancel(held, force=True)
        raise
    finally:
        held.clear()
        pending.clear()

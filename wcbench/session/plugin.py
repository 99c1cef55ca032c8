"""The benchmark session's pytest plugin (registered by the root ``conftest.py``): the run's own
record, and what happens when a run is interrupted.

The run's own fields (:class:`wcbench.record.RunFields`) are written by one hook,
``pytest_benchmark_update_json``: the format, why the run did not finish, the cases skipped and
the matrix that made it; ``machine_info["wordcount"]`` by pytest-benchmark's machine-info hook.
The cases skipped are kept here (:func:`skipped`): the benchmark module adds each through the
``wordcount_skips`` fixture, the journal, the saved run and the summary at the end read them.

Interrupted runs (active only in a session that saves its run, as ``make bench`` does):

- SIGTERM and SIGHUP stop the session as Ctrl-C does (:class:`wcbench.stopping.Stopped`, a
  ``KeyboardInterrupt``): the case in progress is stopped by the executors' own cleanup (workers
  reaped, shared memory and semaphores unlinked), pytest-benchmark saves what finished, and the
  session then exits 128 + the signal's number (143, 129) with one line on stderr. The case that
  was running is left out of the saved run (its rounds are partial, its figures unset), and the
  run says why it is incomplete (``wordcount_incomplete``).
- Each finished case goes to a journal (:mod:`wcbench.session.journal`) the moment it finishes, so a
  SIGKILL loses nothing finished; the journal is removed once the run is saved. A session that
  finds journals left behind says so in its header (``wcbench recover`` saves them).
- Saving is atomic and numbered safely (:func:`wcbench.storage.make_saves_atomic`).
- ``--benchmark-compare`` against an incomplete run says that it is.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from wcbench import record, stopping
from wcbench.record import RunFields, SkippedCase, incomplete_note
from wcbench.session import journal as journals
from wcbench.session import options
from wcbench.storage import make_saves_atomic


@dataclass
class _State:
    """One session's: its journal, the case running, what finished, how it was interrupted."""

    journal: journals.Journal | None = None
    running: str | None = None  # nodeid of the item in progress
    finished: set[str] = field(default_factory=set)
    interrupted_by: str | None = None  # "SIGTERM", "SIGHUP", "SIGINT"
    signum: int | None = None
    running_name: str | None = None  # the item's name when interrupted
    running_item: pytest.Item | None = None
    saved: list[Path] = field(default_factory=list)
    skips_journaled: int = 0
    previous_handlers: dict[int, object] = field(default_factory=dict)
    #: Set while the run is being saved: a signal then is noted, not raised (the run is whole).
    finishing: bool = False


_STATE = pytest.StashKey[_State]()
#: The cases skipped so far (refused by their executor, or over a budget by their estimate).
_SKIPPED = pytest.StashKey[list[SkippedCase]]()
#: The session's config (``pytest_keyboard_interrupt`` is given none).
_CONFIG: list[pytest.Config] = []


def _config_of_interrupt() -> pytest.Config | None:
    return _CONFIG[0] if _CONFIG else None


def _saves(config: pytest.Config) -> str | None:
    """The save name when this session saves its run (``--benchmark-autosave`` or ``-save``)."""
    bs = getattr(config, "_benchmarksession", None)
    if bs is None or bs.disabled or bs.skip:
        return None
    return bs.save or bs.autosave or None


def _on_signal(state: _State):
    def handler(signum: int, _frame: object) -> None:
        if state.signum is None:  # the first stops the run; later ones must not break its save
            state.signum = signum
            if not state.finishing:
                raise stopping.Stopped(signum)
    return handler


def skipped(config: pytest.Config) -> list[SkippedCase]:
    """The cases this session skipped so far, in order."""
    return config.stash.setdefault(_SKIPPED, [])


@pytest.fixture(scope="session")
def wordcount_skips(pytestconfig: pytest.Config) -> list[SkippedCase]:
    """Where a benchmark records why it was skipped: an estimate, or its executor's refusal."""
    return skipped(pytestconfig)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    skipped(config)
    save = _saves(config)
    if not save:
        return
    state = config.stash[_STATE] = _State()
    _CONFIG[:] = [config]
    state.previous_handlers = stopping.install(_on_signal(state))
    bs = config._benchmarksession  # type: ignore[attr-defined]
    make_saves_atomic(bs.storage, state.saved.append)


def _machine_folder(config: pytest.Config) -> Path | None:
    storage = config._benchmarksession.storage  # type: ignore[attr-defined]
    get = getattr(storage, "get", None)
    return Path(get("")) if get and hasattr(storage, "default_machine_id") else None


def _storage_root(config: pytest.Config) -> Path | None:
    storage = config._benchmarksession.storage  # type: ignore[attr-defined]
    return Path(storage.path) if hasattr(storage, "default_machine_id") else None


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    state = config.stash.get(_STATE, None)
    folder = _machine_folder(config) if state else None
    if state is None or folder is None:
        return
    _say_left_behind(_storage_root(config))
    if config.option.collectonly:
        return
    bs = config._benchmarksession  # type: ignore[attr-defined]
    commit = config.hook.pytest_benchmark_generate_commit_info(config=config)
    config.hook.pytest_benchmark_update_commit_info(config=config, commit_info=commit)
    extra: dict[str, Any] = {"benchmarks": []}  # what this suite's hooks add to a saved run
    config.hook.pytest_benchmark_update_json(config=config, benchmarks=[], output_json=extra)
    del extra["benchmarks"]
    state.journal = journals.Journal.create(folder, {
        "started": journals.now(), "argv": sys.argv, "cwd": os.getcwd(), "save": _saves(config),
        "include_data": bool(bs.save_data), "machine_info": bs.get_machine_info(),
        "commit_info": commit, "pytest_benchmark": _pytest_benchmark_version(),
        "update_json": extra})


def _say_left_behind(root: Path | None) -> None:
    """Journals of sessions that never saved, and how to save them: on stderr, first thing."""
    for left in journals.left_behind(root) if root else ():
        print(f"wordcount: a run that never saved left {len(left.benchmarks)} finished "
              f"benchmark(s) in {left.path}: `wcbench recover --storage {root}` saves them",
              file=sys.stderr, flush=True)


def _pytest_benchmark_version() -> str:
    from pytest_benchmark import __version__

    return __version__


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    state = item.config.stash.get(_STATE, None)
    if state is not None:
        state.running, state.running_name, state.running_item = item.nodeid, item.name, item
        if state.journal:
            state.journal.append({"type": "start", "name": item.name, "nodeid": item.nodeid})
    result = yield
    if state is not None:
        if state.journal:
            state.journal.append({"type": "done", "name": item.name})
        state.running = state.running_name = state.running_item = None
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    state = item.config.stash.get(_STATE, None)
    if state is None or call.when != "call":
        return report
    funcargs = getattr(item, "funcargs", None) or {}
    skips = skipped(item.config)
    if state.journal:
        for skip in skips[state.skips_journaled:]:
            state.journal.append({"type": "skipped", "skip": skip.to_json()})
        state.skips_journaled = len(skips)
    if report.passed:
        state.finished.add(item.nodeid)
        fixture = funcargs.get("benchmark")
        stats = getattr(fixture, "stats", None)
        if state.journal and stats and not stats.has_error:
            bs = item.config._benchmarksession  # type: ignore[attr-defined]
            state.journal.append({"type": "benchmark",
                                  "benchmark": stats.as_dict(include_data=bool(bs.save_data))})
    return report


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo) -> None:
    """Say how the run was stopped, and keep the unfinished case out of what is saved."""
    config = _config_of_interrupt()
    state = config.stash.get(_STATE, None) if config else None
    if state is None:
        return
    exc = excinfo.value
    state.interrupted_by = signal.Signals(exc.signum).name \
        if isinstance(exc, stopping.Stopped) else "SIGINT"
    state.signum = getattr(exc, "signum", signal.SIGINT)
    if state.running and state.running not in state.finished:
        bs = config._benchmarksession  # type: ignore[attr-defined]
        bs.benchmarks[:] = [b for b in bs.benchmarks if b.fullname != state.running]
        fixture = (getattr(state.running_item, "funcargs", None) or {}).get("benchmark")
        if fixture is not None and not fixture._mode:  # stopped before its rounds: not a misuse
            fixture._mode = "interrupted"
    else:
        state.running_name = None


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info[record.MACHINE] = record.machine_details()


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list,
                                 output_json: dict) -> None:
    """Every field the suite adds to a saved run (:class:`wcbench.record.RunFields`)."""
    state = config.stash.get(_STATE, None)
    incomplete = None
    if state is not None and state.interrupted_by:
        incomplete = record.incomplete_fields(
            reason=state.interrupted_by, detail=f"stopped by {state.interrupted_by}",
            running=state.running_name, finished=len(output_json["benchmarks"]))
    output_json.update(RunFields(
        skipped=tuple(skipped(config)), incomplete=incomplete,
        matrix=record.MatrixUsed(options.matrix_name(config),
                                 options.given_options(config))).to_json())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    """Per size, the fastest strategy and the leanest (:mod:`wcbench.report.summary`)."""
    from wcbench.report.summary import summary_lines
    from wcbench.results import Benchmark

    session = getattr(config, "_benchmarksession", None)
    benchmarks = [
        Benchmark.from_json({"name": b.name, "group": b.group, "stats": {"median": b.stats.median},
                             "extra_info": dict(b.extra_info)})
        for b in getattr(session, "benchmarks", [])
        if b  # a benchmark with timings (not one that failed before timing)
    ]
    lines = summary_lines(benchmarks, skipped(config))
    if lines:
        terminalreporter.section("wordcount summary")
        for line in lines:
            terminalreporter.write_line(line)
    counted = instruction_lines(benchmarks)
    if counted:
        terminalreporter.section("instructions (callgrind)")
        for line in counted:
            terminalreporter.write_line(line)


def instruction_lines(benchmarks: list) -> list[str]:
    """One line per case whose instructions were counted (``--instructions``): the median of its
    calls, their range, and what ran them."""
    from wcbench.units import format_count

    lines = []
    for b in benchmarks:
        calls = record.instruction_calls(b.extra_info)
        if calls:
            info = b.extra_info
            gil = "GIL on" if info.get(record.GIL_ENABLED, True) else "GIL off"
            lines.append(f"{b.name}: {format_count(info[record.INSTRUCTIONS])} instructions "
                         f"a call (median of {len(calls)}, {format_count(min(calls))}-"
                         f"{format_count(max(calls))}; {info.get(record.INSTRUCTIONS_TOOL)}, "
                         f"CPython {info.get(record.PYTHON)} {gil}, "
                         f"{info.get(record.CPU_COUNT)} CPUs)")
    return lines


def pytest_benchmark_compare_machine_info(config: pytest.Config, benchmarksession: Any,
                                          machine_info: dict, compared_benchmark: dict) -> None:
    note = incomplete_note(RunFields.from_json(compared_benchmark).incomplete,
                           len(compared_benchmark.get("benchmarks") or ()))
    if note:
        benchmarksession.logger.warning(f"the run compared against is {note}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int):
    """Around pytest-benchmark's save: a signal arriving now is noted, not raised (the save must
    not be cut short); after it, the journal is dropped once the run is saved, and the exit status
    is 128 + the signal's number when SIGTERM or SIGHUP came."""
    state = session.config.stash.get(_STATE, None)
    if state is not None:
        state.finishing = True
    result = yield
    if state is not None:
        _after_save(session, state)
    return result


def _after_save(session: pytest.Session, state: _State) -> None:
    if state.journal is not None:
        bs = session.config._benchmarksession  # type: ignore[attr-defined]
        if state.saved or not bs.benchmarks:
            state.journal.remove()
        else:
            state.journal.close()
    if state.signum is not None and state.interrupted_by != "SIGINT":
        session.exitstatus = 128 + int(state.signum)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    stopping.restore(state.previous_handlers)
    if state.signum is not None and not state.interrupted_by:
        print(f"pytest: {signal.Signals(state.signum).name} came while the finished run was "
              "saved: it is complete", file=sys.stderr, flush=True)
    elif state.interrupted_by:
        during = f" during {state.running_name}" if state.running_name else " between cases"
        if state.saved:
            kept = f"the finished benchmarks saved in {', '.join(map(str, state.saved))}"
        else:
            kept = "no benchmark had finished, nothing saved"
        print(f"pytest: stopped by {state.interrupted_by}{during}; {kept}", file=sys.stderr,
              flush=True)

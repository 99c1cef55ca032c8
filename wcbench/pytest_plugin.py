"""wcbench's pytest plugin for any project's pytest-benchmark suite: memory beside time.

Registered by entry point (``[project.entry-points.pytest11]``), so installing wordcount-bench
is enough; no conftest is needed (``-p no:wcbench`` turns it off). With pytest-benchmark:

- ``--benchmark-memory``: before its timed rounds, each benchmark's function is called once more,
  untimed, inside :func:`wcbench.measure_tree` (the tree sampled by a separate process, the
  caller's exact peak, the probe in every process it starts: the bytes multiprocessing pickled
  each way), and the figures are saved in the benchmark's ``extra_info`` under the names the
  suite uses (``peak_parent_bytes``, ``peak_workers_bytes``, ``peak_tree_bytes``,
  ``copied_bytes``, ``returned_bytes``). A benchmark that recorded memory figures of its own
  before timing (the suite's matrix does) is not called again.
- ``--benchmark-compare`` then prints the memory table after pytest-benchmark's own, and
  ``--memory-compare-fail=FIGURE:PCT`` fails the session when a figure grew past it
  (:mod:`wcbench.compare.pytest_table`).
- ``--benchmark-flamegraphs``: one more untimed call per benchmark, under memray in every
  process of its tree (:mod:`wcbench.flamegraphs.calls`): a flamegraph per process and an
  index, written beside the saved run (``NNNN_..._flamegraphs/``), or in
  ``benchmark-flamegraphs/`` when the run is not saved.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from wcbench import record
from wcbench.compare import pytest_table

MEMORY_OPTION = "--benchmark-memory"
FLAMEGRAPHS_OPTION = "--benchmark-flamegraphs"
#: Where the captures go when the run is not saved.
UNSAVED_FLAMEGRAPHS = Path("benchmark-flamegraphs")
_PATCHED: dict[str, Callable[..., Any]] = {}
#: The session's captures, while it runs (moved beside the saved run at its end).
_CAPTURES: list[Path] = []
#: Whether the session makes memory calls (``--benchmark-memory``).
_MEMORY: list[bool] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wcbench", "memory of benchmarks (wcbench)")
    group.addoption(MEMORY_OPTION, action="store_true", default=False,
                    help="call each benchmark once more, untimed, measuring its process tree "
                         "(peaks, bytes pickled to and from workers); saved in extra_info")
    group.addoption(FLAMEGRAPHS_OPTION, action="store_true", default=False,
                    help="call each benchmark once more, untimed, under memray in every process "
                         "of its tree; flamegraphs and an index beside the saved run")
    pytest_table.addoption(group)


def _has_benchmark(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("pytest_benchmark.plugin") or \
        config.pluginmanager.hasplugin("benchmark")


def pytest_configure(config: pytest.Config) -> None:
    if not _has_benchmark(config):
        if config.getoption("benchmark_memory") or config.getoption("memory_compare_fail"):
            raise pytest.UsageError(f"{MEMORY_OPTION} and {pytest_table.OPTION} need "
                                    "pytest-benchmark")
        return
    pytest_table.register(config)
    _MEMORY[:] = [True] if config.getoption("benchmark_memory") else []
    if config.getoption("benchmark_flamegraphs"):
        _CAPTURES[:] = [Path(tempfile.mkdtemp(prefix="wcbench-flamegraphs-"))]
    if config.getoption("benchmark_memory") or config.getoption("benchmark_flamegraphs"):
        _patch_fixture()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After pytest-benchmark saved the run: the captures beside it, and their index."""
    if not _CAPTURES:
        return
    captured = _CAPTURES[0]
    target = _flamegraphs_home(session.config)
    if any(captured.iterdir()):
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(captured), target)
        from wcbench.flamegraphs.calls import finish

        index = finish(target)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"flamegraphs of every process of each benchmark: {index}")
    shutil.rmtree(captured, ignore_errors=True)
    _CAPTURES.clear()


def _flamegraphs_home(config: pytest.Config) -> Path:
    """``<machine folder>/NNNN_<save>_flamegraphs`` beside the run just saved, else
    ``benchmark-flamegraphs/``."""
    bs = getattr(config, "_benchmarksession", None)
    save = bs is not None and (bs.save or bs.autosave)
    get = getattr(getattr(bs, "storage", None), "get", None)
    if save and get is not None:
        folder = Path(get(""))
        runs = sorted(folder.glob(f"[0-9][0-9][0-9][0-9]_{save}.json"))
        if runs:
            return runs[-1].with_name(f"{runs[-1].stem}_flamegraphs")
    return Path(config.rootpath, UNSAVED_FLAMEGRAPHS)


def pytest_unconfigure(config: pytest.Config) -> None:
    _unpatch_fixture()
    _MEMORY.clear()


def untimed_calls(fixture: Any, target: Callable[..., Any], args: Sequence[Any],
                  kwargs: Mapping[str, Any]) -> None:
    """Before a benchmark's timed rounds: its memory call and its flamegraph call, as asked."""
    if getattr(fixture, "disabled", False):
        return
    if _MEMORY:
        memory_call(fixture, target, args, kwargs)
    if _CAPTURES:
        from wcbench.flamegraphs.calls import capture_call

        capture_call(target, args, kwargs, _CAPTURES[0], fixture.name)


def memory_call(fixture: Any, target: Callable[..., Any], args: Sequence[Any],
                kwargs: Mapping[str, Any]) -> None:
    """The untimed call: ``target(*args, **kwargs)`` inside ``measure_tree``, its figures put
    in ``fixture.extra_info`` (not when the benchmark has memory figures already)."""
    if any(k in fixture.extra_info for k in record.MEMORY_KEYS):
        return
    from wcbench.measure.tree import measure_tree, trim_heap

    trim_heap()  # what earlier tests freed is not reused unseen
    with measure_tree() as m:
        target(*args, **kwargs)
    fixture.extra_info.update(record.tree_memory_fields(m.figures, m.peak_parent_bytes))


def _patch_fixture() -> None:
    from pytest_benchmark.fixture import BenchmarkFixture

    if _PATCHED:
        return
    call, pedantic = BenchmarkFixture.__call__, BenchmarkFixture.pedantic
    _PATCHED.update(__call__=call, pedantic=pedantic)

    def measured_call(self: Any, function_to_benchmark: Callable[..., Any], *args: Any,
                      **kwargs: Any) -> Any:
        untimed_calls(self, function_to_benchmark, args, kwargs)
        return call(self, function_to_benchmark, *args, **kwargs)

    def measured_pedantic(self: Any, target: Callable[..., Any], args: Sequence[Any] = (),
                          kwargs: Mapping[str, Any] | None = None,
                          setup: Callable[[], Any] | None = None, **rest: Any) -> Any:
        call_args, call_kwargs = tuple(args), dict(kwargs or {})
        if setup is not None:  # as pytest-benchmark calls it before each round
            made = setup()
            if made:
                call_args, call_kwargs = made
        untimed_calls(self, target, call_args, call_kwargs)
        return pedantic(self, target, args=args, kwargs=kwargs, setup=setup, **rest)

    BenchmarkFixture.__call__ = measured_call  # type: ignore[method-assign]
    BenchmarkFixture.pedantic = measured_pedantic  # type: ignore[method-assign]


def _unpatch_fixture() -> None:
    if not _PATCHED:
        return
    from pytest_benchmark.fixture import BenchmarkFixture

    for name, original in _PATCHED.items():
        setattr(BenchmarkFixture, name, original)
    _PATCHED.clear()

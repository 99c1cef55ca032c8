"""memray in every process of one Python call, for the pytest plugin's
``--benchmark-flamegraphs``: the calling process tracked around the call (memray following its
fork children), spawn and forkserver children started by the probe (``PYTHONPATH`` and
``WCBENCH_PROBE_MEMRAY`` set for the call), each capture closed before its process ends; then a
flamegraph of each and an entry of the index, as for a command (:mod:`.command`). Never while
timing: the plugin calls it before the benchmark's timed rounds."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from wcbench import probe
from wcbench.flamegraphs.command import (
    MEMRAY_ENV,
    memray_setting,
    scenario,
    slug,
    write_scenario,
)
from wcbench.flamegraphs.index import write_index
from wcbench.measure.tree import measure_tree


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def capture_call(target: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any],
                 root: Path, name: str, *, native: bool = False,
                 python_allocators: bool = True) -> dict[str, Any]:
    """Call ``target`` once with every process of its tree captured; write
    ``root/<name>/`` (captures, pages, ``scenario.json``) and return what ``scenario.json``
    holds."""
    import memray

    directory = (root / slug(name)).resolve()
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    path = directory / f"memray-{os.getpid()}.bin"
    with _environment(MEMRAY_ENV, memray_setting(native, python_allocators)):
        capture = probe.probe_module().capture_module()
        state = probe.probe_module().install(str(directory), at_exit=False)
        state.extra["capture"] = {"file": path.name}
        try:
            with measure_tree(directory=directory) as m:
                tracker = memray.Tracker(path, follow_fork=True, native_traces=native,
                                         trace_python_allocators=python_allocators)
                with tracker:
                    capture.adopt(tracker, str(path))
                    try:
                        target(*args, **kwargs)
                    finally:
                        capture.release()
        finally:
            state.extra.pop("capture", None)
    data = scenario(name, [name], "called once, untimed", False, m.figures, directory,
                    native=native, python_allocators=python_allocators)
    write_scenario(directory, data)
    return data


def finish(root: Path) -> Path:
    """The index of every call captured under ``root``."""
    return write_index(root)

"""A measured command saved as a run in the suite's storage format: pytest-benchmark's JSON
(its machine and commit info, one benchmark with pytest-benchmark's own statistics) under
``<storage>/<machine>/NNNN_<commit>_<time>.json``, so that ``wcbench compare``, ``report``,
``export`` and the CI recipe read it as they read any run; the run's own fields
(:class:`wcbench.record.RunFields`) as the benchmark session writes them."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wcbench import record
from wcbench.record import RunFields
from wcbench.results import machine_id
from wcbench.storage import atomic_write, save_run

#: The group and the name's prefix of every measured command.
GROUP = "command"
PREFIX = "measure"


def default_name(argv: Sequence[str]) -> str:
    """The command as typed, its program by its file name: ``python3 examples/queue.py spawn``."""
    return shlex.join([Path(argv[0]).name, *argv[1:]])


def benchmark_json(name: str, seconds: Sequence[float],
                   extra_info: Mapping[str, Any]) -> dict[str, Any]:
    """One benchmark as pytest-benchmark saves it (``Metadata.as_dict``), its statistics computed
    by pytest-benchmark's own ``Stats`` from the timed runs' wall times."""
    from pytest_benchmark.stats import Stats

    stats = Stats()
    for s in seconds:
        stats.update(s)
    figures = stats.as_dict()
    figures["data"] = list(seconds)
    return {"group": GROUP, "name": f"{PREFIX}[{name}]", "fullname": f"wcbench measure::{name}",
            "params": None, "param": None, "extra_info": dict(extra_info),
            "options": {"timer": "perf_counter", "runs": "bare, one per round"},
            "stats": figures}


def run_json(benchmark: Mapping[str, Any], *,
             incomplete: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The whole saved run around one benchmark."""
    from pytest_benchmark import __version__
    from pytest_benchmark.plugin import pytest_benchmark_generate_machine_info
    from pytest_benchmark.utils import get_commit_info

    machine = pytest_benchmark_generate_machine_info()
    machine[record.MACHINE] = record.machine_details()
    output: dict[str, Any] = {
        "machine_info": machine, "commit_info": get_commit_info(),
        "benchmarks": [dict(benchmark)],
        "datetime": datetime.now(UTC).isoformat(), "version": __version__}
    output.update(RunFields(incomplete=incomplete).to_json())
    return output


def save_name() -> str:
    """pytest-benchmark's autosave name: the commit, the time, and whether the tree is dirty."""
    from pytest_benchmark.utils import get_tag

    return get_tag()


def save(storage: Path, output: Mapping[str, Any]) -> Path:
    """Save ``output`` in this interpreter's folder of ``storage`` under the next number."""
    return save_run(storage / machine_id(), dict(output), save_name())


def write_json(path: Path, benchmark: Mapping[str, Any], timeline: list) -> None:
    """``--json FILE``: this measurement's benchmark alone, with the full timeline."""
    data = {"benchmark": dict(benchmark), "timeline": timeline, "cwd": os.getcwd()}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(data, indent=1) + "\n").encode())

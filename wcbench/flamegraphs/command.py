"""``wcbench flamegraphs -- COMMAND``: a memray capture of every Python process of any program's
tree, a flamegraph of each, and the index the suite's scenarios get.

The command runs once as ``wcbench measure`` runs its measured run (its own session, the
sampler outside the tree, the probe inside every Python process), with the probe asked to start
memray too (``WCBENCH_PROBE_MEMRAY``, :mod:`_wcbench_capture` beside the probe): each fresh
interpreter (the main process, every spawn child, the fork server, the resource tracker) records
into ``memray-<pid>.bin`` and memray follows each fork child into ``memray-<pid>.bin.<child>``;
each capture is closed before its process's report is written, ``os._exit`` included. Never
timed. Then each capture is renamed after its process (``main-<pid>.bin``,
``process-spawn-<pid>.bin``...), drawn (``memray flamegraph --no-web``: it opens offline) and read
for memray's figures; ``scenario.json`` holds every process, those without a capture with the
reason (not Python, no report, memray missing in that interpreter), and the index of the output
directory is written again. A command that fails or hangs is handled as ``wcbench measure``
handles it: its status kept (exit 1), its tree stopped, nothing left behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wcbench import probe
from wcbench.flamegraphs.capture import SCENARIO_FORMAT, render_flamegraph
from wcbench.flamegraphs.index import write_index
from wcbench.flamegraphs.stats import capture_stats
from wcbench.measure.command import (
    Outcome,
    become_subreaper,
    check_command,
    measured_run,
)
from wcbench.measure.save import default_name
from wcbench.measure.tree import ProcessFigures, TreeFigures
from wcbench.sampler import SamplerProcess, TreeSampler
from wcbench.storage import atomic_write
from wcbench.units import format_bytes

#: The probe's switch for memray (read by ``_wcbench_capture``).
MEMRAY_ENV = "WCBENCH_PROBE_MEMRAY"


def memray_setting(native: bool, python_allocators: bool) -> str:
    """``WCBENCH_PROBE_MEMRAY``'s value."""
    return f"native={int(native)},allocators={int(python_allocators)}"


def slug(text: str) -> str:
    """A directory name from a command line."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "command"


def short_name(argv: Sequence[str]) -> str:
    """A command line with each path reduced to its file name: a directory's name."""
    return " ".join(Path(a).name if os.sep in a else a for a in argv)


def _kind(p: ProcessFigures) -> str:
    """The index's row class: the main process, a worker, or another."""
    if p.role == probe.MAIN:
        return "parent"
    return "worker" if p.is_worker else "other"


def _why_not(p: ProcessFigures, capture: dict[str, Any], directory: Path) -> str | None:
    if p.role == probe.NOT_PYTHON:
        return "not Python: memray records Python processes"
    if p.report is None and p.role in (probe.RESOURCE_TRACKER, probe.FORKSERVER):
        return ("still running when the run ended (multiprocessing's helper, kept for later "
                "work): its capture closes when it exits")
    if p.report is None:
        return f"no capture: {p.note or 'it wrote no report'}"
    if capture.get("error"):
        return str(capture["error"])
    if not capture.get("file") or not (directory / capture["file"]).exists():
        return "no capture file (it ended before memray could write one)"
    return None


def process_entry(p: ProcessFigures, directory: Path, title: str,
                  render: bool = True) -> dict[str, Any]:
    """One process of the index: memray's figures and its page, or why it has none."""
    capture = dict((p.report.extra.get("capture") if p.report else None) or {})
    reason = _why_not(p, capture, directory)
    entry: dict[str, Any] = {
        "role": _kind(p), "label": f"{p.label} {p.pid}", "pid": p.pid, "ppid": p.ppid,
        "chunks": [], "chunk_bytes": 0, "heap_peak_bytes": 0, "total_allocated_bytes": 0,
        "allocations": 0, "largest_at_peak": None, "private_start_bytes": 0,
        "peak_rss_bytes": p.peak_rss_bytes or 0, "peak_private_bytes": p.peak_private_bytes or 0,
        "private_growth_bytes": p.peak_private_bytes or 0, "peak_pss_bytes": p.peak_pss_bytes,
        "shared_bytes": 0, "shared_mapped_bytes": 0, "shared_mappings": [],
        "received_bytes": p.report.received_bytes if p.report else 0,
        "sent_bytes": p.pickled_bytes or 0, "cmdline": list(p.cmdline), "capture": None,
        "page": None, "reason": reason}
    if reason is not None:
        return entry
    name = slug(f"{p.role}-{p.start_method or ''}-{p.pid}".replace("--", "-"))
    target = directory / f"{name}.bin"
    (directory / capture["file"]).rename(target)
    entry["capture"] = target.name
    try:
        entry.update(capture_stats(target))
        if render:
            entry["page"] = render_flamegraph(target, f"{title}: {p.label} (pid {p.pid}) - "
                                                      "memray flamegraph").name
    except Exception as exc:  # a capture cut short (killed) may not be readable
        entry["reason"] = f"capture unreadable: {exc}"
    return entry


def scenario(name: str, argv: Sequence[str], status: str, failed: bool, figures: TreeFigures,
             directory: Path, *, native: bool, python_allocators: bool,
             render: bool = True) -> dict[str, Any]:
    """``scenario.json`` of a command (or a benchmark's call): every process, the main one
    first."""
    ordered = sorted(figures.processes, key=lambda p: (p.role != probe.MAIN, p.pid))
    entries = [process_entry(p, directory, name, render) for p in ordered]
    return {"version": SCENARIO_FORMAT, "kind": "command", "name": name, "command": list(argv),
            "status": status, "failed": failed, "kernel": "",
            "executor": "command", "start_method": None, "size": 0,
            "workers": len(figures.workers), "corpus": "", "count": None,
            "native_traces": native, "python_allocators": python_allocators,
            "pickled_messages": figures.messages_to_workers, "suite": None,
            "tree_peak_bytes": figures.peak_tree_bytes, "processes": entries,
            "uncaptured_workers": [e["pid"] for e in entries
                                   if e["reason"] and e["role"] == "worker"]}


def capture_command(argv: Sequence[str], output: Path, *, timeout: float | None = None,
                    native: bool = False, python_allocators: bool = True,
                    name: str | None = None, pages: bool = True) -> int:
    """Capture, draw and index; the exit status (1 when the command failed or timed out).
    ``pages``: draw each flamegraph (else the raw captures, their figures and the index)."""
    check_command(argv)
    become_subreaper()
    directory = (output / slug(name or short_name(argv))).resolve()
    name = name or default_name(argv)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    env = dict(os.environ, **{MEMRAY_ENV: memray_setting(native, python_allocators)})
    sampler = SamplerProcess()
    try:
        with TreeSampler(os.getpid(), process=sampler):  # its start-up paid before the run
            pass
        outcome = measured_run(argv, timeout, sampler, env=env, directory=directory, keep=True)
    except KeyboardInterrupt as exc:
        shutil.rmtree(directory, ignore_errors=True)
        exc.args = (f"{' '.join(map(str, exc.args))} during the captured run; its tree stopped, "
                    f"nothing written".strip(),)
        raise
    finally:
        sampler.close()
    data = scenario(name, argv, outcome.describe(), not outcome.ok,
                    outcome.figures or TreeFigures(), directory, native=native,
                    python_allocators=python_allocators, render=pages)
    write_scenario(directory, data)
    index = write_index(output)
    print("\n".join(summary_lines(data, outcome)) + f"\nopen {index}", flush=True)
    return 0 if outcome.ok else 1


def write_scenario(directory: Path, data: dict[str, Any]) -> None:
    """``scenario.json`` (written last, whole: its presence means the capture finished), and
    the probe's own files gone."""
    for leftover in (*directory.glob("proc-*.json"), *directory.glob("resources-*.log")):
        leftover.unlink()
    atomic_write(directory / "scenario.json", (json.dumps(data, indent=1) + "\n").encode())


def summary_lines(data: dict[str, Any], outcome: Outcome) -> list[str]:
    """A line per process: its page, or why it has none."""
    lines = [f"{data['name']}: {data['status']}", *outcome.notes]
    for p in data["processes"]:
        if p["reason"]:
            what = f"no capture: {p['reason']}"
        else:
            what = (f"heap peak {format_bytes(p['heap_peak_bytes'])}, received "
                    f"{format_bytes(p['received_bytes'])}: {p['page'] or p['capture']}")
        lines.append(f"  {p['label']}: {what}")
    return lines

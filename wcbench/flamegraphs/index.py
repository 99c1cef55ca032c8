"""The flamegraph index: every scenario's processes and figures, as ``index.html`` for a reader
and ``index.json`` for scripts and the report, each scenario with a sentence computed from its
figures that says what was copied, mapped and allocated."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from wcbench import record
from wcbench.flamegraphs.capture import SCENARIO_FORMAT
from wcbench.units import format_bytes_spaced

#: Executors in the order the index lists them.
EXECUTOR_ORDER = ("serial", "threads", "interpreters", "interpreter-pool", "processes",
                  "process-pool", "shared-memory", "dask")
#: How each figure is read: the index's header and ``index.json``'s ``figures``.
FIGURES = {
    "heap_peak_bytes": "memray's peak of live heap allocations and mappings in that process "
                       "(bytes asked for, touched or not)",
    "private_growth_bytes": "growth of the process's private resident memory from the start of "
                            "its capture to its peak (VmHWM less pages shared with other "
                            "processes or in shared mappings; read from /proc at the end of "
                            "its task, memray's own bookkeeping included)",
    "shared_bytes": "resident bytes of its MAP_SHARED data mappings (a shared-memory block, a "
                    "mapped file), with shared_mapped_bytes their mapped size",
    "received_bytes": "bytes of the tasks it unpickled (payload and 64-byte envelope, as "
                      "copied_bytes counts them; 0 when inherited by fork); for the parent, "
                      "the results its workers pickled back",
    "sent_bytes": "bytes it pickled: the parent's tasks (copied_bytes), a worker's results",
}


def load_scenarios(root: Path) -> list[dict[str, Any]]:
    """Every ``<scenario>/scenario.json`` under ``root`` of this format, ordered like the matrix."""
    scenarios = []
    for path in sorted(root.glob("*/scenario.json")):
        data = json.loads(path.read_text())
        if data.get("version") == SCENARIO_FORMAT:
            data["directory"] = path.parent.name  # a command's is its name, made a file name
            scenarios.append(data)
    order = {name: i for i, name in enumerate(EXECUTOR_ORDER)}
    return sorted(scenarios, key=lambda s: (s.get("kind") == "command", s["size"], s["kernel"],
                                            order.get(s["executor"], 99), s["executor"],
                                            s["start_method"] or "", s["workers"], s["name"]))


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return format_bytes_spaced(low) if format_bytes_spaced(low) == format_bytes_spaced(high) else \
        f"{format_bytes_spaced(low)}-{format_bytes_spaced(high)}"


def _workers_story(workers: list[dict[str, Any]]) -> list[str]:
    """What the workers received, mapped and held, in a few clauses."""
    received = [w["received_bytes"] for w in workers]
    chunks = [w["chunk_bytes"] for w in workers if w["chunks"]]
    copies = all(w["received_bytes"] >= 0.9 * w["chunk_bytes"] for w in workers if w["chunks"])
    parts = []
    if chunks and copies and min(received) > 0 and all(len(w["chunks"]) < 2 for w in workers):
        parts.append(f"each worker unpickled its {_span(chunks)} chunk")
    elif chunks and copies and min(received) > 0:
        parts.append(f"{len(chunks)} worker(s) unpickled the chunks they counted "
                     f"({_span(chunks)} each)")
    elif max(received) > 0:
        parts.append(f"each worker unpickled {_span(received)}, no text")
    else:
        parts.append("the workers unpickled nothing (they inherited their tasks)")
    shared = [w for w in workers if w["shared_bytes"]]
    if shared:
        parts.append(f"each worker mapped the {_span([w['shared_mapped_bytes'] for w in shared])}"
                     f" block ({_span([w['shared_bytes'] for w in shared])} of it resident), "
                     "shared" + ("; no private copy" if not copies else ""))
    return parts


def command_story(scenario: dict[str, Any]) -> str:
    """A command's sentence: its status, what its main process pickled, what each worker
    received, the heap peaks, and what has no capture."""
    processes = scenario["processes"]
    parts = [f"{scenario['status']}"]
    main = next((p for p in processes if p["role"] == "parent"), None)
    workers = [p for p in processes if p["role"] == "worker" and not p.get("reason")]
    if main is not None:
        parts.append(f"the main process pickled {format_bytes_spaced(main['sent_bytes'])}"
                     + (f" in {scenario['pickled_messages']} pickles" if main["sent_bytes"]
                        else " (nothing)"))
    if workers:
        parts.append(f"{len(workers)} worker(s) each unpickled "
                     f"{_span([w['received_bytes'] for w in workers])} and reached a heap peak "
                     f"of {_span([w['heap_peak_bytes'] for w in workers])}")
    missing = [p for p in processes if p.get("reason")]
    if missing:
        parts.append(f"{len(missing)} process(es) without a flamegraph (reasons below)")
    return f"{scenario['name']}: " + "; ".join(parts) + "."


def story(scenario: dict[str, Any]) -> str:
    """One sentence from the figures: what crossed by pickle, what was mapped, what grew."""
    if scenario.get("kind") == "command":
        return command_story(scenario)
    parent, *workers = scenario["processes"]
    name = scenario["executor"] + (f" ({scenario['start_method']})"
                                   if scenario["start_method"] else "")
    growth = f"private growth: parent {format_bytes_spaced(parent['private_growth_bytes'])}"
    if not workers:
        if scenario.get("uncaptured_workers"):
            return f"{name}: workers not captured; {growth}."
        if scenario["executor"] in ("interpreters", "interpreter-pool"):
            made = ("the interpreters' start-up and " if scenario["executor"] == "interpreters"
                    else "the pool's interpreters were made before, at warm-up; ")
            return (f"{name}: no worker process, nothing pickled; each subinterpreter, a thread "
                    "of the parent, reads its chunk in place, and its allocations are in the "
                    f"parent's capture, under its thread, with C frames only; {growth} ({made}"
                    "the kernel's working memory, and memray's bookkeeping).")
        return (f"{name}: no worker process, nothing pickled; the text is counted in place; "
                f"{growth} (the kernel's working memory, and memray's bookkeeping).")
    sent = parent["sent_bytes"]
    head = "the parent pickled nothing (fork)"
    if sent:
        head = (f"the parent pickled {format_bytes_spaced(sent)} in "
                f"{scenario['pickled_messages']} tasks")
    busy = [w for w in workers if w["chunks"]] or workers
    growth += f", workers {_span([w['private_growth_bytes'] for w in busy])}"
    return f"{name}: {'; '.join([head, *_workers_story(busy)])}; {growth}."


def reconciliation(scenarios: list[dict[str, Any]]) -> str | None:
    """memray's heap peak against the benchmark suite's resident-memory figure, on one real case
    of the index (the numpy kernel in one thread when there is one): what each counts."""
    serial = [s for s in scenarios if s["executor"] == "serial" and s.get("suite")]
    case = next((s for s in serial if s["kernel"] == "numpy"), serial[0] if serial else None)
    if case is None:
        return None
    parent = case["processes"][0]
    largest = parent.get("largest_at_peak") or {}
    site = f" (the largest, {format_bytes_spaced(largest['size'])}, in {largest['stack'][0][0]})" \
        if largest.get("stack") else ""
    numpy = (" The numpy kernel maps five block-sized buffers and writes three of them on ASCII "
             "text: memray counts five, resident memory three." if case["kernel"] == "numpy"
             else "")
    heap = format_bytes_spaced(parent["heap_peak_bytes"])
    suite = format_bytes_spaced(case["suite"][record.PEAK_PARENT_BYTES])
    return (
        f"On {case['name']}, memray's heap peak for the parent is {heap}: every byte asked of an "
        "allocator or mapped and live at the peak, whether or not a page of it was ever written"
        f"{site}. The benchmark suite's peak_parent_bytes for the same call, made again without "
        f"memray, is {suite}: growth of resident pages (VmHWM after the call less RSS before, "
        f"freed heap returned first).{numpy} Resident memory also counts what an allocator holds "
        "around objects (pymalloc pools, glibc chunks) and misses memory reused from earlier "
        "frees; memray counts a shared block in full in every process that maps it, touched or "
        "not. Read memray for where memory is asked for, the suite for what the machine spends.")


def _cell(text: str, cls: str = "num") -> str:
    return f'<td class="{cls}">{text}</td>'


def _bytes_cell(n: int) -> str:
    return _cell(format_bytes_spaced(n))


def _largest(entry: dict[str, Any]) -> str:
    top = entry.get("largest_at_peak")
    if not top:
        return ""
    frames = " &larr; ".join(f"<code>{html.escape(fn)}</code> ({html.escape(file)}:{line})"
                             for fn, file, line in top["stack"])
    return f"{format_bytes_spaced(top['size'])} in {frames}"


def _shared(entry: dict[str, Any]) -> str:
    if not entry["shared_mappings"]:
        return "none"
    paths = ", ".join(html.escape(m["path"]) for m in entry["shared_mappings"])
    return (f'<span title="{paths}">{format_bytes_spaced(entry["shared_bytes"])} of '
            f'{format_bytes_spaced(entry["shared_mapped_bytes"])}</span>')


def _suite(s: dict[str, Any]) -> str:
    f = s.get("suite")
    if not f:
        return ""
    tree, parent, workers, copied = (format_bytes_spaced(f[k]) for k in (
        record.PEAK_TREE_BYTES, record.PEAK_PARENT_BYTES, record.PEAK_WORKERS_BYTES,
        record.COPIED_BYTES))
    return (f"<br>benchmark suite, same call without memray: tree peak {tree}, parent {parent}, "
            f"workers {workers}, copied {copied}")


def _head(s: dict[str, Any]) -> str:
    """What a scenario's first cell says under its name: the words counted, or the command."""
    if s.get("kind") == "command":
        return (f'<code>{html.escape(" ".join(s["command"]))}</code><br>'
                f'tree peak {format_bytes_spaced(s.get("tree_peak_bytes"))} (PSS, sampled)')
    return f'{s["count"]:,} words, {html.escape(s["corpus"])} corpus'


def _row(s: dict[str, Any], i: int, p: dict[str, Any]) -> str:
    base = f"{s.get('directory', s['name'])}/"
    label = html.escape(p["label"])
    page = f'<a href="{html.escape(base + p["page"])}">{label}</a>' if p.get("page") else label
    if p.get("reason"):
        page += f'<br><i>{html.escape(p["reason"])}</i>'
    head = ""
    if i == 0:
        head = (f'<td rowspan="{len(s["processes"])}"><b>{html.escape(s["name"])}</b><br>'
                f'{_head(s)}<br><i>{html.escape(s["story"])}</i>{_suite(s)}</td>')
    times = f"{p['heap_peak_bytes'] / p['chunk_bytes']:.1f}&times;" if p["chunk_bytes"] else ""
    return (f'<tr class="{p["role"]}">{head}<td>{page}</td>{_cell(str(p["pid"]))}'
            f'<td>{", ".join(map(str, p["chunks"])) or "none"}</td>'
            f'{_bytes_cell(p["chunk_bytes"])}{_bytes_cell(p["heap_peak_bytes"])}{_cell(times)}'
            f'{_bytes_cell(p["private_growth_bytes"])}{_cell(_shared(p))}'
            f'{_bytes_cell(p["received_bytes"])}{_bytes_cell(p["sent_bytes"])}'
            f'{_bytes_cell(p["total_allocated_bytes"])}<td>{_largest(p)}</td>'
            f'<td>{_capture_link(base, p.get("capture"))}</td></tr>')


def _capture_link(base: str, capture: str | None) -> str:
    if not capture:
        return "none"
    return f'<a href="{html.escape(base + capture)}">{html.escape(capture)}</a>'



_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; vertical-align: top; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.num { text-align: right; white-space: nowrap; }
tr.parent td { border-top: 2px solid #888; }
code { font-size: 0.95em; }
dt { font-weight: bold; }
"""


def _with_stories(root: Path) -> list[dict[str, Any]]:
    scenarios = load_scenarios(root)
    for s in scenarios:
        s["story"] = story(s)
    return scenarios


def write_index(root: Path) -> Path:
    """``root/index.html`` (self-contained: no scripts, no web) and ``root/index.json``."""
    scenarios = _with_stories(root)
    write_index_json(root, scenarios)
    rows = [_row(s, i, p) for s in scenarios for i, p in enumerate(s["processes"])]
    figures = "".join(f"<dt>{k.removesuffix('_bytes').replace('_', ' ')}</dt>"
                      f"<dd>{html.escape(v)}</dd>" for k, v in FIGURES.items())
    note = reconciliation(scenarios)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>wordcount-bench memory flamegraphs</title>
<style>{_STYLE}</style></head><body>
<h1>Memory flamegraphs: the parent and every worker</h1>
<p>Each scenario was counted once under memray (never timed). Follow a process's name to its
flamegraph of the allocations live at its peak; the raw capture beside it works with
<code>memray summary</code>, <code>memray stats</code> and <code>memray table</code>. Chunk bytes
are what that process was given to count. "Largest at peak" is the biggest allocation site live at
the peak, innermost frame first. The same figures are in <code>index.json</code>. The README's
"Flamegraphs" section says what to look for.</p>
<dl>{figures}</dl>
{f"<p><b>memray against the benchmark suite.</b> {html.escape(note)}</p>" if note else ""}
<table><thead><tr><th>scenario</th><th>process</th><th>pid</th><th>chunks</th>
<th>chunk bytes</th><th>heap peak</th><th>heap &divide; chunk</th><th>private growth</th>
<th>shared mappings (resident of mapped)</th><th>received</th><th>sent</th>
<th>total allocated</th><th>largest at peak</th><th>raw capture</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
    path = root / "index.html"
    path.write_text(page)
    return path


#: Per-process keys of ``index.json``.
PROCESS_KEYS = ("role", "label", "pid", "chunks", "chunk_bytes", "heap_peak_bytes",
                "private_start_bytes", "peak_private_bytes", "private_growth_bytes",
                "shared_bytes", "shared_mapped_bytes", "shared_mappings", "received_bytes",
                "sent_bytes", "total_allocated_bytes", "allocations", "page", "capture", "reason")


def write_index_json(root: Path, scenarios: list[dict[str, Any]] | None = None) -> Path:
    """``root/index.json``: every scenario's sentence and every process's figures, flat."""
    scenarios = _with_stories(root) if scenarios is None else scenarios
    keys = ("name", "kind", "command", "status", "directory", "kernel", "executor",
            "start_method", "size", "workers", "corpus", "count", "story", "suite",
            "uncaptured_workers", "tree_peak_bytes")
    data = {
        "version": SCENARIO_FORMAT,
        "figures": FIGURES,
        "reconciliation": reconciliation(scenarios),
        "scenarios": [{k: s.get(k) for k in keys} for s in scenarios],
        "processes": [{"scenario": s["name"], **{k: p.get(k) for k in PROCESS_KEYS}}
                      for s in scenarios for p in s["processes"]],
    }
    path = root / "index.json"
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path

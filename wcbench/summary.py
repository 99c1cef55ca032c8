"""The few lines a benchmark run ends with: per size, the fastest strategy and the leanest one.

Works on benchmarks as pytest-benchmark saves them (dicts with ``name``, ``group``,
``stats.median`` and ``extra_info``), so the same lines come from a live run (root
``conftest.py``) or from a saved file: ``python -m wcbench.summary results/<machine>/0001_*.json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence

from wcbench.units import format_bytes, format_time


def _rate(nbytes: float, seconds: float) -> str:
    return f"{nbytes / seconds / 1e9:.3g} GB/s" if seconds > 0 else "inf GB/s"


def _strategy(bench: dict) -> str:
    info = bench["extra_info"]
    parts = [info["kernel"], info["executor"]]
    if info.get("start_method"):
        parts.append(info["start_method"])
    return "-".join(parts) + f" w{info['workers']}"


def summary_lines(benchmarks: Iterable[dict], skipped: Sequence[dict] = ()) -> list[str]:
    """Per text size: fastest strategy (median time, throughput) and smallest memory peak.

    The memory peak compared is ``peak_tree_bytes`` (parent and workers together, copy-on-write
    pages once); the memory-read benchmark of the same size gives the physical limit.
    """
    by_size: dict[int, list[dict]] = {}
    reads: dict[int, dict] = {}
    for bench in benchmarks:
        info = bench.get("extra_info") or {}
        if "text_bytes" not in info:
            continue
        if info.get("kind") == "memory-read":
            reads[info["text_bytes"]] = bench
        elif info.get("kind") == "wordcount":
            by_size.setdefault(info["text_bytes"], []).append(bench)
    lines = []
    for size in sorted(by_size):
        cases = by_size[size]
        fastest = min(cases, key=lambda b: b["stats"]["median"])
        leanest = min(cases, key=lambda b: (b["extra_info"]["peak_tree_bytes"],
                                            b["stats"]["median"]))
        fmed = fastest["stats"]["median"]
        line = (f"{format_bytes(size)} ({len(cases)} cases): fastest {_strategy(fastest)} "
                f"{format_time(fmed)} ({_rate(size, fmed)}")
        if size in reads:
            line += f"; reading memory: {_rate(size, reads[size]['stats']['median'])}"
        li = leanest["extra_info"]
        line += (f"); smallest peak {_strategy(leanest)} {format_bytes(li['peak_tree_bytes'])} "
                 f"tree, {format_bytes(li['copied_bytes'])} copied, "
                 f"{format_time(leanest['stats']['median'])}")
        lines.append(line)
    if skipped:
        lines.append(f"skipped by the memory estimate ({len(skipped)}, reasons above and in the "
                     f"saved run): {', '.join(s['name'] for s in skipped)}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary of each saved run given on the command line."""
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m wcbench.summary SAVED_RUN.json ...", file=sys.stderr)
        return 2
    for path in paths:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            print(f"summary: cannot read {path}: {exc}", file=sys.stderr)
            return 2
        print(path)
        for line in summary_lines(data.get("benchmarks", []), data.get("wordcount_skipped", [])):
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""bench/tree_figures.py, the check docs/benchmark-suite.md names for the tree sampler, runs and
gives a figure for every case, the thread's beside the process's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_tree_figures_runs_every_case_with_both_samplers() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "tree_figures.py"), "--calls",
                           "1", "--mib", "1", "--beside-thread"], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines()
            if line.startswith("| ") and "MiB-w2" in line]
    assert len(rows) == 10
    for name, tree, workers, thread in rows:
        assert float(tree.split()[0]) > 0, name
        assert float(thread.split()[0]) > 0, name
        assert workers.strip().endswith("MiB"), name

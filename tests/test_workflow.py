"""``.github/workflows/benchmarks.yml`` works: its ``run:`` commands, run as GitHub runs them.

Each test clones this repository's HEAD into a scratch folder, names HEAD ``origin/pr-base``
there (the base branch a pull request's checkout has), points ``GITHUB_STEP_SUMMARY``,
``GITHUB_OUTPUT`` and ``GITHUB_BASE_REF`` at temporary files and that branch, and runs every
step's ``run:`` with ``bash --noprofile --norc -eo pipefail`` (GitHub's shell for ``run:``), with
the job's ``env``. Two things differ from a runner, said here: the setup step (``make install``,
minutes of pip) is replaced by this test's own environment (the clone's ``.venv`` links to the
virtual environment running the tests, whichever interpreter's),
and the recipe's own knobs make it cheap: ``AB_BUDGET=1`` (the minimum of six instances still
runs) and ``AB_CASES`` naming one case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_ab import WRONG_COUNT

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / ".github" / "workflows" / "benchmarks.yml"
#: One in-process case whose calls take about 10 ms (shorter ones flip between time slices).
ONE_CASE = "--kernels numpy --executors serial --sizes 32MiB --workers 1"


def recipe() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(RECIPE.read_text())


def job() -> dict:
    (only,) = recipe()["jobs"].values()
    return only


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
    subprocess.run(["git", "update-ref", "refs/remotes/origin/pr-base", "HEAD"], cwd=repo,
                   check=True)
    # The environment running these tests, whichever interpreter's (``.venv-python3.14`` ...).
    (repo / ".venv").symlink_to(sys.prefix)
    return repo


def run_steps(repo: Path, tmp_path: Path, base_ref: str = "pr-base") -> list[
        subprocess.CompletedProcess]:
    """Every step's ``run:`` but the setup step's, in order, stopping at the first failure."""
    env = {**os.environ, **{k: str(v) for k, v in job()["env"].items()},
           "AB_BUDGET": "1", "AB_CASES": ONE_CASE, "GITHUB_BASE_REF": base_ref,
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
           "GITHUB_OUTPUT": str(tmp_path / "output.txt")}
    done = []
    for step in job()["steps"]:
        if "run" not in step or step.get("id") == "setup":
            continue
        script = tmp_path / "step.sh"
        script.write_text(step["run"])
        done.append(subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail",
                                    str(script)], cwd=repo, env=env, capture_output=True,
                                   text=True, timeout=300))
        if done[-1].returncode:
            break
    return done


def test_the_recipe_runs_on_pull_requests_with_the_steps_it_needs() -> None:
    doc = recipe()
    assert "pull_request" in doc.get("on", doc.get(True))  # YAML 1.1 reads `on` as true
    steps = job()["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    assert uses[:2] == ["actions/checkout", "actions/setup-python"]
    assert steps[0]["with"]["fetch-depth"] == 0  # origin/<base branch> must be there
    upload = steps[uses.index("actions/upload-artifact")]
    assert upload["if"] == "always()"
    assert upload["with"]["path"].rstrip("/") == job()["env"]["BENCH_OUT"]


def test_a_pull_request_like_its_base_passes_with_summary_and_exports(clone: Path,
                                                                      tmp_path: Path) -> None:
    done = run_steps(clone, tmp_path)
    assert [p.returncode for p in done] == [0], done[-1].stdout + done[-1].stderr
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("# A/B comparison: NEW against BASE")
    assert "numpy-serial-32MiB-w1" in summary
    out = clone / job()["env"]["BENCH_OUT"]
    (saved,) = (out / "ab").glob("*.json")
    assert json.loads(saved.read_text())["regression"] is False
    bmf = json.loads((out / "ab-bmf.json").read_text())
    assert set(bmf) == {"numpy-serial-32MiB-w1"} and "time-ratio" in bmf["numpy-serial-32MiB-w1"]
    action = json.loads((out / "ab-github-action-benchmark.json").read_text())
    assert {e["unit"] for e in action} == {"x", "ns", "bytes"}


def test_a_regression_fails_the_job(clone: Path, tmp_path: Path) -> None:
    """NEW (the pull request's tree) miscounts by one word: the A/B's quickest regression."""
    kernel = clone / "wordcount" / "kernels" / "numpy_kernel.py"
    kernel.write_text(kernel.read_text() + WRONG_COUNT)
    done = run_steps(clone, tmp_path)
    assert done[-1].returncode == 1, done[-1].stdout + done[-1].stderr
    assert "::error title=Benchmark regression::" in done[-1].stdout
    assert "**regression**" in (tmp_path / "summary.md").read_text()


def test_could_not_run_is_reported_not_failed(clone: Path, tmp_path: Path) -> None:
    done = run_steps(clone, tmp_path, base_ref="no-such-branch")
    assert [p.returncode for p in done] == [0], done[-1].stdout + done[-1].stderr
    assert "origin/no-such-branch" in done[-1].stderr  # wcbench ab's one line
    assert "::warning title=Benchmarks could not run::wcbench ab exited with status 2" \
        in done[-1].stdout
    assert (tmp_path / "summary.md").read_text().startswith("## Benchmarks could not run")

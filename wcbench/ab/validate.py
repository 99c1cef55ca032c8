"""``wcbench ab-validate``: how often ``make ab`` gets it right, on this machine, under its load.

In a temporary clone of this repository it commits two known slowdowns and runs ``make ab``'s
harness (``wcbench ab``) again and again:

- ``aa``: HEAD against itself, the default cases: any ``slower`` is a false alarm;
- ``numpy15``: a commit whose numpy kernel counts the first part of its span a second time (the
  count thrown away), that part calibrated first, in one process, until the kernel alone takes
  15% longer (within 1%): the in-process cases;
- ``start30``: a commit whose worker processes spin, before their task, 30% of the median time
  BASE took for that case in the ``aa`` runs: the process-start cases (``numpy-processes-*``).

Other sizes (``numpy12``, ``start20``) measure the smallest slowdown it calls.

With ``measure="instructions"`` (``--measure instructions``) every run is ``wcbench ab
--measure instructions``, the default scenarios are ``aa`` and ``numpy2`` (the numpy kernel
doing 2% more work, calibrated by its instructions under callgrind, within 0.1 point), and
worker-start scenarios are refused (instruction counts refuse process cases).

Each run's JSON is kept; ``summary.json`` and the printed table give, per scenario and case, the
verdicts, the median ratio, rounds and run times, with the load average the runs saw.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from wcbench import corpus
from wcbench.ab.instructions import Callgrind, find_valgrind
from wcbench.ab.result import INSTRUCTIONS, MEASURES, TIME, CaseResult, load_ab
from wcbench.ab.sides import ROOT
from wcbench.ab.stats import RatioInterval, count_interval, ratio_interval
from wcbench.stopping import Stopped, run_child
from wcbench.storage import atomic_write

NUMPY_SLOWDOWN = '''

_ab_fast_count_numpy = count_numpy
_AB_FRACTION = {fraction!r}


def count_numpy(data, start=0, end=None, **options):
    """The kernel, which now also counts the first {percent} of its span a second time."""
    words = _ab_fast_count_numpy(data, start, end, **options)
    lo, hi, _ = slice(start, end).indices(len(data))
    stop = lo + int((hi - lo) * _AB_FRACTION)
    if not isinstance(data, str):
        octets = memoryview(data).cast("B")
        while lo < stop < len(octets) and octets[stop] & 0xC0 == 0x80:  # not in a character
            stop -= 1
    _ab_fast_count_numpy(data, lo, stop, **options)
    return words
'''
#: The numpy slowdown asked for, and how closely its calibration must reach it (fraction).
NUMPY_TARGET, NUMPY_TOLERANCE = 0.15, 0.01
#: By instructions, which repeat to within hundredths of a percent: how closely, and how many
#: counted calls of each kernel (after as many uncounted ones as ``wcbench ab`` makes).
INSTRUCTIONS_TOLERANCE, INSTRUCTIONS_CALLS = 0.001, 3
#: The scenarios run when none are named, per measure.
DEFAULT_SCENARIOS = {TIME: "aa,numpy15,start30", INSTRUCTIONS: "aa,numpy2"}
#: Calibration: alternating timed calls of each kernel, on the ``numpy15`` cases' 32 MiB text.
CALIBRATION_PAIRS, CALIBRATION_SIZE = 101, 32 << 20

START_SLOWDOWN = '''

import multiprocessing.process as _ab_process
import time as _ab_time

_AB_DELAY = {delays!r}  # seconds, by Process class (start method)
_ab_bootstrap = _ab_process.BaseProcess._bootstrap


def _ab_slow_bootstrap(self, *args, **kwargs):
    """Every worker process spins before its task: a slower worker start."""
    until = _ab_time.perf_counter() + _AB_DELAY.get(type(self).__name__, 0.0)
    while _ab_time.perf_counter() < until:
        pass
    return _ab_bootstrap(self, *args, **kwargs)


_ab_process.BaseProcess._bootstrap = _ab_slow_bootstrap
'''

#: A scenario's kind: ``aa``, ``numpy<percent>`` or ``start<percent>`` (``numpy15``, ``start30``).
SCENARIO = re.compile(r"(aa)|(numpy|start)([1-9][0-9]?)")
#: Each kind's share of ``make ab``'s budget: the share its cases have in the default set.
SCENARIO_SHARE = {"aa": 1.0, "numpy": 2 / 5, "start": 3 / 5}
_PROCESS_CLASS = {"fork": "ForkProcess", "spawn": "SpawnProcess",
                  "forkserver": "ForkServerProcess"}
SCENARIO_CASES = {
    "aa": [],
    "numpy": ["--kernels", "numpy", "--executors", "serial,threads", "--sizes", "32MiB",
              "--workers", "2"],
    "start": ["--kernels", "numpy", "--executors", "processes", "--sizes", "1MiB",
              "--workers", "1"],
}


def parse_scenario(name: str) -> tuple[str, float]:
    """``("numpy", 0.15)`` for ``numpy15``; ``("aa", 0.0)``; ``ValueError`` otherwise."""
    match = SCENARIO.fullmatch(name)
    if match is None:
        raise ValueError(f"unknown scenario {name!r}: aa, numpy<percent> or start<percent> "
                         "(numpy15, start30)")
    if match[1]:
        return "aa", 0.0
    return match[2], int(match[3]) / 100


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def commit_change(repo: Path, base: str, branch: str, path: str, addition: str) -> str:
    """A commit on ``branch`` (from ``base``) that appends ``addition`` to ``path``."""
    _git(repo, "checkout", "--quiet", "-B", branch, base)
    with open(repo / path, "a") as f:
        f.write(addition)
    _git(repo, "commit", "--quiet", "-am", f"validation: {branch}")
    commit = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "--quiet", "--detach", base)
    return commit


def run_once(repo: Path, base: str, new: str, scenario: str, out: Path, budget: float,
             measure: str = TIME) -> dict:
    """One ``wcbench ab`` run; its exit status, duration and saved result."""
    folder = out / scenario
    kind, _ = parse_scenario(scenario)
    before = set(folder.glob("*.json")) if folder.exists() else set()
    started = time.monotonic()
    # stopped, the run in progress gets the signal too, and saves what it judged
    done = run_child([sys.executable, "-m", "wcbench", "ab", "--repo", str(repo), "--base",
                      base, "--new", new, "--budget", str(budget * SCENARIO_SHARE[kind]),
                      "--measure", measure, "--output-dir", str(folder),
                      *SCENARIO_CASES[kind]],
                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.monotonic() - started
    if done.returncode == 2:
        raise SystemExit(f"ab-validate: {scenario} could not run: {done.stderr.strip()}")
    (path,) = set(folder.glob("*.json")) - before
    print(f"{scenario}: exit {done.returncode} in {seconds:.0f}s: {done.stdout.splitlines()[-1]}",
          flush=True)
    return {"exit": done.returncode, "seconds": seconds, "file": str(path),
            "result": load_ab(path)}


def numpy_slowdown(fraction: float) -> str:
    """The source the ``numpy15`` commit appends to the numpy kernel's module."""
    return NUMPY_SLOWDOWN.format(fraction=round(fraction, 4), percent=f"{fraction:.1%}")


def slowed_kernel(fraction: float, kernel: Callable[..., int]) -> Callable[..., int]:
    """``kernel`` as the commit of ``numpy_slowdown(fraction)`` leaves it (its source, executed
    against ``kernel`` in place of the module's ``count_numpy``)."""
    space: dict = {"count_numpy": kernel}
    exec(numpy_slowdown(fraction), space)
    return space["count_numpy"]


def measure_numpy_slowdown(fraction: float, text: bytes, pairs: int = CALIBRATION_PAIRS
                           ) -> RatioInterval:
    """The slowdown ``numpy_slowdown(fraction)`` causes, timed here in one process, in isolation.

    The kernel as it is and the slowed one (this module's source, executed against it) count
    ``text`` in alternating order, ``pairs`` times each; the ratio of medians and its interval.
    """
    from wordcount.kernels import numpy_kernel

    fast = numpy_kernel.count_numpy
    slow = slowed_kernel(fraction, fast)
    if slow(text) != fast(text):
        raise AssertionError("the slowed kernel counts differently")
    times: dict = {fast: [], slow: []}
    for i in range(pairs):
        for kernel in (fast, slow) if i % 2 == 0 else (slow, fast):
            began = time.perf_counter()
            kernel(text)
            times[kernel].append(time.perf_counter() - began)
    return ratio_interval(times[fast], times[slow])


_COUNT_KERNELS = """
import json, sys
from wcbench.ab import validate, worker
from wordcount.kernels import numpy_kernel

out, path, fraction, calls, warmup = sys.argv[1], sys.argv[2], float(sys.argv[3]), *map(
    int, sys.argv[4:6])
callgrind = worker.load_callgrind()
text = open(path, "rb").read()
kernels = {"fast": numpy_kernel.count_numpy}
kernels["slow"] = validate.slowed_kernel(fraction, kernels["fast"])
counts = {"fast": [], "slow": []}
for name, kernel in kernels.items():
    for _ in range(warmup):
        kernel(text)
for i in range(calls):
    for name in ("fast", "slow") if i % 2 == 0 else ("slow", "fast"):
        counts[name].append(worker.count_alone(callgrind, out, kernels[name], text)[1])
print(json.dumps(counts))
"""


def measure_numpy_instructions(fraction: float, path: Path, callgrind: Callgrind,
                               calls: int = INSTRUCTIONS_CALLS) -> RatioInterval:
    """The extra instructions ``numpy_slowdown(fraction)`` costs, the kernel alone, counted in
    one process under callgrind as ``wcbench ab --measure instructions`` counts a call (after
    as many uncounted calls): the ratio of median counts and its range."""
    from wcbench.ab.instructions import WARMUP_CALLS, dump_folder

    with dump_folder() as out:
        done = subprocess.run(
            [*callgrind.prefix(out), sys.executable, "-c", _COUNT_KERNELS, str(out), str(path),
             repr(fraction), str(calls), str(WARMUP_CALLS)], cwd=ROOT, capture_output=True,
            text=True, env=dict(os.environ, PYTHONHASHSEED="0"), timeout=600)
    if done.returncode != 0:
        raise RuntimeError("counting the slowed numpy kernel's instructions failed: "
                           + (done.stderr.strip().splitlines() or ["?"])[-1])
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    return count_interval(counts["fast"], counts["slow"])


def calibrate_numpy_slowdown(text: bytes, target: float = NUMPY_TARGET,
                             tolerance: float = NUMPY_TOLERANCE, attempts: int = 6,
                             measure: Callable[[float, bytes], RatioInterval] | None = None
                             ) -> tuple[float, RatioInterval]:
    """The share of its span the kernel must count again to run ``1 + target`` times as long
    (``measure``: how a fraction's slowdown is measured, default :func:`measure_numpy_slowdown`
    on ``text``; by instructions, :func:`measure_numpy_instructions`).

    Starts from ``target`` (time linear in bytes) and corrects by the measured ratio until it is
    within ``tolerance``; ``RuntimeError`` if it never is (a machine too noisy to validate on).
    """
    fraction = target
    for _ in range(attempts):
        measured = (measure or measure_numpy_slowdown)(fraction, text)
        if abs(measured.ratio - 1 - target) <= tolerance:
            return fraction, measured
        fraction *= target / max(measured.ratio - 1, target / 4)
    raise RuntimeError(f"the numpy slowdown never came within {tolerance:.0%} of {target:.0%}: "
                       f"last x{measured.ratio:.3f} counting {fraction:.1%} again; is the machine "
                       "busy?")


def start_delays(aa_runs: list[dict], fraction: float) -> dict[str, float]:
    """``fraction`` of BASE's median time in the ``aa`` runs, per process start method."""
    medians: dict[str, list[float]] = {}
    for run in aa_runs:
        for case in run["result"].cases:
            if case.executor == "processes" and case.median:
                medians.setdefault(case.start_method, []).append(case.median.base)
    return {_PROCESS_CLASS[m]: round(fraction * statistics.median(v), 4)
            for m, v in medians.items()}


def judged(case: CaseResult) -> tuple[str, RatioInterval | None, float | None, int]:
    """A case's verdict, interval, threshold and rounds as its measure judged them: its
    instructions' (rounds: calls a side) where it was measured by instructions alone."""
    if case.instructions is not None and not case.timed:
        n = case.instructions
        return n.verdict, n.interval, n.threshold, len(n.calls.new)
    return case.verdict, case.interval, case.threshold, len(case.rounds)


def summarise(runs: dict[str, list[dict]]) -> dict:
    """Per scenario and case: verdict counts, ratios, rounds, the widest interval's ends; per
    scenario: run times, load. Instruction counts (cases measured by them alone) keep four
    decimals, times two or three.

    ``runs``: scenario -> its runs, each ``{"exit", "seconds", "result"}`` (an
    :class:`~wcbench.ab.result.AbResult`)."""
    summary: dict = {}
    for scenario, items in runs.items():
        cases: dict[str, dict] = {}
        for run in items:
            for c in run["result"].cases:
                verdict, interval, threshold, rounds = judged(c)
                entry = cases.setdefault(c.name, {
                    "verdicts": Counter(), "ratios": [], "rounds": [], "widths": [], "ends": [],
                    "threshold": threshold if threshold is not None else 0.10,
                    "digits": 4 if c.instructions is not None and not c.timed else 2})
                entry["verdicts"][verdict] += 1
                if interval:
                    entry["ratios"].append(interval.ratio)
                    entry["widths"].append(interval.high - interval.low)
                    entry["ends"] += [interval.low, interval.high]
                entry["rounds"].append(rounds)
        loads = [x for r in items for x in (r["result"].machine.loadavg_before[0],
                                              r["result"].machine.loadavg_after[0])]
        summary[scenario] = {
            "runs": len(items), "exits": dict(Counter(r["exit"] for r in items)),
            "seconds": [round(r["seconds"]) for r in items],
            "load": [min(loads), max(loads)] if loads else [],
            "cases": {name: {"verdicts": dict(e["verdicts"]),
                             "median_ratio": round(statistics.median(e["ratios"]),
                                                   e["digits"] + 1),
                             "median_width": round(statistics.median(e["widths"]),
                                                   e["digits"] + 1),
                             "widest": [round(min(e["ends"]), e["digits"] + 2),
                                        round(max(e["ends"]), e["digits"] + 2)]
                             if e["ends"] else None,
                             # the interval's low end must clear 1 + threshold
                             "threshold": e["threshold"],
                             "smallest_callable": round(1 + e["threshold"] + statistics.median(
                                 e["widths"]) / 2, e["digits"]),
                             "median_rounds": statistics.median(e["rounds"])}
                      for name, e in cases.items()},
        }
    return summary


def failed_checks(summary: dict) -> list[str]:
    """Runs that got it wrong: an A/A run that did not exit 0 (a false alarm, or it could not
    run), a run with a committed slowdown that did not exit 1 (the slowdown was missed)."""
    failed = []
    for scenario, s in summary.items():
        expected = 0 if scenario == "aa" else 1
        wrong = {status: n for status, n in s["exits"].items() if int(status) != expected}
        if wrong:
            failed.append(f"{scenario}: {sum(wrong.values())} of {s['runs']} run(s) exited "
                          f"{', '.join(map(str, sorted(wrong)))} where {expected} was expected")
    return failed


def format_summary(summary: dict) -> list[str]:
    lines = []
    for scenario, s in summary.items():
        lines.append(f"{scenario}: {s['runs']} run(s), exit statuses {s['exits']}, "
                     f"{min(s['seconds'])}-{max(s['seconds'])} s each, load average "
                     f"{s['load'][0]:.1f}-{s['load'][1]:.1f}")
        for name, c in s["cases"].items():
            verdicts = ", ".join(f"{n} {v}" for v, n in sorted(c["verdicts"].items()))
            lines.append(f"  {name}: {verdicts}; median ratio {c['median_ratio']}, interval "
                         f"width {c['median_width']}, widest "
                         + ("-".join(map(str, c["widest"])) if c["widest"] else "-")
                         + f" (threshold {c['threshold']:.1%}: smallest "
                         "slowdown it could call about "
                         f"x{c['smallest_callable']}), rounds {c['median_rounds']}")
    return lines


def validate(*, repeats: int = 10, scenarios: str | None = None,
             budget: float | None = None, output_dir: Path | None = None,
             summarise_dir: Path | None = None, measure: str = TIME) -> int:
    """Run each scenario ``repeats`` times in a temporary clone; print, save the summary.

    ``scenarios``: default :data:`DEFAULT_SCENARIOS` of ``measure`` (``time`` or
    ``instructions``); ``budget``: seconds of timing of each run (default: ``wcbench ab``'s);
    ``summarise_dir``: only summarise the runs saved under ``summarise_dir/<scenario>/``. The
    exit status: 1 when a check failed (:func:`failed_checks`).
    """
    if summarise_dir:
        saved = {d.name: [{"exit": 1 if r.regression else 0, "seconds": r.duration_seconds,
                           "result": r} for r in map(load_ab, sorted(d.glob("*.json")))]
                 for d in sorted(summarise_dir.iterdir()) if d.is_dir()}
        return _report(summarise({k: v for k, v in saved.items() if v}))
    from wcbench.ab.run import BUDGET_SECONDS

    if measure not in MEASURES:
        raise ValueError(f"--measure {measure!r}: {' or '.join(MEASURES)}")
    budget = budget or BUDGET_SECONDS
    names = [s for s in (scenarios or DEFAULT_SCENARIOS[measure]).split(",") if s]
    kinds = {s: parse_scenario(s) for s in names}
    callgrind = None
    if measure == INSTRUCTIONS:
        starts = [s for s, (kind, _) in kinds.items() if kind == "start"]
        if starts:
            raise ValueError(f"{', '.join(starts)}: worker starts are not counted by "
                             "instructions (wcbench ab --measure instructions refuses process "
                             "cases); validate them by time")
        callgrind = find_valgrind()  # exit 2 now when there is none
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = output_dir or ROOT / "results" / "ab" / f"validate-{stamp}"
    runs: dict[str, list[dict]] = {s: [] for s in names}
    state = {"measure": measure, "calibrations": {}, "start_delays": {}, "commit": "",
             "started": time.monotonic()}
    try:
        _run_scenarios(repeats, names, kinds, out, budget, runs, state, callgrind)
    except KeyboardInterrupt as exc:  # the summary of the runs that finished, marked so
        if any(runs.values()):
            path = _save_summary(out, stamp, budget, state, runs,
                                 incomplete="SIGINT" if not isinstance(exc, Stopped)
                                 else signal.Signals(exc.signum).name)
            exc.args = (f"{' '.join(map(str, exc.args))}; the summary of the "
                        f"{sum(map(len, runs.values()))} finished run(s) saved in "
                        f"{path}".strip(),)
        raise
    summary = _save_summary(out, stamp, budget, state, runs)
    print(f"saved {summary} ({time.monotonic() - state['started']:.0f}s in all)")
    return _report(summarise({k: v for k, v in runs.items() if v}))


def _save_summary(out: Path, stamp: str, budget: float, state: dict,
                  runs: dict[str, list[dict]], incomplete: str | None = None) -> Path:
    """``summary.json`` of the runs so far (``incomplete``: the signal that stopped them)."""
    summary = summarise({k: v for k, v in runs.items() if v})
    out.mkdir(parents=True, exist_ok=True)
    path = out / "summary.json"
    atomic_write(path, (json.dumps(
        {"created": stamp, "measure": state["measure"], "budget_seconds": budget,
         "commit": state["commit"], "cpu_count": os.cpu_count(),
         "duration_seconds": round(time.monotonic() - state["started"]),
         "calibrations": state["calibrations"], "start_delays": state["start_delays"],
         "summary": summary, **({"incomplete": {"reason": incomplete}} if incomplete else {})},
        indent=1) + "\n").encode())
    return path


def _calibrate(scenario: str, target: float, callgrind: Callgrind | None
               ) -> tuple[float, RatioInterval]:
    """The share of its span the ``numpy<N>`` commit's kernel counts again, calibrated by time
    in this process, or by instructions under ``callgrind``; said on stdout."""
    path = corpus.cached_path(CALIBRATION_SIZE)
    if callgrind is None:
        fraction, measured = calibrate_numpy_slowdown(path.read_bytes(), target)
        how = "alone, in one process, on 32 MiB"
    else:
        fraction, measured = calibrate_numpy_slowdown(
            b"", target, INSTRUCTIONS_TOLERANCE,
            measure=lambda f, _: measure_numpy_instructions(f, path, callgrind))
        how = "its instructions alone, under callgrind, on 32 MiB"
    print(f"{scenario}: the kernel counts {fraction:.1%} of its span again; {how}: "
          f"x{measured.ratio:.4f} [{measured.low:.4f}-{measured.high:.4f}] over "
          f"{measured.rounds} pairs", flush=True)
    return fraction, measured


def _run_scenarios(repeats: int, scenarios: list[str], kinds: dict, out: Path,
                   budget: float, runs: dict[str, list[dict]], state: dict,
                   callgrind: Callgrind | None) -> None:
    """Every scenario ``repeats`` times in a temporary clone (``state``: the base commit, the
    calibrations and start delays, filled in as they are known)."""
    measure = state["measure"]
    calibrations, delays = state["calibrations"], state["start_delays"]
    with tempfile.TemporaryDirectory(prefix="wcbench-ab-validate-") as tmp:
        repo = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
        base = state["commit"] = _git(repo, "rev-parse", "HEAD")
        _git(repo, "checkout", "--quiet", "--detach", base)
        news = {"aa": base}
        for scenario, (kind, target) in kinds.items():
            if kind != "numpy":
                continue
            fraction, measured = _calibrate(scenario, target, callgrind)
            calibrations[scenario] = {"counted_again": round(fraction, 4), **measured.as_dict()}
            news[scenario] = commit_change(repo, base, scenario,
                                           "wordcount/kernels/numpy_kernel.py",
                                           numpy_slowdown(fraction))
        aa_runs = runs.setdefault("aa", [])
        starts = {s: t for s, (k, t) in kinds.items() if k == "start"}
        if starts:  # their delays come from A/A runs: at least two first
            for _ in range(max(2, repeats if "aa" in scenarios else 0)):
                aa_runs.append(run_once(repo, base, base, "aa", out, budget, measure))
        for scenario, target in starts.items():
            delays[scenario] = start_delays(aa_runs, target)
            print(f"{scenario}: worker start delays {delays[scenario]}", flush=True)
            news[scenario] = commit_change(repo, base, scenario, "wordcount/__init__.py",
                                           START_SLOWDOWN.format(delays=delays[scenario]))
        for _ in range(repeats):
            for scenario in scenarios:
                if scenario != "aa" or not starts:
                    runs[scenario].append(run_once(repo, base, news[scenario], scenario, out,
                                                   budget, measure))


def _report(summary: dict) -> int:
    """Print the summary and any failed check; 1 when a check failed, else 0."""
    print("\n".join(format_summary(summary)))
    failed = failed_checks(summary)
    for line in failed:
        print(f"ab-validate: failed check: {line}", file=sys.stderr)
    return 1 if failed else 0


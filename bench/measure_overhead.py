"""What ``wcbench measure`` adds to a command's wall time: its timed runs against the command
run bare by ``subprocess.run``, alternated in one process (A B B A ...), and its untimed
measured run (probe in every Python process, the tree sampled every 2 ms) against the same.

    .venv/bin/python bench/measure_overhead.py [--rounds 15] -- COMMAND [ARGS...]

Prints the median of each and the ratios; docs/measure-your-code.md quotes its output.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from wcbench.measure.command import bare_run, become_subreaper, measured_run
from wcbench.sampler import SamplerProcess, TreeSampler


def plain(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    become_subreaper()
    sampler = SamplerProcess()
    with TreeSampler(0, process=sampler):  # its start-up paid before any timing
        pass
    times: dict[str, list[float]] = {"bare": [], "wcbench timed": [], "wcbench measured": []}
    plain(argv)  # warm the page cache
    for i in range(args.rounds):
        order = ["bare", "wcbench timed"] if i % 2 == 0 else ["wcbench timed", "bare"]
        for what in order:
            times[what].append(plain(argv) if what == "bare" else bare_run(argv, None).seconds)
        if i < 5:  # (its output is the command's own: shown)
            times["wcbench measured"].append(measured_run(argv, None, sampler).seconds)
    sampler.close()
    bare = statistics.median(times["bare"])
    for what, values in times.items():
        median = statistics.median(values)
        print(f"{what:17} median {median * 1000:8.1f} ms over {len(values):2} runs "
              f"({median / bare:.3f}x bare)")


if __name__ == "__main__":
    main()

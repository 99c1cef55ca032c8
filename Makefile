# Every target sets itself up on a fresh machine: `install` makes a virtual environment in the
# checkout (one per interpreter: PYTHON=python3.14t gets .venv-python3.14t) and installs the
# project editable with its dev and dask extras, compiling the native kernel's C extension and
# callgrind's client requests for `wcbench ab --measure instructions` (csrc/, setup.py; about 2 s
# with gcc; each skipped with a warning where it cannot build). --prefer-binary: on a free-threaded interpreter
# (3.13t) the newest numpy may lack a wheel, and pip would compile it from source for minutes.

PYTHON ?= python3
VENV ?= $(if $(filter python3,$(PYTHON)),.venv,.venv-$(notdir $(PYTHON)))
PY := $(VENV)/bin/python
WCBENCH := $(VENV)/bin/wcbench
STAMP := $(VENV)/.installed

.PHONY: install test lint bench bench-scale compare flamegraphs report ab ab-validate clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py $(wildcard csrc/*.c csrc/*.h)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --prefer-binary -e '.[dev,dask]'
	touch $@

# ruff first (cheap), then the test suite. The native kernel must have been built here (its tests
# fail rather than skip); `make test WORDCOUNT_REQUIRE_NATIVE=` lets them skip where it cannot be.
WORDCOUNT_REQUIRE_NATIVE ?= 1
test: install
	$(PY) -m ruff check .
	WORDCOUNT_REQUIRE_NATIVE=$(WORDCOUNT_REQUIRE_NATIVE) $(PY) -m pytest tests --durations=10

lint: install
	$(PY) -m ruff check .

# The benchmark matrix (bench/bench_wordcount.py), saved under results/<machine>/NNNN_*.json.
# The default matrix is quick (every kernel x executor x start method at 1 MiB and 32 MiB, 2
# workers: about 5 minutes with set-up); MATRIX=full adds 1 and 4 workers, MATRIX=scale runs
# 1 MiB to 8 GiB (wcbench/matrix.py). Variables (or --options of `pytest bench`) replace the
# matrix's lists: SIZES=1MiB,32MiB WORKERS=1,2,4 KERNELS=split,numpy EXECUTORS=...
# START_METHODS=fork,spawn,forkserver CORPUS=ascii|unicode CORPUS_FILE=path MEMORY_LIMIT=4GiB
# TIME_LIMIT=300 (seconds per case); BENCH=bench runs every benchmark file in bench/ (the
# kernel's too).
BENCH ?= bench/bench_wordcount.py
BENCH_TIMEOUT ?= 3600
bench_opt = $(if $($(1)),--$(2) '$($(1))')
bench: install
	$(PY) -m pytest $(BENCH) -p no:cacheprovider --timeout $(BENCH_TIMEOUT) \
		--benchmark-storage file://results --benchmark-autosave \
		$(call bench_opt,SIZES,sizes) $(call bench_opt,WORKERS,workers) \
		$(call bench_opt,KERNELS,kernels) $(call bench_opt,EXECUTORS,executors) \
		$(call bench_opt,START_METHODS,start-methods) $(call bench_opt,CORPUS,corpus) \
		$(call bench_opt,CORPUS_FILE,corpus-file) $(call bench_opt,MEMORY_LIMIT,memory-limit) \
		$(call bench_opt,MATRIX,matrix) $(call bench_opt,TIME_LIMIT,time-limit)

# The scale matrix (1 MiB to 8 GiB; what does not fit in memory or in TIME_LIMIT is skipped with its
# estimate), then its report, results/scale.md, with the section "How cost grows with the text".
# The variables of `bench` narrow it (SIZES=..., MEMORY_LIMIT=6GiB).
bench-scale: install
	$(MAKE) bench MATRIX=scale
	$(WCBENCH) report --results results --output results/scale.md

# The targets below are wcbench subcommands for people at a terminal. make reports any failure
# as status 2, a regression too: CI scripts call .venv/bin/wcbench, whose statuses tell a
# regression (1) from "cannot run" (2).

# Median time and memory figures of the two latest saved runs (BASE= and NEW= pick others: a file,
# a run number or part of a name); fails when one grows past TIME_TOLERANCE / MEMORY_TOLERANCE
# (and past TIME_FLOOR / MEMORY_FLOOR); defaults in wcbench/compare/runs.py, justified in docs/comparing-runs.md.
compare: install
	$(WCBENCH) compare --storage results $(call bench_opt,BASE,base) \
		$(call bench_opt,NEW,new) $(call bench_opt,TIME_TOLERANCE,time-tolerance) \
		$(call bench_opt,MEMORY_TOLERANCE,memory-tolerance) \
		$(call bench_opt,TIME_FLOOR,time-floor) $(call bench_opt,MEMORY_FLOOR,memory-floor) \
		$(call bench_opt,COPIED_TOLERANCE,copied-tolerance) \
		$(call bench_opt,EXACT_TOLERANCE,exact-tolerance)

# results/report.md with plots in results/report/: the latest saved run, or NEW (default: latest)
# against BASE side by side with ratios. A run is a saved file's path or its NNNN number.
report: install
	$(WCBENCH) report --results results $(if $(BASE),--base '$(BASE)') $(if $(NEW),--new '$(NEW)') \
		$(if $(AB),--ab '$(AB)')

# results/flamegraphs/index.html and index.json (the one file of it kept in git): each scenario
# run once under memray (never timed), capturing the parent and every worker. Matrix variables set on the command line or in the environment (SIZES,
# WORKERS, KERNELS, EXECUTORS, START_METHODS, CORPUS, CORPUS_FILE) choose the scenarios; else a small
# matrix (1MiB, 2 workers, all kernels, executors but dask, start methods) runs, in 1-2 minutes.
flame_opt = $(if $(filter command environment,$(origin $(1))),--$(2) '$($(1))')
flamegraphs: install
	$(WCBENCH) flamegraphs $(call flame_opt,SIZES,sizes) $(call flame_opt,WORKERS,workers) \
		$(call flame_opt,KERNELS,kernels) $(call flame_opt,EXECUTORS,executors) \
		$(call flame_opt,START_METHODS,start-methods) $(call flame_opt,CORPUS,corpus) \
		$(call flame_opt,CORPUS_FILE,corpus-file)

# Old and new code timed side by side in one session, round by round (A B B A), each case judged
# by a 95% interval of the NEW/BASE ratio of median times: BASE=<git rev> (default HEAD) against
# NEW=<git rev> (default: the working tree, uncommitted changes included); PYTHON_BASE= and
# PYTHON_NEW= compare interpreters (each needs numpy). Matrix variables choose the cases, else a
# small default set. THRESHOLD=10% AB_BUDGET=<seconds of timing>. MEASURE=instructions counts each
# side's calls in valgrind's callgrind instead (MEASURE=time,instructions: both). Saved under
# results/ab/; exit status 0 no regression, 1 regression, 2 cannot run.
ab_opt = $(if $(filter command environment,$(origin $(1))),--$(2) '$($(1))')
ab: install
	$(WCBENCH) ab $(call ab_opt,BASE,base) $(call ab_opt,NEW,new) \
		$(call ab_opt,PYTHON_BASE,python-base) $(call ab_opt,PYTHON_NEW,python-new) \
		$(call ab_opt,THRESHOLD,threshold) $(call ab_opt,AB_BUDGET,budget) \
		$(call ab_opt,SIZES,sizes) $(call ab_opt,WORKERS,workers) \
		$(call ab_opt,KERNELS,kernels) $(call ab_opt,EXECUTORS,executors) \
		$(call ab_opt,START_METHODS,start-methods) $(call ab_opt,CORPUS,corpus) \
		$(call ab_opt,CORPUS_FILE,corpus-file) $(call ab_opt,MEASURE,measure)

# How often make ab gets it right here: A/A runs, a numpy kernel 15% slower and worker starts 30%
# slower, committed in a temporary clone, AB_REPEATS times each (default 10; about 25 minutes in
# all on a quiet machine); AB_SCENARIOS=numpy30,start20 other sizes (README); MEASURE=instructions
# the same by instruction counts (A/A and a numpy kernel 2% slower; a few minutes); summary in
# results/ab/validate-<time>/summary.json.
ab-validate: install
	$(WCBENCH) ab-validate $(call ab_opt,AB_REPEATS,repeats) $(call ab_opt,AB_BUDGET,budget) \
		$(call ab_opt,AB_SCENARIOS,scenarios) $(call ab_opt,MEASURE,measure)

clean:
	rm -rf .venv .venv-* .pytest_cache .hypothesis .ruff_cache *.egg-info build \
		wordcount/kernels/_native.*.so

"""Comparing saved runs (``wcbench compare``): median times and every memory figure of two runs.

:mod:`~wcbench.compare.runs` matches the benchmarks of two saved runs and judges each figure
against its tolerance; the saved-run model it reads is :mod:`wcbench.results`.
"""

"""Flamegraphs (``wcbench flamegraphs``): each scenario counted once under memray, every process.

:mod:`~wcbench.flamegraphs.run` runs the scenarios (a fresh process each),
:mod:`~wcbench.flamegraphs.capture` captures one (the parent, naming its workers),
:mod:`~wcbench.flamegraphs.hooks` is the worker side, :mod:`~wcbench.flamegraphs.stats` reads a
capture with memray's API and :mod:`~wcbench.flamegraphs.index` writes ``index.html`` and
``index.json``. Never timed: memray slows what it tracks.
"""

"""Reports (``wcbench report``, ``wcbench summary``): saved runs as sentences, tables and plots.

:mod:`~wcbench.report.build` writes the files, :mod:`~wcbench.report.findings` computes every
sentence, :mod:`~wcbench.report.markdown` lays out one run, :mod:`~wcbench.report.comparison` two
runs side by side, :mod:`~wcbench.report.plots` draws (matplotlib imported only then),
:mod:`~wcbench.report.scale` is the section on how cost grows with the text, and
:mod:`~wcbench.report.summary` the lines a benchmark run ends with. Reads saved JSON only.
"""

"""The benchmark side of wordcount-bench: corpus, measurement, matrix, comparison, reports.

Imports go one way: ``wcbench`` uses ``wordcount``'s public API (and ``wordcount.procmem``);
``wordcount`` never imports ``wcbench``. Reporting modules read saved JSON only.
"""

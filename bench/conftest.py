"""Order of the benchmarks: by text size, so each corpus is loaded once.

pytest runs ``test_wordcount``'s cases, then ``test_memory_read``'s, each over every size; the
suite holds one text at a time (an 8 GiB text is dropped before the next loads), so that order
would load every size twice. Sorted by size (stable: the matrix's own order within a size), each
size is loaded once and its memory-read benchmark runs beside its cases.
"""

from __future__ import annotations

import pytest


def _text_size(item: pytest.Item) -> int:
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "case" in params:
        return params["case"].size
    return params.get("read_size", 0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_text_size)

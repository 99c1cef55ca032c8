"""Writing saved runs so that a reader never sees half a file and two runs never share a number.

pytest-benchmark's ``FileStorage.save`` picks the next ``NNNN`` from the files it finds, then opens
that name and writes into it: a reader (``make report`` in another terminal) can read a half
written file, a kill mid-write leaves a truncated one, and two sessions saving at once on one
checkout both pick the same number (the second ``open`` truncates the first's file, or trips its
``assert not exists``). Here the JSON is written to a temporary file in the same folder, flushed
to disk, and then *linked* to its numbered name: ``link`` fails if the name exists, so each
session takes the next free number and no file is ever overwritten. The temporary name never
matches ``NNNN_*.json``, so readers never see it.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: A saved run's file name: four digits, an underscore, then what pytest-benchmark puts there.
NUMBERED = re.compile(r"^(\d{4})_")


def fsync_dir(folder: Path) -> None:
    """Make a new or renamed entry of ``folder`` durable (POSIX; a no-op where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_temporary(folder: Path, data: bytes) -> Path:
    """``data`` in a hidden temporary file of ``folder``, on disk before this returns."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=".saving-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as open() would have made it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` at once: readers see the old file or the new, never half."""
    tmp = write_temporary(path.parent, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def next_number(folder: Path) -> int:
    """One more than the highest run number in ``folder`` (1 when there is none)."""
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := NUMBERED.match(p.name))] \
        if folder.is_dir() else []
    return max(numbers, default=0) + 1


def save_numbered(folder: Path, name: Callable[[int], str], data: bytes,
                  start: int | None = None) -> Path:
    """Save ``data`` as ``folder/name(n)`` with the first free number ``n`` from ``start``
    (default :func:`next_number`); atomic, never overwriting, safe against other savers at the
    same time."""
    tmp = write_temporary(folder, data)
    try:
        number = next_number(folder) if start is None else start
        while True:
            path = folder / name(number)
            try:
                os.link(tmp, path)
            except FileExistsError:
                number += 1
                continue
            fsync_dir(folder)
            return path
    finally:
        tmp.unlink(missing_ok=True)


def run_file_name(save: str) -> Callable[[int], str]:
    """pytest-benchmark's file name for run ``n`` of a save named ``save``."""
    return lambda n: f"{n:04d}_{save}.json"


def dumps(output_json: dict[str, Any]) -> bytes:
    """The bytes pytest-benchmark writes for a run (its own encoder, as ``FileStorage.save``)."""
    from pytest_benchmark.utils import safe_dumps

    return safe_dumps(output_json, ensure_ascii=True, indent=4).encode()


def save_run(folder: Path, output_json: dict[str, Any], save: str) -> Path:
    """A run's JSON saved under the next free number of ``folder`` (a machine folder)."""
    return save_numbered(folder, run_file_name(save), dumps(output_json))


def make_saves_atomic(storage: Any, on_saved: Callable[[Path], None] | None = None) -> bool:
    """Route a pytest-benchmark ``FileStorage``'s ``save`` through :func:`save_run`; False (and
    nothing changed) for another kind of storage (Elasticsearch)."""
    from pytest_benchmark.storage.file import FileStorage

    if not isinstance(storage, FileStorage):
        return False

    def save(output_json: dict[str, Any], save: str) -> None:
        path = save_run(Path(storage.get("")), output_json, save)  # its machine folder
        storage.logger.info(f"Saved benchmark data in: {path}")
        if on_saved is not None:
            on_saved(path)

    storage.save = save
    return True

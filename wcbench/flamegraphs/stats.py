"""What one memray capture says, read with memray's ``FileReader``: the heap's peak, what was
allocated in all, and the biggest allocation site live at the peak."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def capture_stats(path: Path, frames: int = 4) -> dict[str, Any]:
    """``heap_peak_bytes`` (memray's peak of live heap allocations and mappings),
    ``total_allocated_bytes``, ``allocations`` and ``largest_at_peak``: the size and innermost
    ``frames`` frames (function, file name, line) of the biggest site live at the peak."""
    from memray import AllocatorType, FileReader

    freeing = {AllocatorType.FREE, AllocatorType.MUNMAP, AllocatorType.PYMALLOC_FREE}
    reader = FileReader(path)
    meta = reader.metadata
    total = sum(r.size for r in reader.get_allocation_records() if r.allocator not in freeing)
    top = max(reader.get_high_watermark_allocation_records(merge_threads=True),
              key=lambda r: r.size, default=None)
    largest = None
    if top is not None:
        largest = {"size": top.size,
                   "stack": [[fn, Path(file).name, line]
                             for fn, file, line in top.stack_trace(max_stacks=frames)]}
    return {"heap_peak_bytes": meta.peak_memory, "total_allocated_bytes": total,
            "allocations": meta.total_allocations, "largest_at_peak": largest}

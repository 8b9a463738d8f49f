"""Range arithmetic for incremental fetches (pure): what is missing, and how to page through it.

Ranges are half-open ``(start_ns, end_ns)`` tuples of int64 ns UTC.
"""

from __future__ import annotations

from collections.abc import Iterable

Range = tuple[int, int]


def merge_ranges(ranges: Iterable[Range]) -> list[Range]:
    """The union of ``ranges`` as sorted, disjoint, non-touching ranges (empty ones dropped)."""
    out: list[Range] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def missing_ranges(start: int, end: int, covered: Iterable[Range]) -> list[Range]:
    """The parts of ``[start, end)`` no range of ``covered`` contains, in order."""
    out: list[Range] = []
    cursor = start
    for lo, hi in merge_ranges(covered):
        if hi <= cursor:
            continue
        if lo >= end:
            break
        if lo > cursor:
            out.append((cursor, lo))
        cursor = max(cursor, hi)
    if cursor < end:
        out.append((cursor, end))
    return out


def windows(start: int, end: int, span: int) -> list[Range]:
    """``[start, end)`` cut into consecutive windows of at most ``span`` (pagination)."""
    if span <= 0:
        raise ValueError("span must be positive")
    return [(lo, min(lo + span, end)) for lo in range(start, end, span)]


def align_down(ts: int, step: int) -> int:
    return ts - ts % step

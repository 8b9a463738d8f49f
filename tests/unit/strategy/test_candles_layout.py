"""The candle package's layout: family modules of a readable size, every TA-Lib pattern in one of them."""

from __future__ import annotations

from pathlib import Path

import nautilus.strategy.candles as candles
from nautilus.strategy.candles import kernel
from nautilus.strategy.candles.catalog import PATTERNS as ALL

MAX_LINES = 800


def test_every_candle_module_is_under_the_line_limit():
    files = sorted(Path(candles.__file__).parent.glob("*.py"))
    assert files
    for f in files:
        assert len(f.read_text().splitlines()) <= MAX_LINES, f.name


def test_family_modules_hold_every_pattern_once():
    names = [p[0] for p in ALL]
    assert names == sorted(names)
    assert set(names) == set(kernel.NAMES) and len(names) == len(kernel.NAMES) == 61


def test_the_scanners_cached_kernel_is_keyed_to_the_candle_sources() -> None:
    """numba keys a cache entry to its own file only: the scanner kernel, which compiles the candle kernels into
    itself, must recompile when a candle module (or the streaming indicators) changes, not load stale code."""
    import hashlib
    from pathlib import Path

    from nautilus.strategy import scanner, streaming
    from nautilus.strategy.candles import kernel

    files = sorted(Path(kernel.__file__).parent.glob("*.py")) + [Path(streaming.__file__)]
    sha = hashlib.sha256()
    for f in files:
        sha.update(f.stem.encode() + b"\0" + f.read_bytes())
    stamp = scanner._scan_kernel._cache._cache_file._source_stamp
    assert isinstance(stamp, tuple) and stamp[1] == sha.hexdigest()

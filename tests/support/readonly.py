"""Make a SQLite database read-only for the code under test, also when the tests run as root.

Root ignores file modes through ``CAP_DAC_OVERRIDE``; :func:`read_only` drops it (and ``CAP_DAC_READ_SEARCH``)
from the calling thread's effective set while the files are ``0444``, so connections this thread opens meanwhile
are read-only, as for any other user. Threads started inside the block inherit the dropped set (they see the
modes from then on, which is what a restored ``0644`` gives back). Capabilities are per thread on Linux.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_CAPS = (1 << 1) | (1 << 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
_V3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _set_effective(drop: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _Header(_V3, 0), (_Data * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    if drop:
        data[0].effective &= ~_CAPS
    else:
        data[0].effective |= _CAPS & data[0].permitted
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def database_files(path: Path) -> list[Path]:
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def set_read_only(path: Path, read_only: bool) -> None:
    for file in database_files(path):
        os.chmod(file, 0o444 if read_only else 0o644)


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` (and its -wal/-shm) mode 0444 and this thread without root's override, until the block ends."""
    root = os.geteuid() == 0
    set_read_only(path, True)
    if root:
        _set_effective(drop=True)
    try:
        yield
    finally:
        if root:
            _set_effective(drop=False)
        set_read_only(path, False)

"""Numba's on-disk cache keyed to every source file a kernel is built from.

Numba keys a cache entry to the file that defines the jitted function (its modification time and size)
only, while a kernel compiles the jitted helpers it calls from other files, and the module-level constants
it reads, into its own machine code. After such a file changes, the kernel would load machine code built
from the old one. :func:`key_to_sources` adds a digest of all the files a kernel is built from to the stamp
its cache index is checked against, so editing any of them recompiles instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def source_digest(files: Iterable[Path]) -> str:
    """SHA-256 over each file's name (stem) and contents, in the order given."""
    sha = hashlib.sha256()
    for f in files:
        sha.update(f.stem.encode() + b"\0" + f.read_bytes())
    return sha.hexdigest()


def kernels_of(namespace: Mapping[str, Any]) -> list[Any]:
    """The numba dispatchers defined in the module whose globals are ``namespace`` (not those it imports)."""
    name = namespace["__name__"]
    return [v for v in namespace.values()
            if hasattr(v, "py_func") and hasattr(v, "_cache") and v.py_func.__module__ == name]


def key_to_sources(dispatchers: Iterable[Any], digest: str) -> None:
    """Key the on-disk cache of each of ``dispatchers`` (those compiled with ``cache=True``) to ``digest``."""
    for d in dispatchers:
        cache_file = getattr(getattr(d, "_cache", None), "_cache_file", None)
        if cache_file is not None and hasattr(cache_file, "_source_stamp"):
            cache_file._source_stamp = (cache_file._source_stamp, digest)

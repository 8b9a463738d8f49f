"""The ``manifest.json`` every saved predictor folder carries, and the serving input error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nautilus.core.errors import InvalidInput

MANIFEST = "manifest.json"
ARRAYS = "arrays.bin"
ALIGN = 64
FORMAT_VERSION = 1


class ModelInputError(InvalidInput, ValueError):
    """Bad input to a predictor or an unsupported model: a ValueError and an InvalidInput (HTTP 422)."""


def write_manifest(folder: Path, meta: dict[str, Any]) -> None:
    """Write ``folder/manifest.json``: ``meta`` (which names the ``kind``) plus the format version."""
    (folder / MANIFEST).write_text(json.dumps({**meta, "format": FORMAT_VERSION}, indent=1) + "\n")


def read_manifest(folder: Path, kind: str | None = None) -> dict[str, Any]:
    """The manifest of a saved predictor folder; ``kind`` when given must match the saved kind."""
    file = Path(folder) / MANIFEST
    if not file.is_file():
        raise ModelInputError(f"{folder} holds no {MANIFEST}: not a saved predictor", field="path")
    meta = json.loads(file.read_text())
    if kind is not None and meta.get("kind") != kind:
        raise ModelInputError(f"{folder} holds a {meta.get('kind')!r} model, not {kind!r}", field="path")
    return meta


def write_arrays(folder: Path, arrays: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Write ``arrays`` back to back (64-byte aligned) into ``folder/arrays.bin``; returns the table
    (name, dtype, shape, offset) to keep in the manifest."""
    table, chunks, offset = [], [], 0
    for name, array in arrays.items():
        data = np.ascontiguousarray(array).tobytes()
        pad = -offset % ALIGN
        chunks += [b"\0" * pad, data]
        offset += pad
        table.append({"name": name, "dtype": array.dtype.str, "shape": list(array.shape), "offset": offset})
        offset += len(data)
    (folder / ARRAYS).write_bytes(b"".join(chunks))
    return table


def read_arrays(folder: Path, table: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The arrays of ``folder/arrays.bin`` as writable views of one buffer filled by one read (writable
    so numba sees the same array types as at warm-up and compiles nothing new)."""
    file = folder / ARRAYS
    buffer = bytearray(file.stat().st_size)
    with file.open("rb", buffering=0) as fh:
        fh.readinto(buffer)
    out = {}
    for entry in table:
        dtype = np.dtype(entry["dtype"])
        count = int(np.prod(entry["shape"], dtype=np.int64))
        out[entry["name"]] = np.frombuffer(buffer, dtype, count, entry["offset"]).reshape(entry["shape"])
    return out

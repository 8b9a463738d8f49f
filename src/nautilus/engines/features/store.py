"""Saved feature sets: one YAML file per set under ``data_dir / "features"``.

A set is validated before it is written, and written to a temporary file renamed into place, so
a file on disk is always a whole, valid set. Built-in names cannot be saved over or deleted.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nautilus.core.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:  # nautilus.features loads its kernels (numba): imported by the first call, not at start
    from nautilus.features import FeatureSet

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


class FeatureSetStore:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, name: str) -> Path:
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInput(f"name {name!r} must be 1-64 letters, digits, _ or - starting with a letter",
                               field="name")
        return self.folder / f"{name}.yaml"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.yaml") if _NAME.match(p.stem))

    def get(self, name: str) -> tuple[FeatureSet, bool]:
        """The set and whether it is built in; NotFound(field="name") if neither."""
        from nautilus.features import builtin_feature_sets, load_feature_set

        builtin = builtin_feature_sets()
        if name in builtin:
            return builtin[name], True
        path = self._path(name)
        if not path.is_file():
            known = ", ".join([*builtin, *self.names()])
            raise NotFound(f"no feature set {name!r}; known: {known}", field="name")
        return load_feature_set(path), False

    def save(self, name: str, definition: Any) -> FeatureSet:
        from nautilus.features import builtin_feature_sets, parse_feature_set
        from nautilus.features.spec import definition_mapping

        path = self._path(name)
        if name in builtin_feature_sets():
            raise Conflict(f"{name!r} is a built-in feature set; save under another name", field="name")
        definition = definition_mapping(definition)
        given = definition.setdefault("name", name)
        if given != name:
            raise InvalidInput(f"the definition's name {given!r} differs from {name!r}", field="name")
        fs = parse_feature_set(definition)
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{name}.{uuid.uuid4().hex}.tmp")
        try:
            temp.write_text(fs.to_yaml())
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        return fs

    def delete(self, name: str) -> None:
        from nautilus.features import builtin_feature_sets

        path = self._path(name)
        if name in builtin_feature_sets():
            raise Conflict(f"{name!r} is a built-in feature set and cannot be deleted", field="name")
        if not path.is_file():
            raise NotFound(f"no saved feature set {name!r}", field="name")
        path.unlink()

"""Request and reply types of the Features engine (light: the gateway and CLI import these)."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from nautilus.core.bounds import Name, Timestamp


class FeatureSetName(msgspec.Struct, kw_only=True):
    name: str


class SaveFeatureSetRequest(msgspec.Struct, kw_only=True):
    name: str
    definition: Any  # a mapping, or YAML/JSON text; its "name" (if any) must equal ``name``


class FeatureSetInfo(msgspec.Struct, kw_only=True):
    name: str
    description: str
    builtin: bool
    digest: str
    lookback: int
    horizon: int
    feature_names: list[str]
    target_names: list[str]
    definition: dict[str, Any]
    warmup: int | None = None  # bars loaded before a requested range (None: the whole history)


class FeatureSetList(msgspec.Struct, kw_only=True):
    items: list[dict[str, Any]]


class ComputeRequest(msgspec.Struct, kw_only=True):
    """A saved or built-in set by ``name``, or an inline ``definition``; bars of ``symbols`` in
    [start_ns, end_ns) (the last ``limit`` of them). Features are computed over those bars preceded by the set's
    warm-up (``FeatureSetInfo.warmup`` bars, or the whole history), so a row's values do not depend on the range."""

    name: str | None = None
    definition: Any = None
    symbols: list[Name]
    timeframe: str = "1d"
    start_ns: Timestamp | None = None
    end_ns: Timestamp | None = None
    limit: int | None = None


class ComputeReply(msgspec.Struct, kw_only=True):
    """Rows sorted by symbol then ts: symbol ``symbols[i]`` owns the next ``counts[i]`` rows."""

    feature_set: str
    digest: str
    timeframe: str
    symbols: list[str]
    counts: list[int]
    ts: np.ndarray  # int64 ns, one per row
    X: np.ndarray  # float64 (rows, features)
    feature_names: list[str]
    y: np.ndarray  # float64 (rows, targets)
    target_names: list[str]
    horizon: int
    lookback: int
    cache: dict[str, str]  # symbol -> "hit" | "incremental" | "miss"
    elapsed_ms: float

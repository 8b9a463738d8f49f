"""/api/v1/features: feature-set definitions and point-in-time feature matrices.

A feature set is a JSON object ``{"name", "description", "features": [...], "targets": [...]}``
(see :mod:`nautilus.features.spec`); a bad one gets a 422 whose ``field`` is the offending path,
e.g. ``features[2].window``. Times in replies are epoch milliseconds (``t``).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import Request
from fastapi.responses import Response

from nautilus.core.errors import InvalidInput
from nautilus.engines.features.engine import FeaturesEngine
from nautilus.engines.features.messages import (
    ComputeReply,
    ComputeRequest,
    FeatureSetName,
    SaveFeatureSetRequest,
)
from nautilus.gateway.routers import (
    EngineRouter,
    body_doc,
    decode_body,
    decode_json,
    json_response,
    name_path,
)
from nautilus.runtime.client import EngineClient

router = EngineRouter("features")

SetName = Annotated[str, name_path(64)]
EXAMPLE_SET = {"description": "momentum and volatility", "features": [
    {"kind": "return", "window": 5}, {"kind": "rolling", "stat": "std", "column": "log_return", "window": 20},
    {"kind": "indicator", "spec": "rsi(14)"}, {"kind": "calendar", "field": "dayofweek"}],
    "targets": [{"kind": "direction", "h": 1}]}


def _client(request: Request) -> EngineClient:
    return request.app.state.engines["features"]


@router.get("/sets", summary="Built-in and saved feature sets")
async def list_sets(request: Request) -> Response:
    return json_response(await _client(request).acall(FeaturesEngine.list_feature_sets))


@router.get("/sets/{name}", summary="One feature set with its columns, lookback and horizon")
async def get_set(request: Request, name: SetName) -> Response:
    return json_response(await _client(request).acall(FeaturesEngine.get_feature_set, FeatureSetName(name=name)))


@router.put("/sets/{name}", summary="Save a feature set (validated first; replaces a saved one)",
            **body_doc("The feature set: `features` and `targets` lists of {kind, ...}; `name` may be left "
                       "out (it defaults to the path's).", EXAMPLE_SET))
async def put_set(request: Request, name: SetName) -> Response:
    body = await request.body()
    definition = decode_json(body) if body else None
    if not isinstance(definition, dict):
        raise InvalidInput("the request body must be a JSON object (the feature set)", field="body")
    req = SaveFeatureSetRequest(name=name, definition=definition)
    return json_response(await _client(request).acall(FeaturesEngine.save_feature_set, req))


@router.delete("/sets/{name}", summary="Delete a saved feature set")
async def delete_set(request: Request, name: SetName) -> Response:
    await _client(request).acall(FeaturesEngine.delete_feature_set, FeatureSetName(name=name))
    return json_response({"deleted": name})


def compute_payload(reply: ComputeReply) -> dict[str, Any]:
    """Columns of the reply as JSON-ready lists (NaN as null), rows sorted by symbol then time."""
    columns: dict[str, Any] = {"symbol": [s for s, n in zip(reply.symbols, reply.counts, strict=True)
                                          for _ in range(n)],
                               "t": (np.asarray(reply.ts, dtype=np.int64) // 1_000_000).tolist()}
    for j, name in enumerate(reply.feature_names):
        columns[name] = reply.X[:, j]
    for j, name in enumerate(reply.target_names):
        columns[name] = reply.y[:, j]
    return {"feature_set": reply.feature_set, "digest": reply.digest, "timeframe": reply.timeframe,
            "symbols": reply.symbols, "counts": reply.counts, "feature_names": reply.feature_names,
            "target_names": reply.target_names, "horizon": reply.horizon, "lookback": reply.lookback,
            "cache": reply.cache, "elapsed_ms": reply.elapsed_ms, "columns": columns}


@router.post("/compute", summary="Compute a feature set over symbols' bars",
             **body_doc("`name` (a saved or built-in set) or `definition` (inline set), `symbols`, "
                        "`timeframe` (default 1d), `start`/`end` (ISO 8601, end exclusive), `limit` (the last "
                        "N bars per symbol). Features in row t use bars up to t only; targets look ahead.",
                        {"name": "standard", "symbols": ["AAPL", "MSFT"], "timeframe": "1d"}))
async def post_compute(request: Request) -> Response:
    req = await decode_body(request, ComputeRequest)
    reply = await _client(request).acall(FeaturesEngine.compute, req)
    return json_response(compute_payload(reply))

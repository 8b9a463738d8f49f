"""/api/v1/factors: the factor library, factor matrices and research tear sheets.

Bodies are JSON objects decoded into the Factor engine's request types: ``symbols``, exactly one of
``factor`` (library spec) or ``expr`` (expression), ``timeframe``, ``start``/``end`` (ISO 8601, end
exclusive) and ``steps`` (cross-sectional processing). Times in replies are epoch milliseconds (``t``).
"""

from __future__ import annotations

import numpy as np
from fastapi import Request
from fastapi.responses import Response

from nautilus.engines.factor.engine import FactorEngine
from nautilus.engines.factor.messages import ComputeRequest, ResearchRequest
from nautilus.gateway.routers import (
    EngineRouter,
    body_doc,
    decode_body,
    json_response,
)
from nautilus.runtime.client import EngineClient

router = EngineRouter("factors")

QUERY_DOC = ("`symbols` (list), `factor` (\"momentum\", \"momentum(126, 21)\" or {\"name\": \"momentum\", "
             "\"lookback\": 126}) or `expr` (e.g. \"rank(ts_mean(close, 20) / close) - zscore(volume)\"), "
             "`timeframe` (default 1d), `start`/`end` (ISO 8601), `steps`: [{\"op\": \"winsorize\", \"method\": "
             "\"quantile\"|\"mad\", \"limits\": [0.01, 0.99], \"n_mad\": 5}, {\"op\": \"zscore\"}, {\"op\": \"rank\", "
             "\"centered\": false}, {\"op\": \"neutralize\", \"against\": [\"beta\"], \"groups\": {symbol: label}}].")
EXAMPLE = {"symbols": ["AAPL", "MSFT", "GOOG", "AMZN", "META"], "factor": "momentum(126, 21)",
           "steps": [{"op": "winsorize"}, {"op": "zscore"}]}


def _client(request: Request) -> EngineClient:
    return request.app.state.engines["factor"]


@router.get("", summary="The factor library: names, parameters with defaults, docs; expression functions")
async def list_factors(request: Request) -> Response:
    return json_response(await _client(request).acall(FactorEngine.list_factors))


@router.post("/compute", summary="A factor's (dates x symbols) values after cross-sectional steps",
             **body_doc(QUERY_DOC, EXAMPLE))
async def post_compute(request: Request) -> Response:
    req = await decode_body(request, ComputeRequest)
    reply = await _client(request).acall(FactorEngine.compute, req)
    return json_response({"factor": reply.factor, "timeframe": reply.timeframe, "symbols": reply.symbols,
                          "t": (np.asarray(reply.ts, dtype=np.int64) // 1_000_000).tolist(),
                          "values": reply.values})


@router.post("/research", summary="Factor tear sheet: IC by date and horizon, IC decay, quantile returns, turnover",
             **body_doc(QUERY_DOC + " `horizons` (bars, default [1, 5, 20]), `quantiles` (default 5), `method` "
                        "(spearman or pearson IC).", EXAMPLE | {"horizons": [1, 5, 20], "quantiles": 5}))
async def post_research(request: Request) -> Response:
    req = await decode_body(request, ResearchRequest)
    reply = await _client(request).acall(FactorEngine.research, req)
    return json_response({"factor": reply.factor, "timeframe": reply.timeframe, "symbols": reply.symbols,
                          **reply.tearsheet})

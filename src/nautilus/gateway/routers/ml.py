"""/api/v1/ml: training jobs, the model registry and predictions."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import Path, Request
from fastapi.responses import Response
from msgspec import Meta

from nautilus.engines.ml.engine import MLEngine
from nautilus.engines.ml.messages import JobId, ModelRef, ModelsRequest, PredictRequest, TrainRequest
from nautilus.gateway.routers import (
    ID_MAX,
    EngineRouter,
    body_doc,
    decode_body,
    decode_query,
    json_response,
    name_path,
    query_doc,
)
from nautilus.runtime.client import EngineClient

router = EngineRouter("ml")
NAME = Annotated[str, name_path(128)]


def _client(request: Request) -> EngineClient:
    return request.app.state.engines["ml"]


@router.get("/tasks", summary="Built-in tasks: direction, volatility, regime")
async def list_tasks(request: Request) -> Response:
    return json_response(await _client(request).acall(MLEngine.list_tasks))


@router.post("/train", status_code=202, summary="Start a training job (walk-forward validated, registered)",
             **body_doc("`symbols`; `task` (direction | volatility | regime) or `feature_set` (name or inline) with "
                        "`target`; `model` ({kind: lightgbm | mlp | lstm | tcn, objective, params, seed, "
                        "sequence_length, early_stopping_rounds}); `name` (registry name); `timeframe`, `start`, "
                        "`end`; `n_folds`, `scheme` (expanding | rolling), `embargo` (bars); `onnx`; `wait`. "
                        "Poll /ml/jobs/{id}; progress is also published on the bus as ml.job.<id>.",
                        {"task": "direction", "symbols": ["AAPL", "MSFT"], "model": {"kind": "lightgbm"}}))
async def post_train(request: Request) -> Response:
    req = await decode_body(request, TrainRequest)
    reply = await _client(request).acall(MLEngine.train, req)
    return json_response(reply, status=200 if reply.status in ("done", "failed", "cancelled") else 202)


@router.get("/jobs", summary="Training jobs, newest first")
async def list_jobs(request: Request) -> Response:
    return json_response(await _client(request).acall(MLEngine.list_jobs))


@router.get("/jobs/{job_id}", summary="A training job's status and progress")
async def get_job(request: Request, job_id: Annotated[str, name_path(64)]) -> Response:
    return json_response(await _client(request).acall(MLEngine.job, JobId(id=job_id)))


@router.delete("/jobs/{job_id}", summary="Cancel a training job")
async def cancel_job(request: Request, job_id: Annotated[str, name_path(64)]) -> Response:
    return json_response(await _client(request).acall(MLEngine.cancel_job, JobId(id=job_id)))


class ModelsParams(msgspec.Struct, frozen=True):
    name: Annotated[str, Meta(max_length=128)] | None = None


@router.get("/models", summary="Registered model versions, newest first", **query_doc(ModelsParams))
async def list_models(request: Request) -> Response:
    query = decode_query(request, ModelsParams)
    return json_response(await _client(request).acall(MLEngine.models, ModelsRequest(name=query.name)))


class VersionParams(msgspec.Struct, frozen=True):
    version: Annotated[int, Meta(ge=1, le=ID_MAX)] | None = None


@router.get("/models/{name}", summary="A model: its production version, else the latest",
            **query_doc(VersionParams))
async def get_model(request: Request, name: NAME) -> Response:
    query = decode_query(request, VersionParams)
    return json_response(await _client(request).acall(MLEngine.model, ModelRef(name=name, version=query.version)))


@router.post("/models/{name}/versions/{version}/promote", summary="Make a version the production version")
async def promote(request: Request, name: NAME, version: Annotated[int, Path(ge=1, le=ID_MAX)]) -> Response:
    return json_response(await _client(request).acall(MLEngine.promote, ModelRef(name=name, version=version)))


@router.post("/models/{name}/rollback", summary="Restore the previous production version")
async def rollback(request: Request, name: NAME) -> Response:
    return json_response(await _client(request).acall(MLEngine.rollback, ModelRef(name=name)))


@router.delete("/models/{name}/versions/{version}", summary="Delete a version (not the production one)")
async def delete_model(request: Request, name: NAME, version: Annotated[int, Path(ge=1, le=ID_MAX)]) -> Response:
    return json_response(await _client(request).acall(MLEngine.delete_model, ModelRef(name=name, version=version)))


@router.post("/predict", summary="Predict from given rows or from features of catalog bars",
             **body_doc("`name`, `version` (default production, else latest); either `rows` (one row, rows, or "
                        "[n, L, f] windows for sequence models, in the model's feature order) or `symbols` "
                        "(features from the catalog: the latest bar each, or every bar in `start`..`end` with "
                        "`series`: true).", {"name": "direction", "symbols": ["AAPL"]}))
async def post_predict(request: Request) -> Response:
    req = await decode_body(request, PredictRequest)
    return json_response(await _client(request).acall(MLEngine.predict, req))

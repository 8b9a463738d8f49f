"""/api/v1/stream: channels of the WebSocket hub, a channel's buffered messages, and bar replay."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import Request
from fastapi.responses import Response
from msgspec import Meta

from nautilus.engines.websocket.engine import WebSocketEngine
from nautilus.engines.websocket.messages import ReplayId, ReplayRequest, StartReplay
from nautilus.gateway.routers import (
    EngineRouter,
    body_doc,
    decode_body,
    decode_query,
    json_response,
    name_path,
    query_doc,
)
from nautilus.runtime.client import EngineClient

router = EngineRouter("stream")
REPLAY_ID = Annotated[str, name_path(64)]


def _client(request: Request) -> EngineClient:
    return request.app.state.engines["websocket"]


@router.get("/channels", summary="Channels with their last seq, and the bus topic → channel table")
async def list_channels(request: Request) -> Response:
    return json_response(await _client(request).acall(WebSocketEngine.channels))


class ReplayParams(msgspec.Struct, frozen=True):
    after_seq: Annotated[int, Meta(ge=0, le=2**62)] = 0
    limit: Annotated[int, Meta(ge=1, le=10_000)] = 1000


@router.get("/channels/{channel}", summary="A channel's buffered messages with seq > after_seq (resume by HTTP)",
            **query_doc(ReplayParams))
async def channel_messages(request: Request, channel: Annotated[str, name_path(200)]) -> Response:
    query = decode_query(request, ReplayParams)
    req = ReplayRequest(channel=channel, after_seq=query.after_seq, limit=query.limit)
    return json_response(await _client(request).acall(WebSocketEngine.replay, req))


@router.post("/replay", status_code=201, summary="Replay catalog bars on channel bars.<symbol>",
             **body_doc("`symbol`; `timeframe` (default 1d); `start`, `end` (ISO dates); pace: `bars_per_second` "
                        "(fixed rate) or `speed` (x real time between bar timestamps); both 0 = as fast as "
                        "possible; `loop` (start over at the end; needs a pace).",
                        {"symbol": "AAPL", "timeframe": "1d", "bars_per_second": 10}))
async def start_replay(request: Request) -> Response:
    req = await decode_body(request, StartReplay)
    return json_response(await _client(request).acall(WebSocketEngine.start_replay, req), status=201)


@router.get("/replay", summary="Replays, newest first")
async def list_replays(request: Request) -> Response:
    return json_response(await _client(request).acall(WebSocketEngine.replays))


@router.get("/replay/{replay_id}", summary="A replay's status and progress")
async def get_replay(request: Request, replay_id: REPLAY_ID) -> Response:
    return json_response(await _client(request).acall(WebSocketEngine.get_replay, ReplayId(id=replay_id)))


@router.delete("/replay/{replay_id}", summary="Stop a replay")
async def stop_replay(request: Request, replay_id: REPLAY_ID) -> Response:
    return json_response(await _client(request).acall(WebSocketEngine.stop_replay, ReplayId(id=replay_id)))

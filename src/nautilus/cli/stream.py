"""Streaming commands of the ``nautilus`` CLI: ``replay start|list|stop`` and ``watch CHANNEL...``.

``replay`` talks to the WebSocket hub engine (``websocket``). Without a running hub the engine runs
inside this CLI process, so a replay there only lives while the command waits (``--wait``, the default)
and only this process sees it. ``watch`` connects to the gateway's ``/ws`` (``--api-key`` or
``NAUTILUS_API_KEYS``' first key) and prints each frame as one JSON line; ``--direct`` long-polls the
hub engine instead (no gateway needed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from nautilus.cli.common import console, engine_client, fail, format_ts, parse_time_arg, run_guarded
from nautilus.cli.root import app
from nautilus.config import get_settings

replay_app = typer.Typer(help="Replay catalog bars on channel bars.<symbol> (for /ws and paper trading).",
                         no_args_is_help=True)
app.add_typer(replay_app, name="replay")

def _client() -> Any:
    return engine_client("websocket", get_settings())


R = TypeVar("R")


def _call(method: Callable[..., R], req: Any = None) -> R:
    """Call the handler ``method`` (e.g. ``WebSocketEngine.poll``); platform errors become exit codes."""
    return run_guarded(_client().call, method, req)


def _print_replays(items: list[Any]) -> None:
    table = Table(title="Replays")
    for col in ("id", "channel", "timeframe", "status", "published", "bars", "pace", "started"):
        table.add_column(col)
    for r in items:
        pace = f"{r.bars_per_second:g} bars/s" if r.bars_per_second else (f"x{r.speed:g}" if r.speed else "max")
        table.add_row(r.id, r.channel, r.timeframe, r.status, str(r.published), str(r.bars),
                      pace + (" loop" if r.loop else ""), format_ts(r.started_at))
    console.print(table)


@replay_app.command("start")
def replay_start(
    symbol: Annotated[str, typer.Argument(help="Symbol in the catalog")],
    timeframe: Annotated[str, typer.Option(help="Bar timeframe")] = "1d",
    start: Annotated[str | None, typer.Option(help="ISO start date (inclusive)")] = None,
    end: Annotated[str | None, typer.Option(help="ISO end date (exclusive)")] = None,
    speed: Annotated[float, typer.Option(help="x real time between bar timestamps (0: as fast as possible)")] = 0.0,
    bars_per_second: Annotated[float, typer.Option("--bps", help="Fixed rate (overrides --speed)")] = 0.0,
    loop: Annotated[bool, typer.Option(help="Start over at the end (needs a pace)")] = False,
    wait: Annotated[bool, typer.Option(help="Wait until it finishes (Ctrl-C stops it)")] = True,
) -> None:
    """Start a replay; prints its id and, with --wait, its progress."""
    from nautilus.engines.websocket.engine import WebSocketEngine
    from nautilus.engines.websocket.messages import ReplayId, StartReplay

    req = StartReplay(symbol=symbol, timeframe=timeframe, start_ns=parse_time_arg(start, "start"),
                      end_ns=parse_time_arg(end, "end"), speed=speed, bars_per_second=bars_per_second, loop=loop)
    info = _call(WebSocketEngine.start_replay, req)
    console.print(f"replay {info.id}: {info.bars} bars on channel {info.channel}")
    if not wait:
        return
    try:
        while info.status == "running":
            time.sleep(0.5)
            info = _call(WebSocketEngine.get_replay, ReplayId(id=info.id))
    except KeyboardInterrupt:
        info = _call(WebSocketEngine.stop_replay, ReplayId(id=info.id))
    console.print(f"replay {info.id} {info.status}: {info.published} bars published"
                  + (f" ({info.error})" if info.error else ""))
    if info.status == "failed":
        raise typer.Exit(1)


@replay_app.command("list")
def replay_list() -> None:
    """Replays, newest first."""
    from nautilus.engines.websocket.engine import WebSocketEngine

    _print_replays(_call(WebSocketEngine.replays).items)


@replay_app.command("stop")
def replay_stop(replay_id: Annotated[str, typer.Argument(help="Replay id")]) -> None:
    """Stop a replay."""
    from nautilus.engines.websocket.engine import WebSocketEngine
    from nautilus.engines.websocket.messages import ReplayId

    info = _call(WebSocketEngine.stop_replay, ReplayId(id=replay_id))
    console.print(f"replay {info.id} {info.status}: {info.published} bars published")


def _parse_resume(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in values:
        channel, sep, seq = item.rpartition("=")
        if not sep or not channel or not seq.isdigit():
            fail(f"--resume takes CHANNEL=SEQ, got {item!r}")
        out[channel] = int(seq)
    return out


@app.command()
def watch(
    channels: Annotated[list[str], typer.Argument(help="Channels or globs, e.g. orders fills 'bars.*'")],
    resume: Annotated[list[str] | None, typer.Option(help="CHANNEL=SEQ: replay what came after SEQ first")] = None,
    count: Annotated[int, typer.Option(help="Stop after this many messages (0: forever)")] = 0,
    api_key: Annotated[str | None, typer.Option(help="API key (default: the first of NAUTILUS_API_KEYS)")] = None,
    direct: Annotated[bool, typer.Option(help="Long-poll the hub engine instead of the gateway's /ws")] = False,
) -> None:
    """Print live channel messages as JSON lines."""
    resume_map = _parse_resume(resume or [])
    try:
        if direct:
            _watch_direct(channels, count)
        else:
            _watch_gateway(channels, resume_map, count, api_key)
    except KeyboardInterrupt:
        pass


def _watch_gateway(channels: list[str], resume: dict[str, int], count: int, api_key: str | None) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    settings = get_settings()
    key = api_key or (settings.api_keys[0] if settings.api_keys else None)
    url = f"ws://{settings.host}:{settings.gateway_bind_port}/ws"
    headers = {"X-API-Key": key} if key else None
    try:
        ws = connect(url, additional_headers=headers, open_timeout=5)
    except OSError as exc:
        fail(f"cannot reach the gateway at {url}: {exc} (is `nautilus up` running? or use --direct)", 1)
    seen = 0
    with ws:
        ws.send(json.dumps({"op": "subscribe", "channels": channels, "resume": resume}))
        try:
            for text in ws:
                frame = json.loads(text)
                if frame.get("type") == "error":
                    fail(f"{frame.get('field')}: {frame.get('message')}")
                print(text if isinstance(text, str) else text.decode(), flush=True)
                if frame.get("type") == "message":
                    seen += 1
                    if count and seen >= count:
                        return
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code != 1000:
                fail(f"the gateway closed the connection: {exc.rcvd.code} {exc.rcvd.reason}", 1)


def _watch_direct(channels: list[str], count: int) -> None:
    import fnmatch

    import msgspec

    from nautilus.engines.websocket.engine import WebSocketEngine
    from nautilus.engines.websocket.messages import PollRequest

    after = _call(WebSocketEngine.poll, PollRequest(after_id=None)).last_id
    seen = 0
    while True:
        reply = _call(WebSocketEngine.poll, PollRequest(after_id=after, timeout_s=1.0, limit=1000))
        for m in reply.messages:
            after = m.id
            if any(fnmatch.fnmatchcase(m.channel, p) for p in channels):
                print(msgspec.json.encode({"type": "message", "channel": m.channel, "seq": m.seq, "id": m.id,
                                           "ts": m.ts, "data": m.data}).decode(), flush=True)
                seen += 1
                if count and seen >= count:
                    return

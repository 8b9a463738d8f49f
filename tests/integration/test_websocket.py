"""/ws through the gateway (TestClient, in-process hub unless stated): live delivery from an engine's bus,
lossless resume, auth, heartbeat, error frames, bar replay equal to the catalog, the Redis path, and a hub
in a real process reached without Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from tests.support.services import REDIS_URL, redis_bus

from nautilus.engines.websocket.messages import ReplayRequest
from nautilus.gateway.app import create_app
from nautilus.runtime.bus import RedisBus, forwarder
from nautilus.runtime.client import EngineClient
from nautilus.storage.catalog import BarCatalog

pytestmark = pytest.mark.integration


@pytest.fixture
def ws_settings(settings):
    settings.ws_heartbeat_s = 30.0
    settings.ws_poll_timeout_s = 0.2
    return settings


@pytest.fixture
def api(ws_settings):
    with TestClient(create_app(ws_settings)) as client:
        yield client


def frames(ws, n: int, kind: str = "message") -> list[dict]:
    out = []
    while len(out) < n:
        frame = ws.receive_json()
        if frame["type"] == kind:
            out.append(frame)
        else:
            assert frame["type"] == "heartbeat", frame
    return out


def subscribe(ws, channels, resume=None) -> dict:
    ws.send_json({"op": "subscribe", "channels": channels, **({"resume": resume} if resume else {})})
    return frames(ws, 1, "subscribed")[0]


def engine_bus(api, name: str):
    """The bus of an engine instance the gateway runs (in-process): what Engine.bus gives engines."""
    writers = api.app.state.writers  # the stateful engines the gateway hosts (single-process mode)
    engine = writers[name].engine if name in writers else api.app.state.engines[name].transports["inproc"].engine()
    return engine.bus


def test_message_published_on_an_engine_bus_reaches_subscribers(api) -> None:
    bus = engine_bus(api, "portfolio")
    with api.websocket_connect("/ws") as ws, api.websocket_connect("/ws") as other:
        assert subscribe(ws, ["orders", "jobs.*"])["channels"] == ["jobs.*", "orders"]
        subscribe(other, ["fills"])
        bus.publish("portfolio.orders.main", {"qty": 5, "side": "buy"})
        bus.publish("portfolio.fills.main", {"qty": 5})
        bus.publish("ml.job.abc", {"progress": 0.5})
        got = frames(ws, 2)
        assert [(f["channel"], f["seq"], f["data"]) for f in got] == [
            ("orders", 1, {"qty": 5, "side": "buy"}), ("jobs.abc", 1, {"progress": 0.5})]
        assert got[0]["id"] < got[1]["id"]
        assert [(f["channel"], f["data"]) for f in frames(other, 1)] == [("fills", {"qty": 5})]
    listed = {c["channel"]: c["last_seq"] for c in api.get("/api/v1/stream/channels").json()["items"]}
    assert listed == {"orders": 1, "fills": 1, "jobs.abc": 1}


def test_resume_after_disconnect_gets_exactly_the_missed_messages(api) -> None:
    bus = engine_bus(api, "portfolio")
    with api.websocket_connect("/ws") as ws:
        subscribe(ws, ["orders"])
        for i in range(3):
            bus.publish("portfolio.orders.main", {"i": i})
        seen = frames(ws, 3)
    assert [f["seq"] for f in seen] == [1, 2, 3]
    for i in range(3, 7):  # published while disconnected
        bus.publish("portfolio.orders.main", {"i": i})
    assert forwarder(api.app.state.settings).flush(10.0)  # the hub holds them before the client comes back
    with api.websocket_connect("/ws") as ws:
        sub = subscribe(ws, ["orders"], resume={"orders": seen[-1]["seq"]})
        assert sub["resumed"]["orders"] == {"after": 3, "replayed": 4, "last_seq": 7, "complete": True,
                                            "reset": False}
        missed = frames(ws, 4)
        assert [(f["seq"], f["data"]["i"]) for f in missed] == [(4, 3), (5, 4), (6, 5), (7, 6)]
        bus.publish("portfolio.orders.main", {"i": 7})
        ws.send_json({"op": "ping", "id": 9})
        rest = []
        while True:  # everything up to the pong: exactly the one live message, no duplicate
            frame = ws.receive_json()
            if frame["type"] == "pong":
                break
            rest.append(frame)
        if not rest:
            rest = frames(ws, 1)
        assert [(f["seq"], f["data"]["i"]) for f in rest] == [(8, 7)]


def test_resume_reports_a_gap_it_cannot_fill(ws_settings) -> None:
    ws_settings.ws_channel_ring_size = 3
    with TestClient(create_app(ws_settings)) as api, api.websocket_connect("/ws") as ws:
        bus = engine_bus(api, "portfolio")
        for i in range(6):
            bus.publish("portfolio.fills.main", {"i": i})
        assert forwarder(ws_settings).flush(10.0)
        sub = subscribe(ws, ["fills"], resume={"fills": 1})
        assert sub["resumed"]["fills"]["complete"] is False
        assert [f["seq"] for f in frames(ws, 3)] == [4, 5, 6]


def ping(ws) -> bool:
    """Whether the connection answers (authenticated: a ping op gets a pong; the hub is not involved)."""
    ws.send_json({"op": "ping", "id": 1})
    return frames(ws, 1, "pong")[0]["id"] == 1


def test_auth_takes_a_one_use_ticket_or_a_header_never_a_key_in_the_url(ws_settings) -> None:
    ws_settings.api_keys = ["k-secret"]
    ws_settings.auth_mode = "keys"
    with TestClient(create_app(ws_settings)) as api:
        def refused(path: str, headers: dict | None = None) -> str:
            with api.websocket_connect(path, headers=headers or {}) as ws, \
                    pytest.raises(WebSocketDisconnect) as err:
                ws.receive_json()
            assert err.value.code == 4401
            return err.value.reason

        assert "missing ticket" in refused("/ws")
        assert "never go in URLs" in refused("/ws?api_key=k-secret")  # even the right key, refused in a URL
        assert "invalid" in refused("/ws?ticket=wst_forged")
        assert "invalid" in refused("/ws", {"X-API-Key": "wrong"})
        assert api.post("/api/v1/stream/ticket").status_code == 401  # a ticket needs a key
        reply = api.post("/api/v1/stream/ticket", headers={"X-API-Key": "k-secret"})
        assert reply.status_code == 201
        ticket = reply.json()
        assert ticket["ticket"].startswith("wst_") and ticket["expires_at"] > time.time()
        with api.websocket_connect(f"/ws?ticket={ticket['ticket']}") as ws:
            assert ping(ws)
        assert "invalid or expired" in refused(f"/ws?ticket={ticket['ticket']}")  # one use
        ws_settings.ws_ticket_ttl_s = 0.05
        api.app.state.ws_tickets.ttl_s = 0.05
        stale = api.post("/api/v1/stream/ticket", headers={"X-API-Key": "k-secret"}).json()["ticket"]
        time.sleep(0.1)
        assert "invalid or expired" in refused(f"/ws?ticket={stale}")
        with api.websocket_connect("/ws", headers={"X-API-Key": "k-secret"}) as ws:
            assert ping(ws)
        assert api.get("/api/v1/stream/channels").status_code == 401


def test_a_revoked_key_closes_its_open_connection(ws_settings) -> None:
    from nautilus.storage.db import Database

    ws_settings.auth_mode = "keys"
    with TestClient(create_app(ws_settings)) as api:
        db = Database.from_url(str(ws_settings.database_url))
        key_id = db.add_api_key("watcher", "k-watch", "read")
        ticket = api.post("/api/v1/stream/ticket", headers={"X-API-Key": "k-watch"}).json()["ticket"]
        with api.websocket_connect(f"/ws?ticket={ticket}") as ws:
            assert ping(ws)
            db.revoke_api_key(key_id)
            with pytest.raises(WebSocketDisconnect) as err:
                for _ in range(100):
                    ws.receive_json()
            assert err.value.code == 4401 and "revoked" in err.value.reason
        db.dispose()


def test_heartbeat_and_bad_ops_get_frames(ws_settings) -> None:
    ws_settings.ws_heartbeat_s = 0.1
    with TestClient(create_app(ws_settings)) as api, api.websocket_connect("/ws") as ws:
        beat = frames(ws, 1, "heartbeat")[0]
        assert isinstance(beat["ts"], int)
        for op, field in (({"op": "dance"}, "op"), ({"op": "subscribe", "channels": []}, "channels"),
                          ({"op": "subscribe", "channels": ["x"], "resume": {"x": -1}}, "resume"),
                          ({"op": "subscribe", "channels": ["x"], "resume": {"x.*": 1}}, "resume"),
                          ({"op": "unsubscribe", "channels": "x"}, "channels")):
            ws.send_json(op)
            err = frames(ws, 1, "error")[0]
            assert err["field"] == field and err["message"], err
        ws.send_text("{not json")
        assert frames(ws, 1, "error")[0]["field"] == "body"
        ws.send_json({"op": "ping", "id": "p1"})
        assert frames(ws, 1, "pong")[0]["id"] == "p1"


def test_replay_of_generated_bars_arrives_complete_and_equal_to_the_catalog(api, ws_settings) -> None:
    r = api.post("/api/v1/marketdata/generate", json={"symbol": "AAA", "n": 120, "seed": 4})
    assert r.status_code == 201, r.text
    with api.websocket_connect("/ws") as ws:
        subscribe(ws, ["bars.*"])
        r = api.post("/api/v1/stream/replay", json={"symbol": "AAA", "timeframe": "1d"})
        assert r.status_code == 201, r.text
        assert r.json()["channel"] == "bars.AAA" and r.json()["bars"] == 120
        got = frames(ws, 120)
    bars = BarCatalog(ws_settings.catalog_dir).read("AAA", "1d")
    assert [f["seq"] for f in got] == list(range(1, 121))
    np.testing.assert_array_equal([f["data"]["ts"] for f in got], bars.ts)
    for col in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal([f["data"][col] for f in got], getattr(bars, col))
    items = api.get("/api/v1/stream/replay").json()["items"]
    assert items[0]["status"] == "done" and items[0]["published"] == 120
    # a paced replay can be stopped; bad input is a 4xx naming the field
    slow = api.post("/api/v1/stream/replay", json={"symbol": "AAA", "bars_per_second": 0.5, "loop": True}).json()
    stopped = api.delete(f"/api/v1/stream/replay/{slow['id']}").json()
    assert stopped["status"] == "stopped" and stopped["published"] < 120
    assert api.delete("/api/v1/stream/replay/nope").status_code == 404
    bad = api.post("/api/v1/stream/replay", json={"symbol": "AAA", "speed": -1})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "speed", bad.text
    assert api.post("/api/v1/stream/replay", json={"symbol": "ZZZ"}).status_code == 404
    window = api.post("/api/v1/stream/replay", json={"symbol": "AAA", "start": "2020-01-11", "end": "2020-01-21"})
    lo, hi = np.datetime64("2020-01-11", "ns").astype(np.int64), np.datetime64("2020-01-21", "ns").astype(np.int64)
    assert window.json()["bars"] == int(((bars.ts >= lo) & (bars.ts < hi)).sum()) == 5  # XNYS: 13th-17th (20th: MLK)


def test_redis_path_reaches_ws_subscribers(ws_settings) -> None:
    redis_bus().close()  # reachable (fails in CI otherwise)
    ws_settings.redis_url = REDIS_URL
    symbol = f"R{uuid.uuid4().hex[:8]}"
    with TestClient(create_app(ws_settings)) as api, api.websocket_connect("/ws") as ws:
        subscribe(ws, [f"bars.{symbol}"])
        api.get("/api/v1/stream/channels")  # the hub is up and subscribed to Redis
        other_process_bus = RedisBus.for_settings(ws_settings)  # what any engine process of this stack publishes through
        for i in range(5):
            other_process_bus.publish(f"bars.{symbol}", {"i": i})
        other_process_bus.close()
        got = frames(ws, 5)
        assert [(f["seq"], f["data"]["i"]) for f in got] == [(k + 1, k) for k in range(5)]


PUBLISH_CHILD = """
import json
import os
from nautilus.config import get_settings
from nautilus.runtime.bus import make_bus, forwarder
s = get_settings()
bus = make_bus(s)
for i in range(20):
    bus.publish('portfolio.orders.acct', {'i': i, 'pid': os.getpid()})
assert forwarder(s).flush(20)
"""
LAUNCH_HUB = "from nautilus.runtime.host import run_engine; run_engine('websocket')"


def test_hub_in_a_real_process_delivers_across_processes_without_redis(ws_settings, stack_env) -> None:
    from tests.support.tools import pingable, wait_for

    env = {k: v for k, v in stack_env.items() if k != "NAUTILUS_REDIS_URL"}
    hub = subprocess.Popen([sys.executable, "-c", LAUNCH_HUB], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: pingable(ws_settings, "websocket"), what="hub engine")
        with TestClient(create_app(ws_settings)) as api, api.websocket_connect("/ws") as ws:
            subscribe(ws, ["orders"])
            child = subprocess.run([sys.executable, "-c", PUBLISH_CHILD], env=env, timeout=60,
                                   capture_output=True, text=True)
            assert child.returncode == 0, child.stderr
            got = frames(ws, 20)
            assert [f["data"]["i"] for f in got] == list(range(20))
            assert len({f["data"]["pid"] for f in got}) == 1
        remote = EngineClient("websocket", ws_settings, transports=("unix",), probe=False)
        reply = remote.call("replay", ReplayRequest(channel="orders"))
        assert [m.data["i"] for m in reply.messages] == list(range(20))  # held by the hub process
        remote.close()
    finally:
        hub.terminate()
        hub.wait(10)


def test_cli_replay_start_list_stop(api, stack_env, monkeypatch) -> None:
    from typer.testing import CliRunner

    import nautilus.cli.stream  # noqa: F401  (registers the commands)
    from nautilus import config
    from nautilus.cli import app

    assert api.post("/api/v1/marketdata/generate", json={"symbol": "CLI", "n": 30, "seed": 2}).status_code == 201
    for key, value in stack_env.items():
        if key.startswith("NAUTILUS_"):
            monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    try:
        runner = CliRunner()
        out = runner.invoke(app, ["replay", "start", "CLI", "--bps", "0"])
        assert out.exit_code == 0, out.output
        assert "30 bars on channel bars.CLI" in out.output and "done: 30 bars published" in out.output
        listed = runner.invoke(app, ["replay", "list"])
        assert listed.exit_code == 0 and "bars.CLI" in listed.output
        assert runner.invoke(app, ["replay", "stop", "nope"]).exit_code == 2
        assert runner.invoke(app, ["replay", "start", "NOPE"]).exit_code == 2
        assert runner.invoke(app, ["watch", "orders", "--resume", "orders"]).exit_code == 2
    finally:
        config.get_settings.cache_clear()


@pytest.fixture
def served(ws_settings):
    """The app behind a real uvicorn server (as ``python -m nautilus.gateway`` runs it) on a free port."""
    import socket
    import threading
    import time

    import uvicorn

    app = create_app(ws_settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, loop="uvloop", http="httptools", log_level="warning",
                                           ws_per_message_deflate=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    yield app, f"ws://127.0.0.1:{sock.getsockname()[1]}/ws"
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_real_server_writes_frames_directly_batches_on_request_and_resumes(served) -> None:
    from websockets.sync.client import connect

    app, url = served
    hub = app.state.writers["websocket"].engine.hub

    def recv(ws) -> dict:
        frame = json.loads(ws.recv(timeout=10))
        return recv(ws) if frame["type"] == "heartbeat" else frame

    with connect(url + "?batch=1", compression=None) as batched, connect(url, compression=None) as plain:
        for ws in (batched, plain):
            ws.send(json.dumps({"op": "subscribe", "channels": ["orders"]}))
            assert recv(ws)["type"] == "subscribed"
        conns = app.state.ws_fanout.conns
        assert len(conns) == 2 and all(c.transport is not None for c in conns)  # uvicorn's transport was found
        assert sorted(c.batch for c in conns) == [False, True]
        hub.ingest([("portfolio.orders.a", {"i": i}) for i in range(3)])  # one poll returns all three
        batch = recv(batched)
        assert batch["type"] == "batch"
        assert [(m["type"], m["seq"], m["data"]["i"]) for m in batch["messages"]] == [
            ("message", 1, 0), ("message", 2, 1), ("message", 3, 2)]
        assert [recv(plain) for _ in range(3)] == batch["messages"]
    hub.ingest([("portfolio.orders.a", {"i": i}) for i in range(3, 5)])  # missed while disconnected
    with connect(url, compression=None) as ws:
        ws.send(json.dumps({"op": "subscribe", "channels": ["orders"], "resume": {"orders": 3}}))
        assert recv(ws)["resumed"]["orders"]["replayed"] == 2
        hub.ingest([("portfolio.orders.a", {"i": 5})])
        assert [(f["seq"], f["data"]["i"]) for f in (recv(ws) for _ in range(3))] == [(4, 3), (5, 4), (6, 5)]

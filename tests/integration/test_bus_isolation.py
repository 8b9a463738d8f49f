"""The Redis bus on a shared Redis (127.0.0.1:6379): hostile publishes, two stacks, foreign publishers, ACL users.

Redis pub/sub is server-wide (the database number does not matter), so anyone who can reach it can publish on
any channel. What must hold (``nautilus.runtime.bus``):

- a publish that is not one of the stack's messages (``PUBLISH x 42``, garbage, a truncated or huge payload,
  a bad topic, data the hub cannot send on) is dropped and counted in ``nautilus_bus_rejected_total``, logged
  rate-limited, and the next real message is delivered, to a bus subscriber, to the hub and through /ws;
- two stacks (different homes) on one Redis never see each other's messages;
- with the stack secret (the default), an unsigned or wrongly signed publish on the stack's own
  ``portfolio.orders.default`` channel never reaches its order stream;
- a Redis ACL user confined to the stack's channels works (password from a file, never logged) and Redis
  refuses its publishes outside them.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
import uuid
from typing import Any

import msgspec
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from tests.support.services import REDIS_URL, redis_bus

from nautilus.engines.websocket.engine import WebSocketEngine
from nautilus.runtime.bus import (
    REJECTED,
    BusCodec,
    InMemoryBus,
    RedisBus,
    ResilientRedisBus,
    bus_prefix,
    redact_url,
    stack_secret,
)

pytestmark = pytest.mark.integration
MAX_BYTES = 64 * 1024
ORDERS = "portfolio.orders.default"


@pytest.fixture
def raw() -> Any:
    """A plain redis-py client: what anyone who can reach the Redis server can do."""
    import redis

    redis_bus().close()  # reachable: fails in CI, skips elsewhere, when it is not
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2.0, socket_timeout=5.0)
    yield client
    client.close()


@pytest.fixture
def rsettings(settings, raw):
    """The test's stack on the shared Redis (its home, so its prefix and secret, are the test's own)."""
    settings.redis_url = REDIS_URL
    settings.bus_max_message_bytes = MAX_BYTES
    settings.ws_heartbeat_s = 30.0
    settings.ws_poll_timeout_s = 0.2
    return settings


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("nautilus_bus_rejected_total", {"reason": reason}) or 0.0


def rejected_all() -> dict[str, float]:
    return {r: rejected(r) for r in ("foreign_channel", "bad_topic", "too_large", "not_envelope", "unsigned",
                                     "bad_signature", "bad_data", "error")}


def signed(codec: BusCodec, channel: str, data: bytes) -> bytes:
    """An envelope around ``data`` (any bytes) with a valid signature: what only the stack itself can make."""
    return b'{"v":1,"mac":"' + codec._mac(channel.encode(), data) + b'","data":' + data + b"}"


def hostile(codec: BusCodec, topic: str) -> list[tuple[str, bytes, str | None]]:
    """``(channel, payload, reason)`` of publishes that must be dropped (reason ``None``: outside the prefix, so
    no subscription of the stack receives it at all)."""
    own = codec.channel(topic)
    real_other = codec.encode("portfolio.orders.other", {"i": -1})[1]
    return [
        ("x", b"42", None),  # the issue's `redis-cli PUBLISH x 42`
        (topic, b'{"i": -1}', None),  # the bare topic, un-namespaced
        (own, b"42", "not_envelope"),
        (own, b"\x80\xffnot json at all", "not_envelope"),
        (own, msgspec.msgpack.encode({"v": 1, "data": {"i": -1}}), "not_envelope"),
        (own, real_other[: len(real_other) // 2], "not_envelope"),  # truncated
        (own, b'{"v":2,"data":{"i":-1}}', "not_envelope"),
        (own, b'{"v":1,"data":{"pad":"' + b"a" * (2 * MAX_BYTES) + b'"}}', "too_large"),
        (own, b'{"v":1,"data":{"i":-1}}', "unsigned"),  # knows the prefix and the format, not the secret
        (own, b'{"v":1,"mac":"' + b"0" * 64 + b'","data":{"i":-1}}', "bad_signature"),
        (own, real_other, "bad_signature"),  # a real message replayed onto another channel
        (own, signed(codec, own, b"42"), "bad_data"),
        (own, signed(codec, own, b"[1,2]"), "bad_data"),
        (own, signed(codec, own, b'{"big":123456789012345678901234567890}'), "bad_data"),  # not msgpack-able
        (own, signed(codec, own, b'{"deep":' + b"[" * 5000 + b"]" * 5000 + b"}"), "not_envelope"),  # too deep
        (own + "\x00\u202e", signed(codec, own + "\x00\u202e", b'{"i":-1}'), "bad_topic"),
    ]


def publish_hostile(raw: Any, codec: BusCodec, topic: str) -> dict[str, int]:
    expected: dict[str, int] = {}
    for channel, payload, reason in hostile(codec, topic):
        raw.publish(channel, payload)
        if reason is not None:
            expected[reason] = expected.get(reason, 0) + 1
    return expected


def wait_rejections(before: dict[str, float], expected: dict[str, int], timeout: float = 5.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        rose = {r: v - before[r] for r, v in rejected_all().items() if v != before[r]}
        if rose == expected or time.monotonic() > deadline:
            return rose
        time.sleep(0.02)


# (a) hostile publishes --------------------------------------------------------------------------------------
def test_hostile_publishes_are_dropped_counted_and_the_next_message_arrives(rsettings, raw, caplog) -> None:
    bus = ResilientRedisBus(rsettings, local=InMemoryBus())
    sub = bus.subscribe("portfolio.orders.*")
    try:
        assert not bus.degraded and bus.codec.head == bus_prefix(rsettings) + ":" and bus.codec.secret
        REJECTED._last = -1e18  # the next rejection logs (then at most one line per interval)
        cases = hostile(bus.codec, ORDERS)
        before = rejected_all()
        with caplog.at_level(logging.WARNING, logger="nautilus.bus"):
            for i, (channel, payload, _reason) in enumerate(cases):
                raw.publish(channel, payload)
                bus.publish(ORDERS, {"i": i})
                assert sub.get(5.0) == (ORDERS, {"i": i}), (i, channel, payload[:40])
            for i in range(len(cases), len(cases) + 3):  # and after all of them, still no gap
                bus.publish(ORDERS, {"i": i})
            assert [sub.get(5.0) for _ in range(3)] == [(ORDERS, {"i": i}) for i in range(len(cases),
                                                                                            len(cases) + 3)]
            assert sub.get(0.3) is None  # nothing hostile came through
        expected: dict[str, int] = {}
        for _channel, _payload, reason in cases:
            if reason is not None:
                expected[reason] = expected.get(reason, 0) + 1
        assert wait_rejections(before, expected) == expected
        lines = [r for r in caplog.records if r.name == "nautilus.bus" and "dropped" in r.getMessage()]
        assert len(lines) == 1, [r.getMessage() for r in lines]  # rate-limited: one line for 14 rejections
        assert "a" * 100 not in caplog.text  # no payload in the log
    finally:
        sub.close()
        bus.close()


def test_hostile_publishes_do_not_stop_the_hub_or_ws(rsettings, raw) -> None:
    """Through the hub to a /ws client: the gateway hosts the hub, which subscribes to the stack's channels."""
    from tests.integration.test_websocket import frames, subscribe

    from nautilus.gateway.app import create_app

    with TestClient(create_app(rsettings)) as api, api.websocket_connect("/ws") as ws:
        subscribe(ws, ["orders"])
        api.get("/api/v1/stream/channels")  # the hub is up and subscribed to Redis
        other_process = RedisBus.for_settings(rsettings)  # what any engine process of the stack publishes through
        before = rejected_all()
        expected: dict[str, int] = {}
        sent = 0
        for i in range(3):
            for reason, n in publish_hostile(raw, other_process.codec, ORDERS).items():
                expected[reason] = expected.get(reason, 0) + n
            other_process.publish(ORDERS, {"i": i})
            sent += 1
        other_process.close()
        got = frames(ws, sent)
        assert [(f["channel"], f["seq"], f["data"]) for f in got] == [("orders", i + 1, {"i": i}) for i in range(3)]
        assert wait_rejections(before, expected) == expected
        listed = {c["channel"]: c["last_seq"] for c in api.get("/api/v1/stream/channels").json()["items"]}
        assert listed == {"orders": 3}  # nothing else was ingested (no channel "x", none for the bad topic)


# (b) two stacks on one Redis ---------------------------------------------------------------------------------
def test_two_stacks_on_one_redis_do_not_see_each_other(rsettings, tmp_path) -> None:
    a = rsettings
    b = rsettings.model_copy(update={"home": tmp_path / "other-home"})
    assert bus_prefix(a) != bus_prefix(b)
    hub_a, hub_b = WebSocketEngine(a), WebSocketEngine(b)
    bus_a, bus_b = ResilientRedisBus(a, local=InMemoryBus()), ResilientRedisBus(b, local=InMemoryBus())
    sub_a, sub_b = bus_a.subscribe("*"), bus_b.subscribe("*")
    try:
        hub_a.start()
        hub_b.start()
        for i in range(3):
            bus_a.publish(ORDERS, {"stack": "a", "i": i})
            bus_b.publish(ORDERS, {"stack": "b", "i": i})
        assert [sub_a.get(5.0) for _ in range(3)] == [(ORDERS, {"stack": "a", "i": i}) for i in range(3)]
        assert [sub_b.get(5.0) for _ in range(3)] == [(ORDERS, {"stack": "b", "i": i}) for i in range(3)]
        assert sub_a.get(0.3) is None and sub_b.get(0.1) is None
        for hub, name in ((hub_a, "a"), (hub_b, "b")):
            reply = hub.hub.poll(0, 5.0)
            deadline = time.monotonic() + 5.0
            while len(reply.messages) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
                reply = hub.hub.poll(0, 0.0)
            assert [(m.channel, m.data) for m in reply.messages] == [("orders", {"stack": name, "i": i})
                                                                     for i in range(3)]
    finally:
        for closable in (sub_a, sub_b, bus_a, bus_b, hub_a, hub_b):
            closable.close()


def test_a_stack_with_the_same_prefix_but_another_secret_is_rejected(rsettings, tmp_path) -> None:
    """Two stacks told to use one prefix (a misconfiguration) still cannot inject into each other."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    a = rsettings.model_copy(update={"bus_prefix": prefix})
    b = rsettings.model_copy(update={"bus_prefix": prefix, "home": tmp_path / "other-home"})
    assert stack_secret(a) != stack_secret(b)
    bus_a, bus_b = ResilientRedisBus(a, local=InMemoryBus()), ResilientRedisBus(b, local=InMemoryBus())
    sub_a = bus_a.subscribe("portfolio.*")
    try:
        before = rejected("bad_signature")
        bus_b.publish(ORDERS, {"from": "b"})
        bus_a.publish(ORDERS, {"from": "a"})
        assert sub_a.get(5.0) == (ORDERS, {"from": "a"})
        assert sub_a.get(0.3) is None
        assert rejected("bad_signature") == before + 1
    finally:
        sub_a.close()
        bus_a.close()
        bus_b.close()


# (c) foreign publishes on the stack's own order channel -------------------------------------------------------
def test_a_foreign_publish_on_the_stacks_order_channel_never_reaches_its_order_stream(rsettings, raw) -> None:
    from tests.integration.test_websocket import frames, subscribe

    from nautilus.gateway.app import create_app

    channel = f"{bus_prefix(rsettings)}:{ORDERS}"  # the prefix is no secret: assume the attacker knows it
    fake = {"kind": "order", "id": 999, "side": "buy", "quantity": 1e6, "symbol": "AAPL", "status": "filled"}
    with TestClient(create_app(rsettings)) as api, api.websocket_connect("/ws") as ws:
        subscribe(ws, ["orders"])
        api.get("/api/v1/stream/channels")
        bus = ResilientRedisBus(rsettings, local=InMemoryBus())
        sub = bus.subscribe(ORDERS)
        before = rejected("unsigned") + rejected("not_envelope") + rejected("bad_signature")
        raw.publish(channel, msgspec.json.encode(fake))  # the plain JSON the bus used to send
        raw.publish(channel, b'{"v":1,"data":' + msgspec.json.encode(fake) + b"}")  # the envelope, unsigned
        raw.publish(channel, b'{"v":1,"mac":"' + b"ab" * 32 + b'","data":' + msgspec.json.encode(fake) + b"}")
        real = {"kind": "order", "id": 1, "side": "sell", "quantity": 2.0, "symbol": "AAPL", "status": "new"}
        bus.publish(ORDERS, real)
        assert sub.get(5.0) == (ORDERS, real)
        assert sub.get(0.3) is None
        got = frames(ws, 1)
        assert [(f["channel"], f["seq"], f["data"]) for f in got] == [("orders", 1, real)]
        time.sleep(0.3)
        listed = {c["channel"]: c["last_seq"] for c in api.get("/api/v1/stream/channels").json()["items"]}
        assert listed == {"orders": 1}
        assert rejected("unsigned") + rejected("not_envelope") + rejected("bad_signature") >= before + 6  # twice:
        sub.close()  # the hub and the subscriber each dropped all three
        bus.close()


def test_the_stack_secret_file_is_made_once_with_mode_600(rsettings) -> None:
    path = rsettings.home / "bus.key"
    assert not path.exists()
    got: list[bytes | None] = []
    threads = [threading.Thread(target=lambda: got.append(stack_secret(rsettings))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len(set(got)) == 1 and got[0] is not None and len(got[0]) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().strip() == got[0]
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".bus.key")] == []  # no temp file left
    assert stack_secret(rsettings.model_copy(update={"bus_sign": False})) is None


# (d) Redis ACL credentials -------------------------------------------------------------------------------------
@pytest.fixture
def acl_user(rsettings, raw, tmp_path):
    """A temporary Redis ACL user allowed the stack's channels only (``&<prefix>:*``) and the commands the bus
    needs; its password in a mode-600 file. Deleted afterwards."""
    import redis

    name = f"nautilus-test-{uuid.uuid4().hex[:10]}"
    password = f"pw-{uuid.uuid4().hex}"
    prefix = bus_prefix(rsettings)
    rules = ["reset", "on", f">{password}", "resetkeys", "resetchannels", f"&{prefix}:*", "-@all", "+ping",
             "+publish", "+psubscribe", "+punsubscribe", "+client|setname"]
    try:
        try:  # redis-py names its library on connect (CLIENT SETINFO, Redis >= 7.2; refused quietly elsewhere)
            raw.execute_command("ACL", "SETUSER", name, *rules, "+client|setinfo")
        except redis.ResponseError:
            raw.execute_command("ACL", "SETUSER", name, *rules)
    except redis.ResponseError as exc:
        pytest.fail(f"cannot create an ACL user on the test Redis: {exc}")
    secret_file = tmp_path / "redis.password"
    secret_file.write_text(password + "\n")
    os.chmod(secret_file, 0o600)
    yield name, password, secret_file
    raw.execute_command("ACL", "DELUSER", name)


def test_an_acl_user_confined_to_the_stack_channels(rsettings, raw, acl_user, caplog) -> None:
    import redis

    name, password, secret_file = acl_user
    settings = rsettings.model_copy(update={"redis_username": name, "redis_password_file": secret_file})
    with caplog.at_level(logging.INFO, logger="nautilus"):
        bus = ResilientRedisBus(settings, local=InMemoryBus())
        assert not bus.degraded
        sub = bus.subscribe("portfolio.*")  # refused the narrow pattern: subscribes to <prefix>:* and filters
        wide = bus.subscribe("*")
        try:
            bus.publish("risk.alerts", {"n": 0})  # not portfolio.*: the narrow subscriber must not see it
            bus.publish(ORDERS, {"n": 1})
            assert sub.get(5.0) == (ORDERS, {"n": 1})
            assert [wide.get(5.0) for _ in range(2)] == [("risk.alerts", {"n": 0}), (ORDERS, {"n": 1})]
            assert sub.get(0.2) is None
            assert not bus.degraded
        finally:
            sub.close()
            wide.close()
            bus.close()
        # The same user on a raw connection: Redis itself refuses anything outside the stack's channels.
        user = redis.Redis.from_url(REDIS_URL, username=name, password=password, socket_timeout=5.0)
        try:
            assert user.publish(f"{bus_prefix(settings)}:{ORDERS}", b"x") >= 0
            for channel in ("x", ORDERS, f"nautilus-000000000000:{ORDERS}"):
                with pytest.raises(redis.exceptions.NoPermissionError):
                    user.publish(channel, b"42")
            with pytest.raises(redis.exceptions.NoPermissionError):
                user.get("anything")
        finally:
            user.close()
        # A wrong password: unreachable, logged without the password.
        wrong = tmp_path_file(secret_file, "not-the-password-" + uuid.uuid4().hex)
        denied = ResilientRedisBus(settings.model_copy(update={"redis_password_file": wrong}), local=InMemoryBus())
        assert denied.degraded
        denied.close()
        url_bus = ResilientRedisBus(settings.model_copy(update={
            "redis_password_file": None, "redis_username": None,
            "redis_url": REDIS_URL.replace("redis://", f"redis://{name}:{password}@")}), local=InMemoryBus())
        assert not url_bus.degraded  # the URL form works too
        url_bus.close()
    assert password not in caplog.text and wrong.read_text().strip() not in caplog.text
    assert "is up" in caplog.text and "***" in caplog.text  # the URL form was logged, redacted


def tmp_path_file(near: Any, content: str) -> Any:
    path = near.with_name("wrong.password")
    path.write_text(content + "\n")
    return path


def test_redact_url() -> None:
    assert redact_url("redis://u:s3cret@h:6379/0") == "redis://u:***@h:6379/0"
    assert redact_url("rediss://:s3cret@h/0") == "rediss://:***@h/0"
    assert redact_url("redis://h:6379/0") == "redis://h:6379/0"
    assert "s3cret" not in redact_url("redis://u:s3cret@[::1]:6379")
    assert redact_url(None) == "None"


def test_signing_cost_is_small() -> None:
    """Per message, signing adds a few microseconds to encode and to decode (a Redis round trip is ~50 us)."""
    msg = {"kind": "order", "id": 12345, "account": "main", "symbol": "AAPL", "side": "buy", "quantity": 10.0,
           "price": 187.23, "status": "filled", "client_order_id": "abc-123", "ts": 1_700_000_000_000_000_000}
    costs = {}
    for name, codec in (("plain", BusCodec("p", None)), ("signed", BusCodec("p", b"k" * 64))):
        channel, payload = codec.encode(ORDERS, msg)
        assert codec.decode(channel, payload) == (ORDERS, msg)
        n = 20_000
        t0 = time.perf_counter()
        for _ in range(n):
            codec.decode(channel, codec.encode(ORDERS, msg)[1])
        costs[name] = (time.perf_counter() - t0) / n
    print(f"\nbus codec per message (encode+decode): plain {costs['plain'] * 1e6:.1f} us, "
          f"signed {costs['signed'] * 1e6:.1f} us")
    assert costs["signed"] - costs["plain"] < 50e-6


"""The shared-memory hello: handles cross a connection only after both ends read each other's probe.

Oracles: the probe's nonce (random, 16 bytes) read back under its name; numbers compared exactly with what was
sent; a handle forged onto a connection without the hello refused by the engine (invalid_input), never mapped.
"""

from __future__ import annotations

import socket

import msgspec
import numpy as np
import pytest
from tests.support.echo_engine import ArrayReply, ArrayRequest, EchoEngine

from nautilus.runtime import host as host_module
from nautilus.runtime import sockets as sockets_module
from nautilus.runtime.host import EngineHost
from nautilus.runtime.protocol import REPLY_DECODER, REQUEST_ENCODER, Codec, FramedSocket, RequestFrame
from nautilus.runtime.shm import (
    BadHandle,
    ShmHandle,
    ShmPool,
    attach,
    local_probe,
    peer_visible,
    process_prefix,
)

VALUES = np.random.default_rng(3).standard_normal((783, 14))  # 87,696 bytes: above the 64 KiB threshold


@pytest.fixture
def host(settings):
    h = EngineHost(EchoEngine(settings), settings)
    h.start()
    yield h
    h.stop()


def _scale(settings, kind: str) -> tuple[bool, ArrayReply]:
    transport = sockets_module.SocketTransport(kind, "echo", settings)
    try:
        reply = transport.call("scale", ArrayRequest(VALUES, 3.0), ArrayReply, 10.0)
        shared = transport._idle[-1].shared
        scaled = np.array(reply.scaled)  # a copy: the view dies with the connection
        return shared, ArrayReply(reply.total, scaled)
    finally:
        transport.reset()


def test_the_probe_is_read_back_here_and_nothing_else_passes() -> None:
    probe = local_probe()
    assert probe is not None and probe.name == f"{process_prefix()}probe"
    assert peer_visible(probe.name, probe.nonce)
    assert not peer_visible(probe.name, bytes(16))  # another nonce: another /dev/shm
    assert not peer_visible(f"{process_prefix()[:-9]}00000000_probe", probe.nonce)  # no such segment
    assert not peer_visible("../../etc/passwd", probe.nonce)  # not a probe name
    assert not peer_visible(probe.name, probe.nonce[:8])


def test_segment_names_carry_a_per_process_token() -> None:
    pool = ShmPool(2**16)
    try:
        prefix = process_prefix()
        assert pool.name.startswith(prefix) and len(prefix.split("_")[2]) == 8
    finally:
        pool.close()


def test_attach_maps_only_blocks_inside_a_pool_segment() -> None:
    pool = ShmPool(2**16)
    try:
        handle = pool.lease(np.arange(16.0))
        np.testing.assert_array_equal(attach(handle), np.arange(16.0))
        for bad in (ShmHandle("../shm/other", 0, "<f8", (16,), 1), ShmHandle(local_probe().name, 0, "<f8", (2,), 1),
                    ShmHandle(pool.name, 2**16, "<f8", (16,), 1), ShmHandle(pool.name, -8, "<f8", (1,), 1),
                    ShmHandle(pool.name, 0, "<f8", (2**20,), 1), ShmHandle(pool.name, 0, "|O", (1,), 1),
                    ShmHandle(f"{process_prefix()}99", 0, "<f8", (1,), 1)):
            with pytest.raises(BadHandle):
                attach(bad)
        pool.decref(handle.block)
    finally:
        pool.close()


def test_connections_to_an_engine_sharing_our_memory_pass_handles_and_exact_numbers(host, settings) -> None:
    for kind in ("unix", "tcp"):
        shared, reply = _scale(settings, kind)
        assert shared, kind
        assert reply.total == pytest.approx(float(VALUES.sum()), rel=1e-12)
        np.testing.assert_array_equal(reply.scaled, VALUES * 3.0)


def test_an_engine_that_cannot_see_our_probe_gets_everything_inline(host, settings, monkeypatch) -> None:
    monkeypatch.setattr(host_module, "peer_visible", lambda name, nonce: False)
    used = host.pool.used
    for kind in ("unix", "tcp"):
        shared, reply = _scale(settings, kind)
        assert not shared, kind
        np.testing.assert_array_equal(reply.scaled, VALUES * 3.0)
    assert host.pool.used == used  # the engine leased nothing


def test_a_client_that_cannot_see_the_engines_probe_reconnects_inline(host, settings, monkeypatch) -> None:
    calls = []

    def blind(name: str, nonce: bytes) -> bool:
        calls.append(name)
        return False

    monkeypatch.setattr(sockets_module, "peer_visible", blind)
    shared, reply = _scale(settings, "unix")
    assert not shared and len(calls) == 1  # one hello, then a connection without one
    np.testing.assert_array_equal(reply.scaled, VALUES * 3.0)


def test_a_handle_forged_onto_a_connection_without_the_hello_is_refused(host, settings) -> None:
    pool = ShmPool(2**20)
    try:
        codec = Codec(pool, threshold=1024)
        body = codec.encode(ArrayRequest(VALUES, 1.0))
        assert codec.leases  # a real handle to a real segment of ours
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(settings.socket_path("echo")))
        framed = FramedSocket(sock)
        try:
            framed.send(REQUEST_ENCODER.encode(RequestFrame(1, "scale", msgspec.Raw(body))))
            reply = REPLY_DECODER.decode(framed.recv())
        finally:
            framed.close()
        assert reply.error is not None and reply.error.code == "invalid_input"
        assert "did not prove" in reply.error.message
    finally:
        pool.close()

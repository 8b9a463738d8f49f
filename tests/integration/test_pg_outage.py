"""PostgreSQL lost mid-session: requests that need it answer 503 (never 500) and the service recovers by
itself when the database is back. The database sits behind a TCP proxy the test cuts and restores."""

from __future__ import annotations

import socket
import threading

import pytest
from fastapi.testclient import TestClient

from nautilus.gateway.app import create_app

pytestmark = pytest.mark.integration


class Proxy:
    """A TCP relay to PostgreSQL that can be cut (listener and every live connection) and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        assert self.listener is not None
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        except OSError:
            pass
        self.listener.close()
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass
        self.conns.clear()


def test_database_outage_is_503_and_recovers(settings, pg_url) -> None:
    proxy = Proxy((pg_url.host or "127.0.0.1", pg_url.port or 5432))
    proxy.start()
    settings.database_url = pg_url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    with TestClient(create_app(settings)) as api:
        assert api.get("/api/v1/portfolio/orders").status_code == 200
        proxy.cut()
        down = api.get("/api/v1/portfolio/orders")
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "unavailable"
        order = api.post("/api/v1/portfolio/accounts", json={"name": "during-outage"})
        assert order.status_code == 503, order.text
        proxy.start()
        assert api.get("/api/v1/portfolio/orders").status_code == 200
        assert api.post("/api/v1/portfolio/accounts", json={"name": "after"}).status_code == 201

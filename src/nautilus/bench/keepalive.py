"""A minimal keep-alive HTTP/1.1 JSON client for latency cases (the standard library's ``http.client``).

The measuring instrument must not dominate what it measures: on a 2-core machine httpx spends about
0.6 ms of its own on each request, more than a gateway round trip, while ``http.client`` on one
persistent connection costs tens of microseconds. Cases that time single requests use this; load
cases keep their own clients.
"""

from __future__ import annotations

import http.client
from typing import Any

import msgspec


class HttpStatusError(RuntimeError):
    """The server answered with a status the case did not expect."""


class KeepAlive:
    """One persistent connection; ``get``/``post`` return the decoded JSON body and check the status."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None, timeout: float = 10.0) -> None:
        self._conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self._headers = {"Content-Type": "application/json", **(headers or {})}

    def get(self, path: str, expect: tuple[int, ...] = (200,)) -> Any:
        return self._request("GET", path, None, expect)

    def post(self, path: str, body: Any, expect: tuple[int, ...] = (200, 201)) -> Any:
        return self._request("POST", path, msgspec.json.encode(body), expect)

    def _request(self, method: str, path: str, body: bytes | None, expect: tuple[int, ...]) -> Any:
        self._conn.request(method, path, body=body, headers=self._headers)
        response = self._conn.getresponse()
        data = response.read()
        if response.status not in expect:
            raise HttpStatusError(f"{method} {path}: HTTP {response.status}: {data[:300]!r}")
        return msgspec.json.decode(data) if data else None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> KeepAlive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

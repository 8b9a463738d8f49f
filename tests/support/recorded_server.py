"""A local HTTP server that answers like the public sources from recorded responses (tests, the e2e stack,
the bench). Point a source at it with ``NAUTILUS_SOURCE_URLS='{"yahoo": "http://127.0.0.1:PORT"}'``.

Yahoo: ``GET /v8/finance/chart/<SYMBOL>`` answers ``tests/fixtures/yahoo/chart_<SYMBOL>_<interval>.json``
(or a generated series for symbols in ``synthetic``), else Yahoo's 404 body; every request is counted.

    python -m tests.support.recorded_server --port 8765
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOT_FOUND = {"chart": {"result": None, "error": {"code": "Not Found",
                                                 "description": "No data found, symbol may be delisted"}}}


def synthetic_chart(symbol: str, period1: int, period2: int, seed: int = 0) -> dict[str, Any]:
    """A Yahoo-shaped daily chart of weekdays in [period1, period2) (epoch s), sessions opening 14:30 UTC."""
    import numpy as np

    days = np.arange(period1 // 86_400, -(-period2 // 86_400))
    days = days[((days + 3) % 7) < 5]  # 1970-01-01 was a Thursday: weekday index (days + 3) % 7, Mon = 0
    rng = np.random.default_rng(abs(hash((symbol, seed))) % 2**32)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
    open_ = close * (1 + rng.normal(0, 0.002, len(days)))
    quote = {"open": open_.round(4).tolist(), "high": (np.maximum(open_, close) * 1.01).round(4).tolist(),
             "low": (np.minimum(open_, close) * 0.99).round(4).tolist(), "close": close.round(4).tolist(),
             "volume": rng.integers(1_000_000, 5_000_000, len(days)).tolist()}
    return {"chart": {"result": [{
        "meta": {"currency": "USD", "symbol": symbol, "exchangeTimezoneName": "America/New_York",
                 "instrumentType": "EQUITY", "longName": f"{symbol} (synthetic)", "dataGranularity": "1d"},
        "timestamp": (days * 86_400 + 14 * 3600 + 1800).tolist(),
        "indicators": {"quote": [quote]}}], "error": None}}


class RecordedServer:
    def __init__(self, port: int = 0, synthetic: tuple[str, ...] = ()) -> None:
        self.requests: list[str] = []
        self.synthetic = set(synthetic)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's API
                server.requests.append(self.path)
                status, body = server.answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        url = urlparse(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.startswith("/v8/finance/chart/"):
            symbol = url.path.rsplit("/", 1)[-1]
            if symbol in self.synthetic:
                return 200, synthetic_chart(symbol, int(query["period1"]), int(query["period2"]))
            file = FIXTURES / "yahoo" / f"chart_{symbol}_{query.get('interval', '1d')}.json"
            return (200, json.loads(file.read_text())) if file.is_file() else (404, NOT_FOUND)
        return 404, {"error": f"no recorded response for {url.path}"}

    def __enter__(self) -> RecordedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--synthetic", default="", help="comma-separated symbols served as generated series")
    args = parser.parse_args()
    with RecordedServer(args.port, tuple(s for s in args.synthetic.split(",") if s)) as server:
        print(f"recorded responses on {server.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()

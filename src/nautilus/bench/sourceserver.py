"""A local HTTP server that answers like Yahoo's chart endpoint (the bench, the tests, the e2e stack).
Point the source at it with ``NAUTILUS_SOURCE_URLS='{"yahoo": "http://127.0.0.1:PORT"}'``.

``GET /v8/finance/chart/<SYMBOL>`` answers, in Yahoo's documented shape, the recorded response
``<fixtures>/yahoo/chart_<SYMBOL>_<interval>.json`` when there is one, a generated daily series for symbols
in ``synthetic`` (labelled "(synthetic)"; each day's prices depend on the symbol and the date only, so any
two requests agree on the days they share), else Yahoo's 404 body. Every request path is kept in
``requests``.

    python -m nautilus.bench.sourceserver --port 8765 --synthetic ACME,BETA --fixtures tests/fixtures
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

NOT_FOUND = {"chart": {"result": None, "error": {"code": "Not Found",
                                                 "description": "No data found, symbol may be delisted"}}}


def synthetic_chart(symbol: str, period1: int, period2: int) -> dict[str, Any]:
    """A Yahoo-shaped daily chart of the weekdays in [period1, period2) (epoch s), sessions opening 14:30 UTC."""
    import zlib

    import numpy as np

    days = np.arange(period1 // 86_400, -(-period2 // 86_400))
    days = days[((days + 3) % 7) < 5]  # 1970-01-01 was a Thursday: weekday index (days + 3) % 7, Mon = 0
    h = zlib.crc32(symbol.encode()) % 1000
    noise = ((days * 2_654_435_761 + h * 97) % 10_007) / 10_007 - 0.5  # a deterministic hash of the day
    close = 100 * np.exp(0.2 * np.sin(days / 37.0 + h) + 0.0002 * (days - 18_000) + 0.01 * noise)
    open_ = close * (1 - 0.004 * noise)
    quote = {"open": open_.round(4).tolist(), "high": (np.maximum(open_, close) * 1.01).round(4).tolist(),
             "low": (np.minimum(open_, close) * 0.99).round(4).tolist(), "close": close.round(4).tolist(),
             "volume": (1_000_000 + (days * 7919 + h) % 4_000_000).tolist()}
    return {"chart": {"result": [{
        "meta": {"currency": "USD", "symbol": symbol, "exchangeTimezoneName": "America/New_York",
                 "instrumentType": "EQUITY", "longName": f"{symbol} (synthetic)", "dataGranularity": "1d"},
        "timestamp": (days * 86_400 + 14 * 3600 + 1800).tolist(),
        "indicators": {"quote": [quote]}}], "error": None}}


class SourceServer:
    def __init__(self, port: int = 0, synthetic: tuple[str, ...] = (), fixtures: Path | None = None) -> None:
        self.requests: list[str] = []
        self.synthetic = set(synthetic)
        self.fixtures = fixtures
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
            if self.fixtures is not None:
                file = self.fixtures / "yahoo" / f"chart_{symbol}_{query.get('interval', '1d')}.json"
                if file.is_file():
                    return 200, json.loads(file.read_text())
            return 404, NOT_FOUND
        return 404, {"error": f"no recorded response for {url.path}"}

    def __enter__(self) -> SourceServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--synthetic", default="", help="comma-separated symbols served as generated series")
    parser.add_argument("--fixtures", type=Path, default=None, help="folder with yahoo/chart_<SYMBOL>_<iv>.json")
    args = parser.parse_args()
    synthetic = tuple(s for s in args.synthetic.split(",") if s)
    with SourceServer(args.port, synthetic, args.fixtures) as server:
        print(f"Yahoo-shaped chart answers on {server.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()

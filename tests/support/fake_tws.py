"""A fake TWS / IB Gateway: a real TCP server on 127.0.0.1 speaking enough of the IB API wire protocol for
ib_async 2.1.0 to connect, look up contracts, page through historical bars and subscribe to real-time bars.

Wire protocol (as ib_async's ``client.py``/``decoder.py`` implement it): every message is a 4-byte big-endian
length followed by NUL-terminated text fields. The client opens with ``b"API\\0"`` plus one framed
``v<min>..<max>`` version range; the server answers ``<server version>\\0<connection time>\\0``; the client
sends ``startApi`` (71) and is ready once the server has sent ``nextValidId`` (9) and ``managedAccounts`` (15).
The fake announces server version 157, ib_async's minimum, whose layouts are the simplest: error messages have
no ``advancedOrderRejectJson``, contract details carry ``mdSizeMultiplier`` and no size increments, and
historical bars come in one ``historicalData`` (17) message that ends the request.

Handled requests: contract details (9) → ``contractData`` (10) + ``contractDataEnd`` (52), or error 200 for a
symbol the fake does not know; historical data (20) → ``historicalData`` (17) with the bars scripted for
``(symbol, endDateTime)``, or error 162 "HMDS query returned no data" when nothing is scripted; real-time bars
(50) → a subscription that :meth:`FakeTWS.push_bar` feeds; cancel real-time bars (51). The start-up requests
ib_async's ``IB.connectAsync`` may await (positions, open and completed orders, account updates, executions)
get their "end" message; anything else is recorded and ignored.

Symbols: a stock, index, future or crypto is keyed by its ``symbol``; a forex pair by symbol + currency
(``Forex("EURUSD")`` → ``"EURUSD"``). Scripted bars are tuples ``(time, open, high, low, close, volume)`` where
``time`` is a ``"YYYYMMDD"`` string (daily and longer bars) or int epoch seconds (intraday bars, sent as epoch
seconds when the request asks ``formatDate=2``, else as ``"YYYYMMDD HH:MM:SS UTC"``).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

SERVER_VERSION = 157
ACCOUNT = "DU1234567"
PACING_TEXT = "Historical Market Data Service error message:Historical data request pacing violation"
NO_DATA_TEXT = "Historical Market Data Service error message:HMDS query returned no data: {symbol}@SMART Trades"
NO_SECURITY_TEXT = "No security definition has been found for the request"
LOST_TEXT = "Connectivity between IB and Trader Workstation has been lost."
CLIENT_ID_TEXT = "Unable to connect as the client id is already in use. Retry with a unique client id."

Bar = tuple[str | int, float, float, float, float, float]


@dataclass
class HistoricalRequest:
    symbol: str
    end: str
    duration: str
    bar_size: str
    what_to_show: str
    use_rth: str
    format_date: str


@dataclass
class Failure:
    """Answer the next ``times`` historical requests with error ``code``; ``global_`` sends it with reqId -1
    (as TWS does for 1100 "connectivity lost") and leaves the request unanswered."""

    code: int
    text: str
    times: int
    global_: bool = False


@dataclass
class _Client:
    sock: socket.socket
    lock: threading.Lock = field(default_factory=threading.Lock)
    client_id: int | None = None
    realtime: dict[int, str] = field(default_factory=dict)  # reqId → symbol

    def send(self, *fields: object) -> None:
        payload = "".join(f"{f}\0" for f in fields).encode()
        with self.lock:
            self.sock.sendall(struct.pack(">I", len(payload)) + payload)


class FakeTWS:
    """``with FakeTWS(bars_by_symbol={"AAPL": {"20240105 00:00:00 UTC": [bars...]}}) as port: ...``

    ``bars_by_symbol[symbol][endDateTime]`` is the page answered to a historical request with that end
    (the string exactly as the client sends it). ``symbols`` names extra symbols with a definition but no bars.
    ``handshake=False`` accepts connections and never answers (a hung TWS). ``taken_client_ids`` are held by
    other (pretend) API clients: a ``startApi`` with one of them, or with the id of a client still connected, gets
    error 326 and the connection closed, as TWS does. The counters and request logs are safe to read from the
    test thread; :meth:`wait_until` blocks until a condition on them holds.
    """

    def __init__(self, bars_by_symbol: dict[str, dict[str, list[Bar]]] | None = None,
                 symbols: tuple[str, ...] = (), handshake: bool = True,
                 taken_client_ids: tuple[int, ...] = ()) -> None:
        self.bars_by_symbol = bars_by_symbol or {}
        self.symbols = set(symbols) | set(self.bars_by_symbol)
        self.handshake = handshake
        self.taken_client_ids = set(taken_client_ids)
        self.connections = 0
        self.client_ids: list[int] = []  # as each startApi asked, refused ones included
        self.contract_requests: list[str] = []
        self.contracts: list[tuple[str, str, str, str, str]] = []  # (symbol, secType, expiry, exchange, currency)
        self.historical: list[HistoricalRequest] = []
        self.realtime_requests: list[tuple[str, str, str, str]] = []  # (symbol, bar size, what, use_rth)
        self.realtime_cancels = 0
        self.ignored: list[str] = []  # message ids received and not handled
        self._failures: list[Failure] = []
        self._clients: list[_Client] = []
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]

    # Test API ------------------------------------------------------------------------------------------
    def __enter__(self) -> int:
        thread = threading.Thread(target=self._accept, name="fake-tws-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self.port

    def __exit__(self, *exc: object) -> None:
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not)
        except OSError:
            pass
        self._server.close()
        self._threads[0].join(timeout=5)  # the accept loop: no client thread starts after it ends
        self.drop()
        for thread in self._threads[1:]:
            thread.join(timeout=5)

    def fail_historical(self, code: int, text: str, times: int = 1, global_: bool = False) -> None:
        """Answer the next ``times`` historical requests with an error instead of bars."""
        with self._cond:
            self._failures.append(Failure(code, text, times, global_))

    def push_bar(self, symbol: str, bar: tuple[int, float, float, float, float, float]) -> int:
        """Send a 5-second ``realtimeBar`` (epoch open time, o, h, l, c, v) to every subscription of ``symbol``;
        returns how many subscriptions got it."""
        ts, o, h, lo, c, v = bar
        sent = 0
        with self._cond:
            targets = [(cl, req_id) for cl in self._clients for req_id, s in cl.realtime.items() if s == symbol]
        for client, req_id in targets:
            try:
                client.send(50, 3, req_id, ts, o, h, lo, c, v, (h + lo) / 2, 1)
                sent += 1
            except OSError:
                pass
        return sent

    def push_error(self, symbol: str, code: int, text: str) -> int:
        """Send error ``code`` to every real-time subscription of ``symbol``; returns how many got it."""
        with self._cond:
            targets = [(cl, req_id) for cl in self._clients for req_id, s in cl.realtime.items() if s == symbol]
        for client, req_id in targets:
            client.send(4, 2, req_id, code, text)
        return len(targets)

    def subscriptions(self, symbol: str) -> int:
        with self._cond:
            return sum(s == symbol for cl in self._clients for s in cl.realtime.values())

    def drop(self) -> None:
        """Close every client connection (TWS restarted, network cut)."""
        with self._cond:
            clients, self._clients = self._clients, []
        for client in clients:
            try:
                client.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.sock.close()
        with self._cond:
            self._cond.notify_all()

    def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until ``condition()`` is true (re-checked on every message the fake handles)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    # Server ----------------------------------------------------------------------------------------------
    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return  # closed
            client = _Client(sock)
            with self._cond:
                self._clients.append(client)
                self.connections += 1
                self._cond.notify_all()
            thread = threading.Thread(target=self._serve, args=(client,), name="fake-tws-client", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, client: _Client) -> None:
        try:
            if _recv_exact(client.sock, 4) != b"API\0":
                return
            versions = _recv_frame(client.sock).decode()  # "v157..178" (+ " options")
            low, high = (int(v) for v in versions[1:].split(" ")[0].split(".."))
            if not self.handshake or not low <= SERVER_VERSION <= high:
                while _recv_exact(client.sock, 4096, partial=True):
                    pass
                return
            client.send(SERVER_VERSION, datetime.now(UTC).strftime("%Y%m%d %H:%M:%S UTC"))
            while True:
                fields = _recv_frame(client.sock).decode().split("\0")[:-1]
                self._handle(client, fields)
                with self._cond:
                    self._cond.notify_all()
        except (OSError, ConnectionError):
            pass
        finally:
            with self._cond:
                if client in self._clients:
                    self._clients.remove(client)
                self._cond.notify_all()
            client.sock.close()

    def _handle(self, client: _Client, f: list[str]) -> None:
        msg = int(f[0])
        if msg == 71:  # startApi: 71, 2, clientId, optionalCapabilities
            client_id = int(f[2])
            with self._cond:
                self.client_ids.append(client_id)
                in_use = client_id in self.taken_client_ids or any(c.client_id == client_id for c in self._clients)
                client.client_id = None if in_use else client_id
            if in_use:
                client.send(4, 2, -1, 326, CLIENT_ID_TEXT)
                client.sock.shutdown(socket.SHUT_RDWR)
                return
            client.send(9, 1, 1)
            client.send(15, 1, ACCOUNT)
            client.send(4, 2, -1, 2104, "Market data farm connection is OK:usfarm")
        elif msg == 61:  # reqPositions
            client.send(62, 1)
        elif msg == 5:  # reqOpenOrders
            client.send(53, 1)
        elif msg == 99:  # reqCompletedOrders
            client.send(102)
        elif msg == 6:  # reqAccountUpdates
            client.send(54, 1, f[3])
        elif msg == 76:  # reqAccountUpdatesMulti
            client.send(74, 1, f[2])
        elif msg == 7:  # reqExecutions
            client.send(55, 1, f[2])
        elif msg == 9:
            self._contract_details(client, f)
        elif msg == 20:
            self._historical(client, f)
        elif msg == 50:  # reqRealTimeBars: 50, 3, reqId, contract(12), barSize, whatToShow, useRTH, options
            symbol = _key(f[4], f[5], f[12])
            with self._cond:
                client.realtime[int(f[2])] = symbol
                self.realtime_requests.append((symbol, f[15], f[16], f[17]))
        elif msg == 51:  # cancelRealTimeBars
            with self._cond:
                client.realtime.pop(int(f[2]), None)
                self.realtime_cancels += 1
        else:
            with self._cond:
                self.ignored.append(f[0])

    def _contract_details(self, client: _Client, f: list[str]) -> None:
        # 9, 8, reqId, conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange,
        # primaryExchange, currency, localSymbol, tradingClass, includeExpired, secIdType, secId
        req_id, symbol, sec_type, expiry, exchange, currency = f[2], f[4], f[5], f[6], f[10], f[12]
        key = _key(symbol, sec_type, currency)
        with self._cond:
            self.contract_requests.append(key)
            self.contracts.append((symbol, sec_type, expiry, exchange, currency))
        if key not in self.symbols:
            client.send(4, 2, req_id, 200, NO_SECURITY_TEXT)
            return
        con_id = 1000 + sorted(self.symbols).index(key)
        local = f"{symbol}.{currency}" if sec_type == "CASH" else symbol
        client.send(10, 8, req_id, symbol, sec_type, expiry, 0.0, "", exchange, currency, local, "NMS", symbol,
                    con_id, 0.01, 1, "", "ACTIVETIM,LMT,MKT", "SMART,NASDAQ", 1, 0, f"{key} Test Corp",
                    "NASDAQ" if sec_type == "STK" else "", "", "", "", "", "US/Eastern", "", "", "", "", 0,
                    "", "", "", "", "", "COMMON")
        client.send(52, 1, req_id)

    def _historical(self, client: _Client, f: list[str]) -> None:
        # 20, reqId, contract(12), includeExpired, endDateTime, barSize, duration, useRTH, whatToShow,
        # formatDate, keepUpToDate, chartOptions
        req_id = f[1]
        symbol = _key(f[3], f[4], f[11])
        request = HistoricalRequest(symbol=symbol, end=f[15], bar_size=f[16], duration=f[17], use_rth=f[18],
                                    what_to_show=f[19], format_date=f[20])
        with self._cond:
            self.historical.append(request)
            failure = next((x for x in self._failures if x.times > 0), None)
            if failure is not None:
                failure.times -= 1
        if failure is not None:
            client.send(4, 2, -1 if failure.global_ else req_id, failure.code, failure.text)
            return
        bars = self.bars_by_symbol.get(symbol, {}).get(request.end)
        if not bars:
            client.send(4, 2, req_id, 162, NO_DATA_TEXT.format(symbol=symbol))
            return
        fields: list[object] = [17, req_id, "", "", len(bars)]
        for when, o, h, lo, c, v in bars:
            fields += [_format_time(when, request.format_date), o, h, lo, c, v, (h + lo) / 2, 1]
        client.send(*fields)


def _key(symbol: str, sec_type: str, currency: str) -> str:
    return symbol + currency if sec_type == "CASH" else symbol


def _format_time(when: str | int, format_date: str) -> str:
    if isinstance(when, str):
        return when
    if format_date == "2":
        return str(when)
    return datetime.fromtimestamp(when, UTC).strftime("%Y%m%d %H:%M:%S UTC")


def _recv_exact(sock: socket.socket, n: int, partial: bool = False) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            if partial:
                return data
            raise ConnectionError("peer closed")
        data += chunk
        if partial:
            return data
    return data


def _recv_frame(sock: socket.socket) -> bytes:
    (size,) = struct.unpack(">I", _recv_exact(sock, 4))
    return _recv_exact(sock, size)

"""HTTP load from a separate process: ``wrk`` when it is on PATH, else a Python generator.

:func:`drive` returns the same summary either way: requests, errors (socket errors and non-2xx
responses), p50/p99 latency in ms and requests per second. The Python generator
(``python -m nautilus.bench.loadgen URL --connections 4 --duration 5``) keeps ``connections``
keep-alive HTTP/1.1 sockets busy, one blocking thread each, and prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from nautilus.bench.stats import percentile, sig

_WRK_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_WRK_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def drive(url: str, connections: int, duration_s: int, headers: dict[str, str]) -> dict[str, Any]:
    """Load ``url`` for ``duration_s`` whole seconds with ``connections`` concurrent connections."""
    if shutil.which("wrk"):
        return parse_wrk(_run(["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency",
                               *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
                               url], duration_s))
    return json.loads(_run([sys.executable, "-m", "nautilus.bench.loadgen", url, "--connections", str(connections),
                            "--duration", str(duration_s),
                            *(arg for name, value in headers.items() for arg in ("--header", f"{name}: {value}"))],
                           duration_s))


def _run(args: list[str], duration_s: int) -> str:
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration_s + 60)
    if out.returncode != 0:
        detail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{' '.join(args[:3])} ... exited with {out.returncode}: {detail[0]}")
    return out.stdout


# wrk ----------------------------------------------------------------------------------------------


def parse_wrk(text: str) -> dict[str, Any]:
    """The summary of ``wrk --latency`` output."""
    latency = {q: float(value) * _WRK_UNIT_MS[unit] for q, value, unit in _WRK_PERCENTILE.findall(text)}
    requests = re.search(r"^\s*(\d+) requests in", text, re.M)
    rps = re.search(r"^Requests/sec:\s*([\d.]+)", text, re.M)
    if requests is None or rps is None or set(latency) != {"50", "99"}:
        raise ValueError(f"unexpected wrk output: {text[:500]!r}")
    errors = 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return {"tool": "wrk", "requests": int(requests.group(1)), "errors": errors,
            "p50_ms": sig(latency["50"]), "p99_ms": sig(latency["99"]), "rps": sig(float(rps.group(1)))}


# Python generator ---------------------------------------------------------------------------------
class _Worker(threading.Thread):
    """One keep-alive connection sending GETs until ``deadline``."""

    def __init__(self, host: str, port: int, request: bytes, deadline: float) -> None:
        super().__init__(daemon=True)
        self.address = (host, port)
        self.request = request
        self.deadline = deadline
        self.latencies: list[float] = []
        self.errors = 0

    def run(self) -> None:
        sock: socket.socket | None = None
        buf = b""
        while time.perf_counter() < self.deadline:
            t0 = time.perf_counter()
            try:
                if sock is None:
                    sock = socket.create_connection(self.address, timeout=10)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    buf = b""
                sock.sendall(self.request)
                status, buf = _read_response(sock, buf)
            except (OSError, ValueError):
                self.errors += 1
                if sock is not None:
                    sock.close()
                sock = None
                time.sleep(0.01)  # do not spin on a dead server
                continue
            self.latencies.append(time.perf_counter() - t0)
            if not 200 <= status < 300:
                self.errors += 1
        if sock is not None:
            sock.close()


def _read_response(sock: socket.socket, buf: bytes) -> tuple[int, bytes]:
    """Status of one Content-Length framed response; returns the bytes read past it."""
    while b"\r\n\r\n" not in buf:
        buf += _recv(sock)
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = next((int(line.split(b":", 1)[1]) for line in lines[1:]
                   if line.lower().startswith(b"content-length:")), None)
    if length is None:
        raise ValueError("response without Content-Length")
    while len(rest) < length:
        rest += _recv(sock)
    return status, rest[length:]


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(1 << 16)
    if not chunk:
        raise ConnectionResetError("server closed the connection")
    return chunk


def generate(url: str, connections: int, duration_s: float, headers: dict[str, str]) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"only http:// URLs are supported, got {url!r}")
    port = parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"GET {path or '/'} HTTP/1.1\r\nHost: {parts.hostname}:{port}\r\n{head}\r\n".encode()
    start = time.perf_counter()
    workers = [_Worker(parts.hostname, port, request, start + duration_s) for _ in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    latencies = [x for worker in workers for x in worker.latencies]
    if not latencies:
        raise RuntimeError(f"no response from {url}")
    return {"tool": "python", "requests": len(latencies), "errors": sum(w.errors for w in workers),
            "p50_ms": sig(percentile(latencies, 50) * 1e3), "p99_ms": sig(percentile(latencies, 99) * 1e3),
            "rps": sig(len(latencies) / elapsed)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nautilus.bench.loadgen")
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args(argv)
    headers = dict(h.split(": ", 1) for h in args.header)
    print(json.dumps(generate(args.url, args.connections, args.duration, headers)))


if __name__ == "__main__":
    main()

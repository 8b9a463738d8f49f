"""``python -m nautilus.bench.wsclient URL CONNS EXPECT MODE [OUT]``: websocket subscribers for the
``websocket_fanout`` bench case, in their own process (a separate module so that running it registers no
bench case). ``MODE`` ``read`` records each message's delivery latency; ``slow`` subscribes and never reads.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from pathlib import Path

CHANNEL = "bench"


async def _client(url: str, conns: int, expect: int, mode: str, out: str | None) -> None:
    import websockets

    async def one(k: int, ready: asyncio.Event, counter: list[int]) -> tuple[list[int], list[int]]:
        sock = None
        if mode == "slow":  # a tiny receive window: the server's sends stall after a few KB
            host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        ws = await websockets.connect(url, max_queue=1 if mode == "slow" else 1024, open_timeout=60,
                                      ping_interval=None, sock=sock, compression=None)
        await ws.send(json.dumps({"op": "subscribe", "channels": [CHANNEL]}))
        while json.loads(await ws.recv())["type"] != "subscribed":
            pass
        counter[0] += 1
        if counter[0] == conns:
            ready.set()
        if mode == "slow":
            await asyncio.sleep(3600)  # never read again
        seen: list[int] = []
        lat: list[int] = []
        try:
            while len(seen) < expect:
                text = await asyncio.wait_for(ws.recv(), 20.0)
                now = time.time_ns()
                frame = json.loads(text)
                if frame["type"] == "message":
                    seen.append(frame["data"]["i"])
                    lat.append((now - frame["data"]["t"]) // 1_000)
        except (TimeoutError, websockets.ConnectionClosed):
            pass
        await ws.close()
        return seen, lat

    ready = asyncio.Event()
    counter = [0]
    tasks = [asyncio.create_task(one(k, ready, counter)) for k in range(conns)]
    await ready.wait()
    print("ready", flush=True)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    if out:
        summary = {"received": [], "latency_us": [], "errors": 0}
        for r in results:
            if isinstance(r, BaseException):
                summary["errors"] += 1
                continue
            summary["received"].append(sorted(set(r[0])) == list(range(expect)) and len(r[0]) == expect)
            summary["latency_us"].extend(r[1])
        summary["lost"] = sum(expect - len(set(r[0])) for r in results if not isinstance(r, BaseException))
        Path(out).write_text(json.dumps(summary))


def client_main(argv: list[str]) -> None:
    url, conns, expect, mode = argv[0], int(argv[1]), int(argv[2]), argv[3]
    out = argv[4] if len(argv) > 4 else None
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_client(url, conns, expect, mode, out))


if __name__ == "__main__":
    client_main(sys.argv[1:])

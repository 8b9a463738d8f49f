"""Bar replay: publish catalog bars on ``bars.<symbol>`` at a chosen pace, in a thread per replay.

Pace (:func:`delays`): with ``bars_per_second > 0`` bars are 1/bars_per_second apart; otherwise with
``speed > 0`` the wait before bar i is ``(ts[i] - ts[i-1]) / speed`` of real time; both 0 means as
fast as possible. Each bar is published as ``{ts, open, high, low, close, volume, symbol, timeframe,
index, replay}`` through the ``publish(topic, data)`` callable the engine gives (its bus, so that
the hub ingests it and, with Redis, every process sees it). Waits are absolute (drift-free) and a
stop request interrupts them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from nautilus.core.bars import Bars
from nautilus.core.errors import InvalidInput, NotFound
from nautilus.engines.websocket.messages import ReplayInfo, StartReplay

Publish = Callable[[str, dict[str, Any]], None]
KEEP_FINISHED = 100


def delays(ts: np.ndarray, speed: float, bars_per_second: float) -> np.ndarray:
    """Seconds from the replay's start to the publication of each bar (float64, first is 0)."""
    n = int(ts.shape[0])
    if n == 0:
        return np.zeros(0)
    if bars_per_second > 0:
        return np.arange(n, dtype=np.float64) / bars_per_second
    if speed > 0:
        return (ts.astype(np.int64) - int(ts[0])).astype(np.float64) / 1e9 / speed
    return np.zeros(n)


def bar_message(bars: Bars, i: int, replay_id: str) -> dict[str, Any]:
    return {"ts": int(bars.ts[i]), "open": float(bars.open[i]), "high": float(bars.high[i]),
            "low": float(bars.low[i]), "close": float(bars.close[i]), "volume": float(bars.volume[i]),
            "symbol": bars.symbol, "timeframe": bars.timeframe, "index": i, "replay": replay_id}


class _Replay:
    def __init__(self, replay_id: str, req: StartReplay, bars: Bars) -> None:
        self.id = replay_id
        self.req = req
        self.bars = bars
        self.status = "running"
        self.published = 0
        self.loops = 0
        self.started_at = time.time_ns()
        self.finished_at: int | None = None
        self.error: str | None = None
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def info(self) -> ReplayInfo:
        r = self.req
        return ReplayInfo(self.id, self.bars.symbol, self.bars.timeframe, f"bars.{self.bars.symbol}", self.status,
                          len(self.bars), self.published, self.loops, r.speed, r.bars_per_second, r.loop,
                          self.started_at, self.finished_at, self.error)


class Replayer:
    """Starts, stops and lists replays; ``read(symbol, timeframe, start_ns, end_ns) -> Bars`` reads the catalog."""

    def __init__(self, read: Callable[[str, str, int | None, int | None], Bars], publish: Publish) -> None:
        self.read = read
        self.publish = publish
        self._replays: dict[str, _Replay] = {}
        self._lock = threading.Lock()

    def start(self, req: StartReplay) -> ReplayInfo:
        if req.speed < 0 or not np.isfinite(req.speed):
            raise InvalidInput("speed must be >= 0 (0: as fast as possible)", field="speed")
        if req.bars_per_second < 0 or not np.isfinite(req.bars_per_second):
            raise InvalidInput("bars_per_second must be >= 0 (0: use speed)", field="bars_per_second")
        if not req.symbol:
            raise InvalidInput("symbol is required", field="symbol")
        if req.loop and req.speed == 0 and req.bars_per_second == 0:
            raise InvalidInput("a looping replay needs a pace (speed or bars_per_second > 0)", field="loop")
        try:
            bars = self.read(req.symbol, req.timeframe, req.start_ns, req.end_ns)
        except NotFound:
            raise NotFound(f"no {req.timeframe} bars of {req.symbol!r} in the catalog", field="symbol") from None
        if len(bars) == 0:
            raise InvalidInput(f"{req.symbol} has no {req.timeframe} bars in the range", field="symbol")
        rep = _Replay(uuid.uuid4().hex[:12], req, bars)
        rep.thread = threading.Thread(target=self._run, args=(rep,), daemon=True, name=f"replay-{rep.id}")
        with self._lock:
            self._forget_finished()
            self._replays[rep.id] = rep
        rep.thread.start()
        return rep.info()

    def _run(self, rep: _Replay) -> None:
        bars = rep.bars
        topic = f"bars.{bars.symbol}"
        offsets = delays(bars.ts, rep.req.speed, rep.req.bars_per_second)
        step = 1.0 / rep.req.bars_per_second if rep.req.bars_per_second > 0 else 0.0
        try:
            while True:
                t0 = time.monotonic()
                for i in range(len(bars)):
                    wait = t0 + offsets[i] - time.monotonic()
                    if (wait > 0 and rep.stop.wait(wait)) or rep.stop.is_set():
                        rep.status = "stopped"
                        return
                    self.publish(topic, bar_message(bars, i, rep.id))
                    rep.published += 1
                if not rep.req.loop:
                    rep.status = "done"
                    return
                rep.loops += 1
                if rep.stop.wait(max(step, 1e-3)):
                    rep.status = "stopped"
                    return
        except Exception as exc:  # a failing publisher ends this replay, visibly
            rep.status, rep.error = "failed", str(exc)
        finally:
            rep.finished_at = time.time_ns()

    def stop(self, replay_id: str, timeout: float = 5.0) -> ReplayInfo:
        rep = self._get(replay_id)
        rep.stop.set()
        if rep.thread is not None and rep.thread is not threading.current_thread():
            rep.thread.join(timeout)
        return rep.info()

    def get(self, replay_id: str) -> ReplayInfo:
        return self._get(replay_id).info()

    def _get(self, replay_id: str) -> _Replay:
        rep = self._replays.get(replay_id)
        if rep is None:
            raise NotFound(f"no replay {replay_id!r}", field="id")
        return rep

    def list(self) -> list[ReplayInfo]:
        with self._lock:
            reps = list(self._replays.values())
        return [r.info() for r in sorted(reps, key=lambda r: r.started_at, reverse=True)]

    def _forget_finished(self) -> None:
        done = [r for r in self._replays.values() if r.status != "running"]
        for rep in sorted(done, key=lambda r: r.started_at)[:max(0, len(done) - KEEP_FINISHED)]:
            del self._replays[rep.id]

    def close(self) -> None:
        with self._lock:
            reps = list(self._replays.values())
        for rep in reps:
            rep.stop.set()
        for rep in reps:
            if rep.thread is not None:
                rep.thread.join(2.0)

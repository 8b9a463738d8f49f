"""One router per engine; each carries the full versioned prefix so metrics see the real route."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from nautilus.runtime.client import EngineClient

API_PREFIX = "/api/v1"
INLINE_TIMEOUT_S = 1.0


async def call_engine(client: EngineClient, method: str, request: Any = None, *, inline: bool = False) -> Any:
    """Call an engine from a route.

    ``inline`` runs the (blocking, ~100 µs) call on the event loop, skipping the thread hop; use it
    only for calls known to be small, and it gets a short timeout so a hung engine cannot stall the
    loop for long (idempotent calls then fall through to the next transport). Everything else
    runs in the thread pool.
    """
    if inline:
        return client.call(method, request, timeout=min(INLINE_TIMEOUT_S, client.settings.call_timeout_s))
    return await run_in_threadpool(client.call, method, request)

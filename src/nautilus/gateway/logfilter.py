"""Keep secrets out of the server's own log lines.

uvicorn logs every WebSocket handshake on ``uvicorn.error`` as ``"WebSocket <path>?<query>"``, access log
or not. A query string may carry a one-use ``/ws`` ticket, or a key someone put in a URL (refused, but
logged before the refusal). :class:`StripQuery` drops the query string from those records.
"""

from __future__ import annotations

import logging


class StripQuery(logging.Filter):
    """Remove the query string from uvicorn's ``"WebSocket %s"`` handshake records (the record stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args and "WebSocket" in str(record.msg):
            record.args = tuple(a.split("?", 1)[0] if isinstance(a, str) else a for a in args)
        return True


def install() -> None:
    """Attach the filter to uvicorn's loggers (idempotent; call after uvicorn configured logging)."""
    for name in ("uvicorn.error", "uvicorn.access", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, StripQuery) for f in logger.filters):
            logger.addFilter(StripQuery())

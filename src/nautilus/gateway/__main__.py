"""``python -m nautilus.gateway``: serve the gateway with uvicorn (uvloop + httptools)."""

from __future__ import annotations

import uvicorn

from nautilus.config import get_settings
from nautilus.gateway.app import create_app
from nautilus.gateway.auth import check_bind


def main() -> None:
    settings = get_settings()
    check_bind(settings, settings.listen_host)  # open mode (no keys) only on loopback
    uvicorn.run(create_app(settings), host=settings.listen_host, port=settings.gateway_bind_port,
                loop="uvloop", http="httptools", access_log=False, log_level="info",
                # per-message deflate would compress every frame once per connection: fan-out pays it 1,000 times
                ws_per_message_deflate=False)


if __name__ == "__main__":
    main()

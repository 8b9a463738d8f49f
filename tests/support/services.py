"""The PostgreSQL and Redis the integration tests use: both always run on CI machines, so a missing service
fails the test there (``CI`` set) and only skips it elsewhere."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

from nautilus.runtime.bus import RedisBus

REDIS_URL = os.environ.get("NAUTILUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def service_missing(reason: str) -> NoReturn:
    """Fail with ``reason`` when ``CI`` is set, else skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


def redis_bus() -> RedisBus:
    """A bus on the test Redis (fails in CI, skips elsewhere, when it is unreachable)."""
    try:
        return RedisBus(REDIS_URL)
    except Exception as exc:
        service_missing(f"Redis at {REDIS_URL} is unreachable: {exc}")

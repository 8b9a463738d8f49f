"""/api/v1/stream: channels of the WebSocket hub and bar replay."""

from __future__ import annotations

from fastapi import APIRouter

from nautilus.gateway.routers import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/stream", tags=["stream"])

"""/api/v1/analytics."""

from __future__ import annotations

from fastapi import APIRouter

from nautilus.gateway.routers import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/analytics", tags=["analytics"])

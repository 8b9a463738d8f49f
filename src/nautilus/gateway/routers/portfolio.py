"""/api/v1/portfolio."""

from __future__ import annotations

from fastapi import APIRouter

from nautilus.gateway.routers import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/portfolio", tags=["portfolio"])

"""Compute backend choice: CUDA (torch) > MPS (torch) > CPU (numba/numpy), made once per process.

``NAUTILUS_COMPUTE_BACKEND=auto`` takes the best present; naming ``cuda`` or ``mps`` when it is
absent is an error (a silent CPU fallback would hide a misconfigured GPU box).
"""

from __future__ import annotations

import glob
import importlib.metadata
import importlib.util
import os
import sys
from functools import lru_cache

import msgspec

from nautilus.core.errors import InvalidInput


class BackendInfo(msgspec.Struct, frozen=True):
    name: str  # "cuda" | "mps" | "cpu"
    device: str  # e.g. "NVIDIA H100", "Apple GPU", "8 CPU cores"
    torch: str | None  # torch version when importable


def _accelerator_possible() -> bool:
    """False where neither CUDA (no NVIDIA driver) nor MPS (not macOS) can exist, decided without torch."""
    if sys.platform == "darwin":
        return True
    return os.path.exists("/proc/driver/nvidia/version") or bool(glob.glob("/dev/nvidia[0-9]*"))


@lru_cache(maxsize=4)
def detect_backend(preference: str = "auto") -> BackendInfo:
    if preference not in ("auto", "cpu", "cuda", "mps"):
        raise InvalidInput(f"compute backend {preference!r} is not one of auto, cpu, cuda, mps",
                           field="compute_backend")
    cpu = BackendInfo("cpu", f"{os.cpu_count()} CPU cores", None)
    if preference == "auto" and importlib.util.find_spec("torch") is not None and not _accelerator_possible():
        # importing torch costs ~250 MB per process: only do it where a GPU could be there
        return BackendInfo("cpu", cpu.device, importlib.metadata.version("torch"))
    if preference == "cpu" or importlib.util.find_spec("torch") is None:
        if preference in ("cuda", "mps"):
            raise InvalidInput(f"compute backend {preference!r} requested but PyTorch is not installed",
                               field="compute_backend")
        return cpu
    import torch

    version = str(torch.__version__)
    if preference in ("auto", "cuda") and torch.cuda.is_available():
        return BackendInfo("cuda", torch.cuda.get_device_name(0), version)
    mps = getattr(torch.backends, "mps", None)
    if preference in ("auto", "mps") and mps is not None and mps.is_available():
        return BackendInfo("mps", "Apple GPU", version)
    if preference != "auto":
        raise InvalidInput(f"compute backend {preference!r} requested but torch {version} cannot use it",
                           field="compute_backend")
    return BackendInfo("cpu", cpu.device, version)


def configured_backend() -> BackendInfo:
    """The backend for this process's configured preference (``NAUTILUS_COMPUTE_BACKEND``, default auto)."""
    from nautilus.config import get_settings

    return detect_backend(get_settings().compute_backend)

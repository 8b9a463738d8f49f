"""JSON-friendly copies of handler results: what msgspec's JSON encoder and the gateway accept."""

from __future__ import annotations

from typing import Any

import numpy as np


def plain(obj: Any) -> Any:
    """Numpy arrays and scalars to Python, datetimes to ISO 8601 text, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj

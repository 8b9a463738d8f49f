"""Fault-injection points for the crash tests: ``NAUTILUS_FAULTS="name=probability,..."``.

A stateful engine calls :func:`point` where a crash is most telling (after a commit, before the reply);
with the variable set, the process kills itself there (SIGKILL: no clean-up, like a power cut) with the
given probability. Unset (always, outside the fault-injection suite) a point costs one dict lookup.
"""

from __future__ import annotations

import os
import random
import signal
from typing import Final


def _parse(text: str) -> dict[str, float]:
    points: dict[str, float] = {}
    for part in text.split(","):
        name, _, probability = part.strip().partition("=")
        if name:
            points[name] = float(probability or 1.0)
    return points


POINTS: Final = _parse(os.environ.get("NAUTILUS_FAULTS", ""))


def point(name: str) -> None:
    """Die here (SIGKILL) with the configured probability of ``name``."""
    probability = POINTS.get(name)
    if probability is not None and random.random() < probability:
        os.kill(os.getpid(), signal.SIGKILL)

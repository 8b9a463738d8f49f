"""GPU utilisation and memory for the metrics, read with ``nvidia-smi`` (no torch import needed).

``nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits``
prints one line per GPU, e.g. ``0, NVIDIA H100 80GB HBM3, 37, 1520, 81559`` (percent, MiB, MiB); a field the
driver cannot read prints ``[N/A]`` (or ``[Not Supported]``) and is skipped. Processes on a machine without
``nvidia-smi`` report nothing. Results are cached for a few seconds: a Prometheus scrape must not wait on the
driver every time.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from dataclasses import dataclass

QUERY = "index,name,utilization.gpu,memory.used,memory.total"
CACHE_S = 5.0
MIB = 2**20


@dataclass(frozen=True)
class GpuStats:
    index: int
    name: str
    utilization: float | None  # 0..1
    memory_used_bytes: float | None
    memory_total_bytes: float | None


def parse_nvidia_smi(text: str) -> list[GpuStats]:
    """The GPUs of one ``nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits`` answer."""
    out = []
    for line in text.strip().splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 5 or not fields[0].isdigit():
            continue
        util, used, total = (_number(f) for f in fields[2:])
        out.append(GpuStats(int(fields[0]), fields[1], None if util is None else util / 100.0,
                            None if used is None else used * MIB, None if total is None else total * MIB))
    return out


def _number(field: str) -> float | None:
    try:
        return float(field)
    except ValueError:  # [N/A], [Not Supported]
        return None


_cache: tuple[float, list[GpuStats]] = (0.0, [])
_lock = threading.Lock()


def gpu_stats() -> list[GpuStats]:
    """The machine's NVIDIA GPUs now (cached ``CACHE_S``); empty without ``nvidia-smi`` or when it fails."""
    global _cache
    with _lock:
        if time.monotonic() - _cache[0] < CACHE_S:
            return _cache[1]
        binary = shutil.which("nvidia-smi")
        stats: list[GpuStats] = []
        if binary is not None:
            try:
                done = subprocess.run([binary, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"],
                                      capture_output=True, text=True, timeout=2.0)
                if done.returncode == 0:
                    stats = parse_nvidia_smi(done.stdout)
            except (OSError, subprocess.TimeoutExpired):
                stats = []
        _cache = (time.monotonic(), stats)
        return stats

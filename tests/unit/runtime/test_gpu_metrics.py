"""GPU metrics from nvidia-smi's CSV answer (recorded lines in its documented format), and nothing without it."""

from __future__ import annotations

from prometheus_client import generate_latest

from nautilus.runtime import gpu, metrics
from nautilus.runtime.gpu import parse_nvidia_smi

ANSWER = """0, NVIDIA H100 80GB HBM3, 37, 1520, 81559
1, NVIDIA H100 80GB HBM3, [N/A], 0, 81559
"""


def test_parse_nvidia_smi() -> None:
    first, second = parse_nvidia_smi(ANSWER)
    assert (first.index, first.name, first.utilization) == (0, "NVIDIA H100 80GB HBM3", 0.37)
    assert first.memory_used_bytes == 1520 * 2**20 and first.memory_total_bytes == 81559 * 2**20
    assert second.utilization is None and second.memory_used_bytes == 0
    assert parse_nvidia_smi("") == [] and parse_nvidia_smi("garbage line\n") == []


def test_gauges_follow_the_answer(monkeypatch) -> None:
    monkeypatch.setattr(gpu, "_cache", (float("inf"), parse_nvidia_smi(ANSWER)))  # a fresh cached answer
    metrics.update_gpu_metrics()
    text = generate_latest().decode()
    assert 'nautilus_gpu_utilization_ratio{gpu="0",name="NVIDIA H100 80GB HBM3"} 0.37' in text
    assert 'nautilus_gpu_memory_bytes{gpu="0",name="NVIDIA H100 80GB HBM3",state="used"} 1.59383552e+09' in text
    assert 'nautilus_gpu_utilization_ratio{gpu="1"' not in text  # [N/A] is not reported as 0


def test_no_nvidia_smi_means_no_gpus(monkeypatch) -> None:
    monkeypatch.setattr(gpu, "_cache", (0.0, []))
    monkeypatch.setattr(gpu.shutil, "which", lambda name: None)
    assert gpu.gpu_stats() == []

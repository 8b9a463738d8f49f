"""Device check of the CUDA paths that unit tests cannot reach without a GPU.

Run by ``scripts/device_check.sh`` on the GPU machine (``--expect cuda``) and, as a dry run, on a CPU box
(``--expect cpu``: the same code path, the GPU readings skipped). It checks, against independent
readings (torch's own device queries, nvidia-smi's full report, float64 CPU references):

* ``detect_backend()`` answers cuda and names the device torch names;
* ``gpu_stats()`` parses the real ``nvidia-smi`` answer (name and total memory agree with torch);
* after a 1 GiB torch allocation and queued GPU work, ``update_gpu_metrics()`` and
  ``update_process_gpu_memory()`` put the three GPU gauges into ``generate_latest()`` with plausible values;
* ``TorchPredictor`` on the device ``detect_backend()`` resolves (as the engines pass it) serves an MLP and
  an LSTM on cuda, equal to float64 CPU references, and survives a save/load round trip;
* ``montecarlo.simulate(backend="torch", device=...)`` with that device reports it and agrees with the numpy
  backend within Monte Carlo error.

Prints every reading; writes them as JSON to ``--json``; exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

GIB = 2**30
readings: dict[str, Any] = {}
failures: list[str] = []


def check(name: str, ok: bool, detail: Any = None) -> None:
    readings.setdefault("checks", {})[name] = {"ok": bool(ok), "detail": detail}
    print(f"[{'PASS' if ok else 'FAIL'}] {name}: {detail}", flush=True)
    if not ok:
        failures.append(name)


def section(name: str, func, *args) -> None:
    print(f"--- {name}", flush=True)
    t0 = time.perf_counter()
    try:
        func(*args)
    except Exception:
        check(f"{name} raised", False, traceback.format_exc())
    readings.setdefault("seconds", {})[name] = round(time.perf_counter() - t0, 3)


def backend_section(expect: str) -> None:
    import torch

    from nautilus.runtime.backend import detect_backend

    info = detect_backend()
    readings["backend"] = {"name": info.name, "device": info.device, "torch": info.torch,
                           "torch_cuda_build": torch.version.cuda}
    print(readings["backend"])
    check("detect_backend() is the expected backend", info.name == expect, info.name)
    if expect == "cuda":
        check("detect_backend() names torch's device", info.device == torch.cuda.get_device_name(0), info.device)
        check("detect_backend('cuda') works", detect_backend("cuda").name == "cuda")


def gpu_metrics_section(expect: str) -> None:
    import torch
    from prometheus_client import generate_latest

    from nautilus.runtime import gpu, metrics

    stats = gpu.gpu_stats()
    readings["gpu_stats_before"] = [vars(s) if hasattr(s, "__dict__") else repr(s) for s in stats]
    print("gpu_stats():", stats)
    if expect != "cuda":
        check("no GPUs reported without nvidia-smi", stats == [] or gpu.shutil.which("nvidia-smi") is not None)
        return
    check("gpu_stats() parsed the real nvidia-smi", len(stats) == torch.cuda.device_count(), len(stats))
    props = torch.cuda.get_device_properties(0)
    first = stats[0]
    check("name agrees with torch", first.name == props.name, (first.name, props.name))
    total = first.memory_total_bytes
    check("total memory agrees with torch within 1%",
          total is not None and abs(total - props.total_memory) <= 0.01 * props.total_memory,
          (total, props.total_memory))
    check("utilization read as a fraction", first.utilization is not None and 0.0 <= first.utilization <= 1.0,
          first.utilization)

    used_before = first.memory_used_bytes or 0.0
    block = torch.empty(GIB, dtype=torch.uint8, device="cuda")
    block.fill_(1)
    a = torch.randn(4096, 4096, device="cuda")
    b = a @ a  # the first product pays for cuBLAS's start: keep it out of the timing below
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(10):
        b = a @ a
    torch.cuda.synchronize()
    per = (time.perf_counter() - t0) / 10
    # queue ~3 s of products, then read the driver's utilisation sample while they run
    n = int(min(20_000, max(100, 3.0 / max(per, 1e-6))))
    t0 = time.perf_counter()
    for _ in range(n):
        b = a @ a
    launched = time.perf_counter() - t0
    polls = []
    for _ in range(6):
        time.sleep(0.3)
        gpu._cache = (0.0, [])  # the 5 s cache would answer with an earlier reading
        metrics.update_gpu_metrics()
        polls.append(gpu.gpu_stats()[0].utilization)
        if polls[-1]:
            break
    metrics.update_process_gpu_memory()
    allocated = torch.cuda.memory_allocated()
    torch.cuda.synchronize()
    busy_s = time.perf_counter() - t0
    del b
    readings["queued_matmuls"] = {"count": n, "seconds_each": per, "launch_s": launched,
                                  "until_done_s": busy_s, "utilization_polls": polls}
    print(readings["queued_matmuls"])
    text = generate_latest().decode()
    lines = [line for line in text.splitlines() if line.startswith("nautilus_gpu_")]
    readings["gauge_lines"] = lines
    print("\n".join(lines))

    def value(pattern: str) -> float | None:
        for line in lines:
            if re.match(pattern, line):
                return float(line.rsplit(" ", 1)[1])
        return None

    label = re.escape(f'gpu="0",name="{props.name}"')
    util = value(rf"nautilus_gpu_utilization_ratio\{{{label}\}} ")
    used = value(rf'nautilus_gpu_memory_bytes\{{{label},state="used"\}} ')
    tot = value(rf'nautilus_gpu_memory_bytes\{{{label},state="total"\}} ')
    proc = value(r'nautilus_gpu_process_memory_bytes\{backend="cuda"\} ')
    check("utilization gauge present and busy (> 0) under queued work", util is not None and 0 < util <= 1, util)
    check("used-memory gauge grew by >= 1 GiB after the allocation",
          used is not None and used - used_before >= 0.95 * GIB, (used_before, used))
    check("total-memory gauge equals nvidia-smi's total", tot == total, tot)
    check("process gauge equals torch.cuda.memory_allocated() and holds the 1 GiB block",
          proc is not None and proc == allocated and proc >= GIB, (proc, allocated))
    del block, a
    torch.cuda.empty_cache()


def predictor_section(expect: str) -> None:
    import torch
    from torch import nn

    from nautilus.ml.serving import TorchPredictor, load_predictor
    from nautilus.runtime.backend import detect_backend

    device = detect_backend().name  # what the engines resolve and pass to the kernels

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mlp = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 3))
    X = rng.normal(size=(257, 12))
    with torch.no_grad():
        ref = torch.softmax(mlp.double()(torch.from_numpy(X)), dim=1).numpy()
    mlp.float()
    pred = TorchPredictor(mlp, device)
    check("TorchPredictor picks the expected device", pred.device.type == expect, str(pred.device))
    out = pred.predict(X)
    check("MLP batch equals the float64 CPU reference (float32 tolerance)",
          out.shape == ref.shape and np.abs(out - ref).max() < 1e-5, float(np.abs(out - ref).max()))
    ones = np.array([pred.predict_one(x) for x in X[:20]])
    check("MLP predict_one equals the reference row by row", np.abs(ones - ref[:20]).max() < 1e-5,
          float(np.abs(ones - ref[:20]).max()))
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_predictor(pred.save(Path(tmp) / "mlp"), device=lambda: device)  # as the engines call it
        check("saved module is still on the device after save()",
              next(pred.module.parameters()).device.type == expect)
        check("loaded predictor runs on the device and answers the same",
              loaded.device.type == expect and np.array_equal(loaded.predict(X), out), str(loaded.device))

    class Seq(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(4, 16, batch_first=True)
            self.head = nn.Linear(16, 1)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])

    seq = Seq()
    S = rng.normal(size=(64, 10, 4))
    with torch.no_grad():
        sref = torch.sigmoid(Seq.forward(_double(seq), torch.from_numpy(S))).numpy()[:, 0]
    seq.float()
    spred = TorchPredictor(seq, device, seq_len=10)
    sout = spred.predict(S)
    sone = np.array([spred.predict_one(s) for s in S[:8]])
    # cuDNN's LSTM came within 1e-5 of the float64 reference on the H100 (9.9e-6): allow a little headroom
    check("LSTM batch on the device equals the float64 reference", np.abs(sout - sref).max() < 5e-5,
          float(np.abs(sout - sref).max()))
    check("LSTM predict_one equals the reference", np.abs(sone - sref[:8]).max() < 5e-5,
          float(np.abs(sone - sref[:8]).max()))


def _double(module):
    import copy

    return copy.deepcopy(module).double()


def montecarlo_section(expect: str) -> None:
    from nautilus.bench.cases.risk_montecarlo import book
    from nautilus.risk import montecarlo
    from nautilus.runtime.backend import detect_backend

    device = detect_backend().name  # what the Risk engine resolves and passes down
    cov, w = book()
    out = {}
    for backend in ("numpy", "torch"):
        montecarlo.simulate(cov, w, paths=20_000, backend=backend, seed=9, device=device)  # warm
        res = montecarlo.simulate(cov, w, paths=400_000, backend=backend, seed=1, device=device)
        out[backend] = res
        readings.setdefault("montecarlo", {})[backend] = {"device": res.device, "var": res.var, "cvar": res.cvar,
                                                          "var_se": res.var_stderr, "seconds": res.elapsed}
    print(readings["montecarlo"])
    t, n = out["torch"], out["numpy"]
    check("simulate(backend='torch') ran on the expected device", t.device == expect, t.device)
    tol = 4 * math.hypot(t.var_stderr, n.var_stderr)
    check("torch VaR agrees with numpy within 4 combined SE", abs(t.var - n.var) < tol, (t.var, n.var, tol))
    check("component CVaR sums to CVaR on the device", bool(np.isclose(t.component_cvar.sum(), t.cvar, rtol=1e-9)))
    for kw in ({"variance_reduction": "importance", "model": "t"}, {"variance_reduction": "sobol+antithetic"},
               {"horizon": 5, "aggregation": "compound", "dtype": "float64"}):
        r = montecarlo.simulate(cov, w, paths=100_000, backend="torch", seed=3, device=device, **kw)
        rn = montecarlo.simulate(cov, w, paths=100_000, backend="numpy", seed=3, **kw)
        tol = 4 * math.hypot(r.var_stderr, rn.var_stderr)
        check(f"torch {kw} agrees with numpy", r.device == expect and abs(r.var - rn.var) < tol,
              (r.device, r.var, rn.var, tol))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--expect", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    section("backend", backend_section, args.expect)
    section("gpu metrics", gpu_metrics_section, args.expect)
    section("TorchPredictor", predictor_section, args.expect)
    section("montecarlo torch", montecarlo_section, args.expect)
    readings["failures"] = failures
    args.json.write_text(json.dumps(readings, indent=2, default=str))
    print(f"probe: {len(readings['checks']) - len(failures)} passed, {len(failures)} failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

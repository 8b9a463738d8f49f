"""The compute backend is resolved by the engines and passed to the kernels, which read no settings.

``NAUTILUS_COMPUTE_BACKEND=cpu`` keeps Monte Carlo and model serving off a GPU the machine has, and ``auto``
takes the best one present: the Risk engine hands ``montecarlo.simulate`` the device its settings resolve to,
the ML and Strategy engines hand ``registry.load_serving`` a resolver that is called only for a torch model.
The machine is faked as one whose ``auto`` choice is CUDA.
"""

from __future__ import annotations

import numpy as np
import pytest

from nautilus.core.errors import InvalidInput
from nautilus.marketdata.synthetic import gbm_bars
from nautilus.runtime import backend
from nautilus.runtime import engine as runtime_engine

START = 1_577_836_800 * 10**9  # 2020-01-01


def fake_detect(preference: str = "auto") -> backend.BackendInfo:
    name = "cuda" if preference in ("auto", "cuda") else preference
    return backend.BackendInfo(name, "fake", "x")


@pytest.fixture(autouse=True)
def cuda_machine(monkeypatch) -> None:
    monkeypatch.setattr(runtime_engine, "detect_backend", fake_detect)


class Stop(Exception):
    pass


@pytest.mark.parametrize("preference, device", [("auto", "cuda"), ("cpu", "cpu")])
def test_risk_engine_passes_its_backend_to_the_torch_monte_carlo(settings, monkeypatch, preference, device) -> None:
    from nautilus.engines.risk.engine import RiskEngine
    from nautilus.engines.risk.messages import VarRequest
    from nautilus.risk import montecarlo

    settings.compute_backend = preference
    eng = RiskEngine(settings)
    eng.start()
    try:
        for k, symbol in enumerate(("AAA", "BBB")):
            eng.catalog.write(gbm_bars(symbol, "1d", START, 300, seed=k))
        seen: list[dict] = []

        def spy(*args, **kwargs):
            seen.append(kwargs)
            raise Stop

        monkeypatch.setattr(montecarlo, "simulate", spy)
        for backend_name in ("torch", "numpy"):
            req = VarRequest(portfolio={"AAA": 1e6, "BBB": -5e5}, lookback=250, method="mc",
                             options={"paths": 1000, "backend": backend_name})
            with pytest.raises(Stop):
                eng.var(req)
        assert seen[0]["device"] == device
        assert "device" not in seen[1]  # the CPU backends: nothing resolved (on a GPU box that imports torch)
    finally:
        eng.close()


def test_a_request_cannot_name_the_device(settings) -> None:
    from nautilus.engines.risk.engine import RiskEngine
    from nautilus.engines.risk.messages import VarRequest

    eng = RiskEngine(settings)
    eng.start()
    try:
        for k, symbol in enumerate(("AAA", "BBB")):
            eng.catalog.write(gbm_bars(symbol, "1d", START, 300, seed=k))
        req = VarRequest(portfolio={"AAA": 1e6, "BBB": -5e5}, lookback=250, method="mc",
                         options={"paths": 1000, "backend": "numpy", "device": "cuda"})
        with pytest.raises(InvalidInput) as info:
            eng.var(req)
        assert info.value.field == "options.device"
    finally:
        eng.close()


@pytest.mark.parametrize("preference, device", [("auto", "cuda"), ("cpu", "cpu")])
def test_ml_engine_serves_torch_models_on_its_backend(settings, monkeypatch, preference, device) -> None:
    from nautilus.engines.ml.engine import MLEngine
    from nautilus.ml import registry

    settings.compute_backend = preference
    eng = MLEngine(settings)
    eng.start()
    try:
        seen = []
        monkeypatch.setattr(registry, "load_serving", lambda folder, device: seen.append(device) or object())
        monkeypatch.setattr(eng, "_warm_kernels", lambda: None)
        eng._serve({"name": "m", "version": 1, "artifact": "unused", "feature_names": ["x"], "kind": "mlp"})
        assert len(seen) == 1 and callable(seen[0]) and seen[0]() == device
    finally:
        eng.close()


def test_load_predictor_resolves_the_device_for_torch_modules_only(tmp_path) -> None:
    """A compiled model never calls the resolver (finding a GPU may import torch); a torch module does."""
    import torch
    from torch import nn

    from nautilus.ml.serving import CompiledMLP, TorchPredictor, load_predictor

    calls = []

    def resolve() -> str:
        calls.append(1)
        return "cpu"

    module = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).eval()
    X = np.random.default_rng(0).normal(size=(5, 3))
    with torch.inference_mode():
        expected = torch.sigmoid(module(torch.from_numpy(X).float())).numpy()[:, 0]
    compiled = load_predictor(CompiledMLP.from_torch(module).save(tmp_path / "mlp"), device=resolve)
    assert calls == [] and isinstance(compiled, CompiledMLP)
    served = load_predictor(TorchPredictor(module).save(tmp_path / "torch"), device=resolve)
    assert calls == [1] and isinstance(served, TorchPredictor) and served.device.type == "cpu"
    np.testing.assert_allclose(served.predict(X), expected, rtol=0, atol=1e-6)

"""Model serving: compiled LightGBM forests and MLPs, ONNX Runtime and torch predictors.

Every predictor has ``predict(X)``, ``predict_one(x)``, ``n_features``, ``objective`` and
``n_classes``; ``save(path)`` writes a folder with a ``manifest.json`` naming its kind, and
:func:`load_predictor` reads any of them back. LightGBM and torch are imported only by the
constructors that need them, so loading a compiled model imports neither.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nautilus.ml.serving.forest import CompiledForest
from nautilus.ml.serving.manifest import ModelInputError, read_manifest
from nautilus.ml.serving.mlp import CompiledMLP
from nautilus.ml.serving.ort import OrtPredictor, export_onnx
from nautilus.ml.serving.torch_predictor import TorchPredictor

__all__ = ["CompiledForest", "CompiledMLP", "ModelInputError", "OrtPredictor", "TorchPredictor", "export_onnx",
           "load_predictor"]


def load_predictor(path: Path | str, *, threads: int = 1, device: str | Callable[[], str] = "cpu") -> Any:
    """The predictor saved in folder ``path``, by its manifest's kind: forest, mlp, onnx or torch.

    ``threads`` applies to ONNX Runtime sessions, ``device`` to torch modules: a device name, or a function
    that returns one, called only for a torch module (so finding the device, which may import torch, costs
    a compiled model nothing).
    """
    kind = read_manifest(Path(path)).get("kind")
    if kind == CompiledForest.kind:
        return CompiledForest.load(path)
    if kind == CompiledMLP.kind:
        return CompiledMLP.load(path)
    if kind == OrtPredictor.kind:
        return OrtPredictor(path, threads=threads)
    if kind == TorchPredictor.kind:
        return TorchPredictor.load(path, device=device if isinstance(device, str) else device())
    raise ModelInputError(f"{path} holds a model of unknown kind {kind!r}", field="path")

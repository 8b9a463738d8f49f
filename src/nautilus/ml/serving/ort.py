"""ONNX export (LightGBM via onnxmltools, torch via the TorchScript exporter) and ONNX Runtime inference.

``export_onnx`` writes a folder: ``model.onnx`` plus ``manifest.json`` (kind ``onnx``, the source
library, objective, output and input shape), which :class:`OrtPredictor` reads to return what the
source model's ``predict`` returns. The LightGBM converter only takes float32 inputs, so its trees
compare float32 values with float32 thresholds: outputs agree with ``booster.predict`` to float32
rounding (~1e-7), except for a row whose value lies within float32 rounding of a threshold.
The torch exporter is the TorchScript one (``dynamo=False``): ~1 s per export instead of ~17 s for
the dynamo exporter with torch 2.13, and it handles LSTM/GRU. The batch axis is dynamic.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from nautilus.ml.serving.manifest import MANIFEST, ModelInputError, read_manifest, write_manifest

MODEL_FILE = "model.onnx"
OUTPUTS = ("probability", "raw")


def export_onnx(model: Any, path: Path | str, n_features: int, *, output: str = "probability",
                seq_len: int | None = None) -> Path:
    """Export a ``lightgbm.Booster`` or a torch module to ``path/model.onnx`` (+ manifest); returns ``path``.

    ``output`` applies to torch modules (LightGBM boosters carry their objective): "probability"
    (sigmoid for one output, softmax for several) or "raw". ``seq_len`` makes the torch input
    (n, seq_len, n_features) for sequence models; otherwise it is (n, n_features).
    """
    if output not in OUTPUTS:
        raise ModelInputError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}", field="output")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if type(model).__module__.startswith("lightgbm"):
        meta = _export_lightgbm(model, path / MODEL_FILE, n_features)
    else:
        meta = _export_torch(model, path / MODEL_FILE, n_features, seq_len)
        meta["output"] = output
    write_manifest(path, {"kind": "onnx", "n_features": n_features, "seq_len": seq_len, **meta})
    return path


def _export_lightgbm(booster: Any, file: Path, n_features: int) -> dict[str, Any]:
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    from nautilus.ml.serving.forest import CompiledForest

    forest = CompiledForest.from_booster(booster)  # validates the model and names its objective
    if forest.n_features != n_features:
        raise ModelInputError(f"the booster has {forest.n_features} features, not {n_features}",
                              field="n_features")
    onnx_model = convert_lightgbm(booster, initial_types=[("input", FloatTensorType([None, n_features]))],
                                  zipmap=False)
    file.write_bytes(onnx_model.SerializeToString())
    return {"source": "lightgbm", "objective": forest.objective, "n_classes": forest.n_classes,
            "output": "probability" if forest.objective != "regression" else "raw"}


def _export_torch(module: Any, file: Path, n_features: int, seq_len: int | None) -> dict[str, Any]:
    import torch

    module = module.eval()
    param = next(module.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    shape = (1, seq_len, n_features) if seq_len else (1, n_features)
    example = torch.zeros(shape, dtype=dtype, device=param.device if param is not None else "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(file), dynamo=False, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "n"}, "output": {0: "n"}})
    with torch.inference_mode():
        n_out = int(module(example).reshape(1, -1).shape[1])
    return {"source": "torch", "n_outputs": n_out}


class OrtPredictor:
    """An ONNX Runtime session (``threads`` intra-op threads, sequential execution) with the
    serving API. ``path`` is a folder written by :func:`export_onnx` or a bare ``.onnx`` file (then
    the first output is returned as is)."""

    kind = "onnx"

    def __init__(self, path: Path | str, threads: int = 1) -> None:
        import onnxruntime as ort

        path = Path(path)
        if path.is_dir():
            meta = read_manifest(path, self.kind)
            file = path / MODEL_FILE
        else:
            sidecar = path.parent / MANIFEST
            meta = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
            file = path
        if not file.is_file():
            raise ModelInputError(f"no ONNX model at {file}", field="path")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        self._dtype = np.float64 if inp.type == "tensor(double)" else np.float32
        self.source = meta.get("source", "onnx")
        self.output = meta.get("output", "raw")
        self.objective = meta.get("objective", "regression")
        self.n_classes = int(meta.get("n_classes", 1))
        self.seq_len = meta.get("seq_len")
        width = inp.shape[-1]
        self.n_features = int(meta.get("n_features", width if isinstance(width, int) else 0))
        names = [o.name for o in self.session.get_outputs()]
        self._output = names[0]
        if self.source == "lightgbm":
            self._output = "probabilities" if self.objective != "regression" else names[0]
        elif self.source == "torch":
            n_out = int(meta["n_outputs"])
            self.objective = "regression" if self.output == "raw" else ("binary" if n_out == 1 else "multiclass")
            self.n_classes = n_out if self.objective == "multiclass" else 1
        self._row_shape = (self.seq_len, self.n_features) if self.seq_len else (self.n_features,)
        self._one = np.zeros((1, *self._row_shape), dtype=self._dtype)
        self._feed = {self._input: self._one}
        self._outputs = [self._output]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """What the source model's predict returns (see the module doc for LightGBM's float32)."""
        X = np.asarray(X)
        if X.shape[1:] != self._row_shape:
            if X.shape == self._row_shape:
                X = X[None]
            else:
                raise ModelInputError(f"X must have shape (n, {', '.join(map(str, self._row_shape))}), "
                                      f"got {X.shape}", field="X")
        out = self.session.run(self._outputs, {self._input: np.ascontiguousarray(X, dtype=self._dtype)})[0]
        return self._finish(np.asarray(out, dtype=np.float64))

    def predict_one(self, x: np.ndarray) -> float | np.ndarray:
        """One row: ``n_features`` values, or (seq_len, n_features) for a sequence model."""
        if np.shape(x) != self._row_shape:
            raise ModelInputError(f"x must have shape {self._row_shape}, got {np.shape(x)}", field="x")
        self._one[0] = x
        out = self.session.run(self._outputs, self._feed)[0]
        if self.source == "lightgbm" and self.objective == "binary":
            return float(out[0, 1])
        if self.n_classes == 1 and out.size == 1:
            z = float(out.reshape(-1)[0])
            return 1.0 / (1.0 + math.exp(-z)) if self.source == "torch" and self.output == "probability" else z
        return self._finish(np.asarray(out, dtype=np.float64))[0]

    def _finish(self, out: np.ndarray) -> np.ndarray:
        if self.source == "lightgbm":
            if self.objective == "binary":
                return out[:, 1]
            return out if self.objective == "multiclass" else out.reshape(len(out), -1)[:, 0]
        out = out.reshape(len(out), -1)
        if self.source == "torch" and self.output == "probability":
            if out.shape[1] == 1:
                return 1.0 / (1.0 + np.exp(-out[:, 0]))
            e = np.exp(out - out.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return out[:, 0] if out.shape[1] == 1 else out

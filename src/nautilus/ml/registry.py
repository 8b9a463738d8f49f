"""Model artifacts of the registry: what a trained model leaves on disk and how it is served.

A registered version's folder holds ``train/`` (the trained model as :func:`save_model` writes it:
LightGBM text or torch weights + architecture, with the training report), ``serving/`` (the fastest
exact predictor: a compiled forest for LightGBM, a compiled MLP for an MLP, the torch module for
LSTM/TCN) and ``onnx/`` (an ONNX export for other runtimes). Loading for serving reads ``serving/``
only, which imports neither LightGBM nor torch for the compiled kinds.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nautilus.core.errors import InvalidInput
from nautilus.features.frame import FeatureFrame

log = logging.getLogger("nautilus.ml")


def serving_predictor(model: Any, kind: str, objective: str, seq_len: int | None = None) -> Any:
    """The predictor that serves ``model`` (a lightgbm.Booster or a torch module from training)."""
    from nautilus.ml import serving

    if kind == "lightgbm":
        return serving.CompiledForest.from_booster(model)
    if kind == "mlp":
        if objective == "regression":
            return serving.CompiledMLP.from_torch(model, output="raw")
        return serving.CompiledMLP.from_torch(model[:-1], output="probability")  # drop the final sigmoid/softmax
    output = "raw"  # sequence models apply their own output activation in forward()
    return serving.TorchPredictor(model, device="cpu", output=output, seq_len=seq_len)


def write_artifacts(result: Any, directory: Path, onnx: bool = True) -> dict[str, str]:
    """Write ``train/``, ``serving/`` and (when ``onnx``) ``onnx/`` for a TrainResult; all or nothing."""
    from nautilus.ml.serving import export_onnx
    from nautilus.ml.training import save_model

    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        save_model(result, tmp / "train")
        spec = result.spec
        seq_len = spec.sequence_length if spec.kind in ("lstm", "tcn") else None
        serving_predictor(result.model, spec.kind, spec.objective, seq_len).save(tmp / "serving")
        written = {"train": "train", "serving": "serving"}
        if onnx:
            try:
                model, output = result.model, "raw"  # boosters carry their objective; LSTM/TCN apply theirs
                if spec.kind == "mlp" and spec.objective != "regression":
                    model, output = model[:-1], "probability"
                export_onnx(model, tmp / "onnx", len(result.feature_names), output=output, seq_len=seq_len)
                written["onnx"] = "onnx"
            except Exception as exc:  # an exporter gap must not lose a trained model
                log.warning("ONNX export failed for a %s model: %s", spec.kind, exc)
        if directory.exists():
            shutil.rmtree(directory)
        tmp.rename(directory)
        return written
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_serving(directory: Path | str, device: str | Callable[[], str] = "cpu") -> Any:
    """The serving predictor of a registered version; torch models go to ``device`` (a name, or a function
    called only for a torch model: the engines pass their compute backend's resolution, CUDA > MPS > CPU for
    auto), compiled ones run on the CPU."""
    from nautilus.ml.serving import load_predictor

    return load_predictor(Path(directory) / "serving", device=device)


def model_inputs(frame: FeatureFrame, feature_names: list[str], seq_len: int | None,
                 rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, X)``: the predictable rows of ``frame`` (finite inputs; a full window of the same symbol
    for a sequence model) and the model's input for each, columns in training order."""
    missing = [name for name in feature_names if name not in frame.feature_names]
    if missing:
        raise InvalidInput(f"the feature set lacks {', '.join(missing)}, which the model was trained on",
                           field="feature_set")
    cols = [frame.feature_names.index(name) for name in feature_names]
    x = frame.X[:, cols]
    finite = np.isfinite(x).all(axis=1)
    candidates = np.arange(len(frame)) if rows is None else np.asarray(rows)
    if not seq_len:
        keep = candidates[finite[candidates]]
        return keep, np.ascontiguousarray(x[keep])
    from nautilus.ml.training.torch_models import sequence_rows  # sequence models need torch anyway

    keep_a = candidates[sequence_rows(frame.symbols, finite, seq_len)[candidates]]
    windows = np.stack([x[r - seq_len + 1:r + 1] for r in keep_a]) if len(keep_a) else np.empty((0, seq_len, len(cols)))
    return keep_a, np.ascontiguousarray(windows)


def sequence_length(row: dict[str, Any]) -> int | None:
    """The input window of a registered sequence model (LSTM/TCN), None for a row model."""
    return int(row["params"]["sequence_length"]) if row["kind"] in ("lstm", "tcn") else None


def predict_frame(row: dict[str, Any], predictor: Any, frame: FeatureFrame,
                  rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, predictions)`` of a registered model over the predictable ``rows`` of ``frame``."""
    keep, x = model_inputs(frame, row["feature_names"], sequence_length(row), rows)
    return keep, (np.asarray(predictor.predict(x)) if len(keep) else np.empty((0,)))

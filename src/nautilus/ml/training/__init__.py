"""Model training (pure Python API, no I/O but artifacts): LightGBM and small torch models on a
FeatureFrame, walk-forward validated with purging and embargo.

Modules: ``spec`` (ModelSpec, Cancelled), ``splits`` (walk_forward_splits, Fold), ``metrics``
(accuracy, AUC, log-loss, macro-F1, RMSE, MAE, IC, rank IC), ``lgbm`` (booster fits), ``torch_models``
(MLP, LSTM, TCN and their fit loop), ``trainer`` (train, TrainResult), ``prediction`` (predictions on a
frame) and ``artifacts`` (save_model, load_model).

Names are loaded on first access (PEP 562), so importing the package for ``ModelSpec`` or
``walk_forward_splits`` does not import torch or LightGBM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nautilus.core.lazy import lazy_exports

if TYPE_CHECKING:
    from nautilus.ml.training.artifacts import SavedModel, load_model, save_model
    from nautilus.ml.training.prediction import predict
    from nautilus.ml.training.spec import DEFAULT_PARAMS, KINDS, OBJECTIVES, Cancelled, ModelSpec
    from nautilus.ml.training.splits import Fold, walk_forward_splits
    from nautilus.ml.training.trainer import TrainResult, train

_HOMES = {
    "SavedModel": "artifacts", "load_model": "artifacts", "save_model": "artifacts",
    "predict": "prediction",
    "DEFAULT_PARAMS": "spec", "KINDS": "spec", "OBJECTIVES": "spec", "Cancelled": "spec", "ModelSpec": "spec",
    "Fold": "splits", "walk_forward_splits": "splits",
    "TrainResult": "trainer", "train": "trainer",
}
__all__ = [
    "DEFAULT_PARAMS",
    "KINDS",
    "OBJECTIVES",
    "Cancelled",
    "Fold",
    "ModelSpec",
    "SavedModel",
    "TrainResult",
    "load_model",
    "predict",
    "save_model",
    "train",
    "walk_forward_splits",
]

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())

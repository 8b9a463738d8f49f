"""Model artifacts on disk, rebuilt without pickle.

A directory holds ``meta.json`` (format, kind, objective, target, feature names, class count, and for a
:class:`TrainResult` its JSON report; non-finite numbers are written as ``null``) and either
``model.txt`` (LightGBM's text model) or ``architecture.json`` + ``weights.pt`` (a torch ``state_dict``
saved with ``torch.save`` and read back with ``weights_only=True``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import msgspec
import torch

from nautilus.core.errors import InvalidInput, NotFound
from nautilus.ml.training.torch_models import build_module
from nautilus.ml.training.trainer import TrainResult

FORMAT = 1
_LGB_OBJECTIVES = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}


@dataclass
class SavedModel:
    """A model read back by :func:`load_model` and its ``meta.json``."""

    model: Any  # lightgbm.Booster or torch.nn.Module (CPU, eval mode)
    meta: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    @property
    def objective(self) -> str:
        return self.meta["objective"]

    @property
    def feature_names(self) -> list[str] | None:
        return self.meta.get("feature_names")


def _booster_objective(booster: lgb.Booster) -> str:
    objective = str(booster.params.get("objective", "regression"))
    return _LGB_OBJECTIVES.get(objective, "regression")


def save_model(result_or_model: TrainResult | lgb.Booster | torch.nn.Module, directory: str | Path) -> Path:
    """Write the model (and, for a TrainResult, its report) to ``directory`` (created if needed)."""
    out = Path(directory)
    meta: dict[str, Any] = {"format": FORMAT}
    model = result_or_model
    if isinstance(result_or_model, TrainResult):
        model = result_or_model.model
        meta.update(kind=result_or_model.spec.kind, objective=result_or_model.spec.objective,
                    target=result_or_model.target, feature_names=list(result_or_model.feature_names),
                    n_classes=result_or_model.n_classes, report=result_or_model.report())
    if isinstance(model, lgb.Booster):
        meta.setdefault("kind", "lightgbm")
        meta.setdefault("objective", _booster_objective(model))
        out.mkdir(parents=True, exist_ok=True)
        model.save_model(str(out / "model.txt"))
    elif isinstance(model, torch.nn.Module) and isinstance(getattr(model, "arch", None), dict):
        meta.setdefault("kind", model.arch["kind"])
        meta.setdefault("objective", model.arch["objective"])
        out.mkdir(parents=True, exist_ok=True)
        (out / "architecture.json").write_text(json.dumps(model.arch, indent=2))
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, out / "weights.pt")
    else:
        raise InvalidInput("save_model takes a TrainResult, a lightgbm.Booster or a torch module built by "
                           "nautilus.ml.training (one with an .arch dict)", field="model")
    (out / "meta.json").write_bytes(msgspec.json.format(msgspec.json.encode(meta), indent=2))
    return out


def load_model(directory: str | Path) -> SavedModel:
    """Read a directory written by :func:`save_model`; raises :class:`NotFound` when it holds no model."""
    path = Path(directory)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise NotFound(f"no model artifact in {path}", field="directory")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise InvalidInput(f"unsupported artifact format {meta.get('format')!r}", field="directory")
    if meta["kind"] == "lightgbm":
        model: Any = lgb.Booster(model_file=str(path / "model.txt"))
    else:
        arch = json.loads((path / "architecture.json").read_text())
        model = build_module(arch)
        model.load_state_dict(torch.load(path / "weights.pt", weights_only=True))
        model.eval()
    return SavedModel(model, meta)

"""Request and reply types of the ML engine (light: the gateway and CLI import these)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import numpy as np

from nautilus.core.bounds import Name, Timestamp


class ModelBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The model to train (see :class:`nautilus.ml.training.ModelSpec`); omitted fields take the task's."""

    kind: Literal["lightgbm", "mlp", "lstm", "tcn"] | None = None
    objective: Literal["binary", "multiclass", "regression"] | None = None
    params: dict[str, Any] | None = None
    seed: int | None = None
    sequence_length: int | None = None
    early_stopping_rounds: int | None = None


class TrainRequest(msgspec.Struct, kw_only=True):
    symbols: list[Name]
    task: str | None = None  # direction | volatility | regime (feature set, target, model and baseline)
    name: str | None = None  # registry name; default: the task's name
    feature_set: str | dict[str, Any] | None = None  # a built-in or saved set's name, or an inline set
    target: str | None = None  # required without a task
    model: ModelBody = msgspec.field(default_factory=ModelBody)
    timeframe: str = "1d"
    start_ns: Timestamp | None = None
    end_ns: Timestamp | None = None
    n_folds: int = 5
    scheme: Literal["expanding", "rolling"] = "expanding"
    embargo: int | None = None
    onnx: bool = True
    wait: bool = False  # block until the job ends (CLI, tests)


class JobId(msgspec.Struct, kw_only=True):
    id: str


class JobReply(msgspec.Struct, kw_only=True):
    id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float
    message: str
    name: str
    created: float
    finished: float | None = None
    model: dict[str, Any] | None = None  # the registered version when done
    error: dict[str, Any] | None = None


class JobList(msgspec.Struct, kw_only=True):
    items: list[JobReply]


class ModelRef(msgspec.Struct, kw_only=True):
    name: str
    version: int | None = None  # default: the production version, else the latest


class ModelsRequest(msgspec.Struct, kw_only=True):
    name: str | None = None


class ModelList(msgspec.Struct, kw_only=True):
    items: list[dict[str, Any]]


class ModelReply(msgspec.Struct, kw_only=True):
    model: dict[str, Any]


class PredictRequest(msgspec.Struct, kw_only=True):
    """Predict from given inputs (``rows``: one row [f], rows [n, f], or windows [n, L, f] for sequence
    models, columns in the model's feature order) or from the catalog (``symbols``: features computed
    from their bars; the latest bar of each, or every bar in [start_ns, end_ns) with ``series``)."""

    name: str
    version: int | None = None
    rows: Any = None  # list or numpy array
    symbols: list[Name] | None = None
    timeframe: str | None = None  # default: the model's
    start_ns: Timestamp | None = None
    end_ns: Timestamp | None = None
    series: bool = False


class PredictReply(msgspec.Struct, kw_only=True):
    name: str
    version: int
    predictions: np.ndarray  # [n] (P(1) or value) or [n, k] class probabilities
    symbols: list[str] | None = None
    ts: np.ndarray | None = None
    feature_names: list[str] | None = None
    # per prediction from the catalog: "in_sample" inside the training data (its symbols, first_ts..last_ts),
    # else "out_of_sample" (see nautilus.ml.samples)
    sample: list[str] | None = None


class TaskList(msgspec.Struct, kw_only=True):
    items: list[dict[str, Any]]

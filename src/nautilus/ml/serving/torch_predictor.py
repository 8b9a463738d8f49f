"""TorchPredictor: a torch module served as is (sequence models, anything CompiledMLP refuses).

The module runs under ``torch.inference_mode`` on the device its caller names (``cpu`` by default; the
engines pass the backend their configured ``compute_backend`` resolves to, CUDA > MPS > CPU for auto). Single
rows are copied into a preallocated input tensor (pinned host memory plus a device tensor on a GPU).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from nautilus.ml.serving.manifest import ModelInputError, read_manifest, write_manifest

OUTPUTS = ("probability", "raw")
MODULE_FILE = "module.pt"


class TorchPredictor:
    """``module`` maps (n, n_features) or, with ``seq_len``, (n, seq_len, n_features) to (n, k).

    ``output="probability"`` applies sigmoid (k = 1) or softmax (k > 1); ``"raw"`` returns the output
    as is. ``n_features`` defaults to the first Linear's ``in_features`` or the first RNN's
    ``input_size``.
    """

    kind = "torch"

    def __init__(self, module: Any, device: str = "cpu", *, output: str = "probability",
                 n_features: int | None = None, seq_len: int | None = None) -> None:
        import torch

        if output not in OUTPUTS:
            raise ModelInputError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}", field="output")
        self.device = torch.device(device)
        self.module = module.eval().to(self.device)
        param = next(self.module.parameters(), None)
        self.dtype = param.dtype if param is not None else torch.float32
        self.n_features = int(n_features or _input_width(module))
        self.seq_len = seq_len
        self.output = output
        self._row_shape = (seq_len, self.n_features) if seq_len else (self.n_features,)
        pin = self.device.type == "cuda"
        self._host = torch.zeros((1, *self._row_shape), dtype=self.dtype, pin_memory=pin)
        self._host_np = self._host.numpy()
        self._one = self._host if self.device.type == "cpu" else self._host.to(self.device)
        with torch.inference_mode():
            n_out = int(self.module(self._one).reshape(1, -1).shape[1])
        self.n_outputs = n_out
        self.objective = "regression" if output == "raw" else ("binary" if n_out == 1 else "multiclass")
        self.n_classes = n_out if self.objective == "multiclass" else 1
        self._torch = torch

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n,) for one output, (n, k) otherwise, as float64."""
        X = np.asarray(X)
        if X.shape == self._row_shape:
            X = X[None]
        if X.shape[1:] != self._row_shape:
            raise ModelInputError(f"X must have shape (n, {', '.join(map(str, self._row_shape))}), got {X.shape}",
                                  field="X")
        torch = self._torch
        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(X)).to(device=self.device, dtype=self.dtype)
            out = self.module(t).reshape(len(X), -1)
            if self.output == "probability":
                out = torch.sigmoid(out) if out.shape[1] == 1 else torch.softmax(out, dim=1)
            res = out.double().cpu().numpy()
        return res[:, 0] if res.shape[1] == 1 else res

    def predict_one(self, x: np.ndarray) -> float | np.ndarray:
        """One row: a float for one output, else (k,)."""
        if np.shape(x) != self._row_shape:
            raise ModelInputError(f"x must have shape {self._row_shape}, got {np.shape(x)}", field="x")
        self._host_np[0] = x
        torch = self._torch
        with torch.inference_mode():
            if self._one is not self._host:
                self._one.copy_(self._host, non_blocking=True)
            out = self.module(self._one).reshape(-1)
            if self.n_outputs == 1:
                z = float(out[0])
                return 1.0 / (1.0 + math.exp(-z)) if self.output == "probability" else z
            if self.output == "probability":
                out = torch.softmax(out, dim=0)
            return out.double().cpu().numpy()

    def save(self, path: Path | str) -> Path:
        """Write ``path/module.pt`` (the pickled module, its class must be importable) and the manifest."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self._torch.save(self.module.cpu(), path / MODULE_FILE)
        self.module.to(self.device)
        write_manifest(path, {"kind": self.kind, "n_features": self.n_features, "seq_len": self.seq_len,
                              "output": self.output, "objective": self.objective, "n_classes": self.n_classes})
        return path

    @classmethod
    def load(cls, path: Path | str, device: str = "cpu") -> TorchPredictor:
        """Read a predictor written by :meth:`save` (unpickles the module: trusted files only)."""
        import torch

        path = Path(path)
        meta = read_manifest(path, cls.kind)
        module = torch.load(path / MODULE_FILE, weights_only=False, map_location="cpu")
        return cls(module, device, output=meta["output"], n_features=meta["n_features"], seq_len=meta["seq_len"])


def _input_width(module: Any) -> int:
    from torch import nn

    for m in module.modules():
        if isinstance(m, nn.Linear):
            return int(m.in_features)
        if isinstance(m, nn.RNNBase):
            return int(m.input_size)
        if isinstance(m, nn.Conv1d):
            return int(m.in_channels)
    raise ModelInputError("cannot tell the input width of this module; pass n_features", field="n_features")

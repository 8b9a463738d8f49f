"""CompiledMLP: a torch ``nn.Sequential`` of dense layers as float64 arrays.

``from_torch`` walks the (possibly nested) Sequential: Linear layers, element-wise activations
(ReLU, LeakyReLU, Tanh, Sigmoid, GELU exact or tanh), Identity and Dropout (no-ops at inference)
and eval-mode BatchNorm1d (folded into the preceding Linear when no activation sits between,
else kept as a diagonal layer). Weights are cast to float64: for a float64 module the outputs
equal torch's to ~1e-12; for a float32 module they are the float64 evaluation of the same weights,
within float32 rounding (~1e-6 relative) of torch's float32 output.

Single rows go through one numba kernel call; batches through numpy matmuls (BLAS), 1,024 rows
at a time.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import erf

from nautilus.ml.serving import mlp_kernels as mk
from nautilus.ml.serving.manifest import (
    ModelInputError,
    read_arrays,
    read_manifest,
    write_arrays,
    write_manifest,
)

OUTPUTS = ("probability", "raw")
PRECISIONS = ("float64", "float32")  # batch arithmetic: the source model's own precision
CHUNK = 1024  # rows per pass through the layers: intermediates stay in L2 (4x faster than whole batches)


class CompiledMLP:
    """A dense MLP. ``output="probability"`` applies sigmoid (one output) or softmax (several);
    ``"raw"`` returns the last layer as is. Single rows run in float64; batches run in the source
    model's precision (``precision``: a float32 torch model's batches use float32 BLAS, as torch does,
    agreeing with torch's float32 output to float32 rounding; float64 models stay float64).

    Attributes: ``n_features``, ``objective`` ("binary" | "multiclass" | "regression"),
    ``n_classes`` (outputs for multiclass, else 1), ``output``.
    """

    kind = "mlp"

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray, int, float]], output: str = "probability",
                 precision: str = "float64") -> None:
        if precision not in PRECISIONS:
            raise ModelInputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}",
                                  field="precision")
        if output not in OUTPUTS:
            raise ModelInputError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}", field="output")
        if not layers:
            raise ModelInputError("the MLP has no Linear layer", field="model")
        self.layers = [(np.ascontiguousarray(w, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64),
                        int(code), float(param)) for w, b, code, param in layers]
        for (w, _, _, _), (w_next, _, _, _) in zip(self.layers, self.layers[1:], strict=False):
            if w_next.shape[1] != w.shape[0]:
                raise ModelInputError(f"layer widths do not chain: {w.shape} then {w_next.shape}", field="model")
        self.output = output
        self.precision = precision
        self._layers32 = [(w.astype(np.float32), b.astype(np.float32), code, param)
                          for w, b, code, param in self.layers] if precision == "float32" else None
        self.n_features = self.layers[0][0].shape[1]
        n_out = self.layers[-1][0].shape[0]
        if output == "raw":
            self.objective, self.n_classes = "regression", 1
        elif n_out == 1:
            self.objective, self.n_classes = "binary", 1
        else:
            self.objective, self.n_classes = "multiclass", n_out
        self._n_out = n_out
        self._pack()

    def _pack(self) -> None:
        parts, meta, params = [], [], []
        offset = 0
        for w, b, code, param in self.layers:
            meta.append((w.shape[1], w.shape[0], offset, offset + w.size, code))
            parts += [w.ravel(), b]
            params.append(param)
            offset += w.size + b.size
        self._weights = np.concatenate(parts)
        self._meta = np.array(meta, dtype=np.int64)
        self._params = np.array(params, dtype=np.float64)
        self._width = int(max(max(w.shape) for w, _, _, _ in self.layers))

    # Construction ---------------------------------------------------------------------------------
    @classmethod
    def from_torch(cls, module: Any, output: str = "probability") -> CompiledMLP:
        """Compile an ``nn.Sequential`` (nested allowed) of the supported layers (see module doc)."""
        import torch
        from torch import nn

        activations = _activation_table()
        layers: list[list[Any]] = []  # [W, b, code, param]

        def last_open() -> list[Any] | None:
            return layers[-1] if layers and layers[-1][2] == mk.IDENTITY else None

        def identity_layer(width: int) -> list[Any]:
            return [np.eye(width), np.zeros(width), mk.IDENTITY, 0.0]

        for m in _leaves(module):
            if isinstance(m, nn.Linear):
                w = m.weight.detach().cpu().double().numpy().copy()
                b = (m.bias.detach().cpu().double().numpy().copy() if m.bias is not None
                     else np.zeros(w.shape[0]))
                layers.append([w, b, mk.IDENTITY, 0.0])
            elif isinstance(m, (nn.Identity, nn.Dropout)):
                continue
            elif isinstance(m, nn.BatchNorm1d):
                scale, shift = _batchnorm_affine(m)
                target = last_open()
                if target is None:
                    target = identity_layer(scale.shape[0])
                    layers.append(target)
                target[0] = target[0] * scale[:, None]
                target[1] = target[1] * scale + shift
            elif type(m) in activations:
                code, param = activations[type(m)](m)
                target = last_open()
                if target is None:
                    if not layers:
                        raise ModelInputError("the MLP must start with a Linear layer", field="model")
                    target = identity_layer(layers[-1][0].shape[0])
                    layers.append(target)
                target[2], target[3] = code, param
            else:
                raise ModelInputError(f"layer {type(m).__name__} is not supported by CompiledMLP; "
                                      "use TorchPredictor", field="model")
        first = next(iter(module.parameters()), None)
        precision = "float32" if first is not None and first.dtype == torch.float32 else "float64"
        return cls([tuple(layer) for layer in layers], output=output, precision=precision)

    # Persistence ----------------------------------------------------------------------------------
    def save(self, path: Path | str) -> Path:
        """Write ``path/manifest.json`` and ``path/arrays.bin``; returns ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        table = write_arrays(path, {"weights": self._weights, "meta": self._meta, "params": self._params})
        write_manifest(path, {"kind": self.kind, "arrays": table, "n_features": self.n_features, "objective": self.objective,
                              "n_classes": self.n_classes, "output": self.output, "precision": self.precision})
        return path

    @classmethod
    def load(cls, path: Path | str) -> CompiledMLP:
        """Read an MLP written by :meth:`save`."""
        path = Path(path)
        meta = read_manifest(path, cls.kind)
        arrays = read_arrays(path, meta["arrays"])
        weights, table, params = arrays["weights"], arrays["meta"], arrays["params"]
        layers = []
        for (n_in, n_out, w_off, b_off, code), param in zip(table.tolist(), params.tolist(), strict=True):
            layers.append((weights[w_off:w_off + n_in * n_out].reshape(n_out, n_in),
                           weights[b_off:b_off + n_out], code, param))
        return cls(layers, output=meta["output"], precision=meta.get("precision", "float64"))

    # Prediction -----------------------------------------------------------------------------------
    def predict_raw(self, X: np.ndarray) -> np.ndarray:
        """The last layer's output: (n,) for one output, (n, k) otherwise."""
        X = self._check_batch(X)
        out = np.empty((len(X), self._n_out))
        layers = self.layers if self._layers32 is None else self._layers32
        for start in range(0, len(X), CHUNK):
            h = X[start:start + CHUNK]
            if self._layers32 is not None:
                h = h.astype(np.float32)
            for w, b, code, param in layers:
                z = h @ w.T
                z += b
                h = _activate(z, code, param)
            out[start:start + CHUNK] = h
        return out[:, 0] if self._n_out == 1 else out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (sigmoid / softmax) for ``output="probability"``, else the raw output."""
        return self._transform(self.predict_raw(X))

    def predict_one(self, x: np.ndarray) -> float | np.ndarray:
        """One row (1-D, ``n_features`` values): a float for one output, else an array."""
        if x.shape != (self.n_features,) or x.dtype != np.float64 or not x.flags.c_contiguous:
            x = self._check_row(x)
        out = mk.mlp_one_nb(x, self._weights, self._meta, self._params, self._width)
        if self._n_out == 1:
            z = float(out[0])
            return 1.0 / (1.0 + math.exp(-z)) if self.output == "probability" else z
        return self._transform(out)

    def _transform(self, raw: np.ndarray) -> np.ndarray:
        if self.output == "raw":
            return raw
        if self._n_out == 1:
            return 1.0 / (1.0 + np.exp(-raw))
        e = np.exp(raw - raw.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def _check_batch(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1 and X.shape[0] == self.n_features:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ModelInputError(f"X must have shape (n, {self.n_features}), got {X.shape}", field="X")
        return X

    def _check_row(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 2 and x.shape[0] == 1:
            x = x[0]
        if x.shape != (self.n_features,):
            raise ModelInputError(f"x must have {self.n_features} features, got shape {x.shape}", field="x")
        return np.ascontiguousarray(x)


def _leaves(module: Any) -> list[Any]:
    from torch import nn

    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _leaves(child)]
    return [module]


def _batchnorm_affine(m: Any) -> tuple[np.ndarray, np.ndarray]:
    """BatchNorm1d in eval mode as ``y = x * scale + shift`` (running statistics)."""
    if m.training or not m.track_running_stats or m.running_mean is None:
        raise ModelInputError("BatchNorm1d must be in eval mode with running statistics", field="model")
    mean = m.running_mean.detach().cpu().double().numpy()
    var = m.running_var.detach().cpu().double().numpy()
    gamma = m.weight.detach().cpu().double().numpy() if m.affine else np.ones_like(mean)
    beta = m.bias.detach().cpu().double().numpy() if m.affine else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + m.eps)
    return scale, beta - mean * scale


def _activation_table() -> dict[type, Any]:
    from torch import nn

    def gelu(m: Any) -> tuple[int, float]:
        return (mk.GELU_TANH if m.approximate == "tanh" else mk.GELU), 0.0

    return {nn.ReLU: lambda m: (mk.RELU, 0.0), nn.LeakyReLU: lambda m: (mk.LEAKY_RELU, float(m.negative_slope)),
            nn.Tanh: lambda m: (mk.TANH, 0.0), nn.Sigmoid: lambda m: (mk.SIGMOID, 0.0), nn.GELU: gelu}


def _activate(z: np.ndarray, code: int, param: float) -> np.ndarray:
    """``z`` activated; ReLU and tanh overwrite ``z`` (a fresh matmul output) instead of allocating."""
    if code == mk.RELU:
        return np.maximum(z, 0.0, out=z)
    if code == mk.LEAKY_RELU:
        return np.where(z > 0.0, z, z * param)
    if code == mk.TANH:
        return np.tanh(z, out=z)
    if code == mk.SIGMOID:
        return 1.0 / (1.0 + np.exp(-z))
    if code == mk.GELU:
        return 0.5 * z * (1.0 + erf(z * mk.SQRT_HALF))
    if code == mk.GELU_TANH:
        return 0.5 * z * (1.0 + np.tanh(mk.SQRT_2_OVER_PI * (z + 0.044715 * z * z * z)))
    return z

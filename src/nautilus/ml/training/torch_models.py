"""Small torch models (MLP, LSTM, TCN), their architecture JSON, sequence windows and the fit loop.

A model maps raw feature rows to predictions: P(1) ``(batch, 1)`` (binary, a final Sigmoid), class
probabilities ``(batch, k)`` (multiclass, a final Softmax) or the value ``(batch, 1)`` (regression).
Input standardisation uses the training rows' mean/std only: the MLP has it folded into its first
Linear layer (so it stays a plain ``nn.Sequential`` of Linear/ReLU/Dropout), LSTM and TCN keep it
in ``mean``/``std`` buffers. A regression target is standardised for training and the scaling folded
back into the last Linear layer.

LSTM and TCN read ``(batch, sequence_length, n_features)``: the rows ``i - L + 1 .. i`` of one symbol,
ending at the row being predicted (no look-ahead); a window never crosses symbols.
Every module carries its architecture dict in ``module.arch``; :func:`build_module` rebuilds it.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from nautilus.ml.training.spec import ModelSpec

EpochHook = Callable[[int, int], None]  # (epochs done, maximum epochs); may raise to stop the fit
_PREDICT_BATCH = 8192


class LSTMNet(nn.Module):
    def __init__(self, n_features: int, n_outputs: int, hidden: int, layers: int, dropout: float,
                 activation: nn.Module) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.lstm = nn.LSTM(n_features, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_outputs)
        self.activation = activation

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm((x - self.mean) / self.std)
        return self.head(self.drop(out[:, -1, :]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.logits(x))


class TCNNet(nn.Module):
    """Stacked causal dilated convolutions (dilation ``2**level``) with residual connections."""

    def __init__(self, n_features: int, n_outputs: int, hidden: int, layers: int, kernel_size: int,
                 dropout: float, activation: nn.Module) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.inp = nn.Conv1d(n_features, hidden, 1)
        self.levels = nn.ModuleList(
            nn.Sequential(nn.ConstantPad1d(((kernel_size - 1) * 2**i, 0), 0.0),
                          nn.Conv1d(hidden, hidden, kernel_size, dilation=2**i), nn.ReLU(), nn.Dropout(dropout))
            for i in range(layers))
        self.head = nn.Linear(hidden, n_outputs)
        self.activation = activation

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(((x - self.mean) / self.std).transpose(1, 2))  # (batch, hidden, L)
        for level in self.levels:
            h = h + level(h)
        return self.head(h[:, :, -1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.logits(x))


def _activation(objective: str) -> nn.Module:
    if objective == "binary":
        return nn.Sigmoid()
    if objective == "multiclass":
        return nn.Softmax(dim=1)
    return nn.Identity()


def architecture(spec: ModelSpec, n_features: int, n_outputs: int) -> dict[str, Any]:
    """The JSON-able description :func:`build_module` rebuilds a model from."""
    p = spec.resolved_params()
    arch: dict[str, Any] = {"kind": spec.kind, "objective": spec.objective, "n_features": n_features,
                            "n_outputs": n_outputs, "hidden": p["hidden"], "layers": p["layers"],
                            "dropout": p["dropout"]}
    if spec.is_sequence:
        arch["sequence_length"] = spec.sequence_length
    if spec.kind == "tcn":
        arch["kernel_size"] = p["kernel_size"]
    return arch


def build_module(arch: dict[str, Any]) -> nn.Module:
    """A freshly initialised module (torch's global RNG) for ``arch``, with ``module.arch = arch``."""
    kind, n_in, n_out = arch["kind"], int(arch["n_features"]), int(arch["n_outputs"])
    hidden, layers, dropout = int(arch["hidden"]), int(arch["layers"]), float(arch["dropout"])
    act = _activation(arch["objective"])
    module: nn.Module
    if kind == "mlp":
        parts: list[nn.Module] = []
        width = n_in
        for _ in range(layers):
            parts += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        parts.append(nn.Linear(width, n_out))
        if arch["objective"] != "regression":
            parts.append(act)
        module = nn.Sequential(*parts)
    elif kind == "lstm":
        module = LSTMNet(n_in, n_out, hidden, layers, dropout, act)
    elif kind == "tcn":
        module = TCNNet(n_in, n_out, hidden, layers, int(arch["kernel_size"]), dropout, act)
    else:
        raise ValueError(f"no torch model kind {kind!r}")
    module.arch = dict(arch)
    return module


def _logits(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(module, nn.Sequential):
        last = module[-1]
        return module[:-1](x) if isinstance(last, nn.Sigmoid | nn.Softmax) else module(x)
    return module.logits(x)


def _last_linear(module: nn.Module) -> nn.Linear:
    if isinstance(module, nn.Sequential):
        return [m for m in module if isinstance(m, nn.Linear)][-1]
    return module.head


def sequence_rows(symbols: np.ndarray, finite: np.ndarray, length: int) -> np.ndarray:
    """Mask of rows that end a full window: the ``length`` rows up to them share their symbol and all
    have finite inputs (``finite``, per row). Rows are sorted by symbol then ts."""
    n = symbols.shape[0]
    ok = np.zeros(n, dtype=bool)
    if n < length:
        return ok
    same = np.zeros(n, dtype=bool)
    same[length - 1:] = symbols[length - 1:] == symbols[:n - length + 1]
    bad = np.cumsum(~finite)  # windows with no non-finite row: bad[i] - bad[i-length] == 0
    prev = np.r_[0, bad][:n - length + 1]
    ok[length - 1:] = same[length - 1:] & (bad[length - 1:] - prev == 0)
    return ok


def torch_device(name: str) -> torch.device:
    """The torch device of a compute backend's name: ``cuda`` or ``mps`` as named, anything else the CPU (the
    ML engine resolves its configured backend, ``auto``: cuda > mps > cpu, and passes the name down)."""
    return torch.device(name if name in ("cuda", "mps") else "cpu")


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device, num_threads: int) -> Iterator[None]:
    """Seed torch's RNG and, on CPU, force deterministic algorithms and use ``num_threads`` threads
    (0: unchanged); all three are process-wide and restored afterwards. Small models train fastest on
    one thread: on two busy cores a second thread made each step ~10x slower."""
    devices = [torch.cuda.current_device()] if device.type == "cuda" else []
    previous = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True)
            if num_threads:
                torch.set_num_threads(num_threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous)
            torch.set_num_threads(threads)


class _Inputs:
    """Batches of model inputs gathered on the device from one standardised feature matrix."""

    def __init__(self, x: np.ndarray, length: int | None, device: torch.device) -> None:
        self.x = torch.as_tensor(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), dtype=torch.float32,
                                 device=device)
        self.offsets = None if length is None else torch.arange(-length + 1, 1, device=device)
        self.device = device

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        if self.offsets is None:
            return self.x[rows]
        return self.x[rows[:, None] + self.offsets[None, :]]


def fit_network(spec: ModelSpec, n_outputs: int, x: np.ndarray, y: np.ndarray, fit_rows: np.ndarray,
                val_rows: np.ndarray | None = None, epochs: int | None = None,
                on_epoch: EpochHook | None = None, device: str = "cpu") -> tuple[nn.Module, int]:
    """Train a model of ``spec.kind`` on rows ``fit_rows`` of ``(x, y)``; returns ``(module, best_epoch)``.

    ``x`` is the whole raw feature matrix (sequence windows reach back into it; rows used must end a
    full window, see :func:`sequence_rows`). With validation rows and ``early_stopping_rounds > 0`` the
    weights of the epoch with the lowest validation loss are kept and training stops after
    ``early_stopping_rounds`` epochs without improvement; otherwise all ``epochs`` (default
    ``params["epochs"]``) run on ``device`` (a compute backend's name, see :func:`torch_device`). The module
    comes back on the CPU in eval mode.
    """
    p = spec.resolved_params()
    max_epochs = epochs if epochs is not None else p["epochs"]
    on = torch_device(device)
    stats_rows = fit_rows
    if spec.is_sequence:  # every row a window covers, so the scaler sees what the model reads
        stats_rows = np.unique((fit_rows[:, None] + np.arange(-spec.sequence_length + 1, 1)[None, :]).ravel())
    mean = x[stats_rows].mean(axis=0)
    std = x[stats_rows].std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    y_mean, y_std = 0.0, 1.0
    if spec.objective == "regression":
        y_mean = float(y[fit_rows].mean())
        y_std = float(y[fit_rows].std()) or 1.0
    arch = architecture(spec, x.shape[1], n_outputs)
    inputs = _Inputs((x - mean) / std, spec.sequence_length if spec.is_sequence else None, on)
    target = torch.as_tensor(y, dtype=torch.float32, device=on)
    if spec.objective == "regression":
        target = (target - y_mean) / y_std
    if spec.objective == "multiclass":
        target = target.long()
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    if spec.objective == "binary":
        def loss_fn(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return nn.functional.binary_cross_entropy_with_logits(z[:, 0], t)
    elif spec.objective == "multiclass":
        loss_fn = nn.functional.cross_entropy
    else:
        def loss_fn(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return nn.functional.mse_loss(z[:, 0], t)

    fit_t = torch.as_tensor(fit_rows, dtype=torch.long, device=on)
    use_val = val_rows is not None and len(val_rows) > 0 and spec.early_stopping_rounds > 0
    val_t = torch.as_tensor(val_rows if use_val else [], dtype=torch.long, device=on)
    with _seeded(spec.seed, on, p["num_threads"]):
        module = build_module(arch).to(on)
        optimiser = torch.optim.Adam(module.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
        gen = torch.Generator().manual_seed(spec.seed)
        best_loss, best_epoch, best_state, stale = float("inf"), max_epochs, None, 0
        for epoch in range(max_epochs):
            module.train()
            order = fit_t[torch.randperm(fit_t.shape[0], generator=gen).to(on)]
            for start in range(0, order.shape[0], p["batch_size"]):
                batch = order[start:start + p["batch_size"]]
                optimiser.zero_grad()
                loss = loss_fn(_logits(module, inputs(batch)), target[batch])
                loss.backward()
                optimiser.step()
            if use_val:
                module.eval()
                with torch.no_grad():
                    val_loss = sum(float(loss_fn(_logits(module, inputs(b)), target[b])) * b.shape[0]
                                   for b in val_t.split(_PREDICT_BATCH)) / val_t.shape[0]
                if val_loss < best_loss - 1e-12:
                    best_loss, best_epoch, stale = val_loss, epoch + 1, 0
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    stale += 1
            if on_epoch is not None:
                on_epoch(epoch + 1, max_epochs)
            if use_val and stale >= spec.early_stopping_rounds:
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    module = module.cpu().eval()
    _fold_scaling(module, mean, std, y_mean, y_std)
    return module, int(best_epoch)


@torch.no_grad()
def _fold_scaling(module: nn.Module, mean: np.ndarray, std: np.ndarray, y_mean: float, y_std: float) -> None:
    """Make ``module`` read raw inputs and emit raw targets (see the module docstring)."""
    m = torch.as_tensor(mean, dtype=torch.float32)
    s = torch.as_tensor(std, dtype=torch.float32)
    if isinstance(module, nn.Sequential):
        first = module[0]
        first.weight.div_(s[None, :])
        first.bias.sub_(first.weight @ m)
    else:
        module.mean.copy_(m)
        module.std.copy_(s)
    last = _last_linear(module)
    last.weight.mul_(y_std)
    last.bias.mul_(y_std).add_(y_mean)


@torch.no_grad()
def predict_network(module: nn.Module, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Predictions for ``rows`` of the raw feature matrix ``x``: P(1) or the value ``(n,)``, or ``(n, k)``
    class probabilities. Sequence models read the window ending at each row."""
    module.eval()
    length = module.arch.get("sequence_length")
    inputs = _Inputs(x, length, torch.device("cpu"))
    rows_t = torch.as_tensor(rows, dtype=torch.long)
    if rows_t.numel() == 0:
        out = np.empty((0, int(module.arch["n_outputs"])))
    else:
        out = torch.cat([module(inputs(b)) for b in rows_t.split(_PREDICT_BATCH)]).double().numpy()
    return out if module.arch["objective"] == "multiclass" else out[:, 0]

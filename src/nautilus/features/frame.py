"""FeatureFrame: the table a feature set produces, and what the ML engine trains and predicts on.

Rows are (symbol, ts) pairs sorted by symbol then ts; ``X`` holds the inputs and ``y`` the
targets, kept strictly apart. A feature in row t uses bars with ts <= t only; a target in row t
looks ``horizon`` bars ahead, which is what walk-forward validation purges and embargoes by.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FeatureFrame:
    symbols: np.ndarray  # object/str array, one per row
    ts: np.ndarray  # int64 ns UTC bar open time, one per row
    X: np.ndarray  # float64 (n_rows, n_features); NaN where the lookback is not yet filled
    feature_names: list[str]
    y: np.ndarray  # float64 (n_rows, n_targets); NaN where the horizon runs past the data
    target_names: list[str]
    horizon: int = 0  # bars a target looks ahead (max over targets)
    lookback: int = 0  # bars a feature looks back (max over features)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.ts)
        if self.X.shape != (n, len(self.feature_names)):
            raise ValueError(f"X has shape {self.X.shape}, expected ({n}, {len(self.feature_names)})")
        if self.y.shape != (n, len(self.target_names)):
            raise ValueError(f"y has shape {self.y.shape}, expected ({n}, {len(self.target_names)})")

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def take(self, rows: np.ndarray) -> FeatureFrame:
        return FeatureFrame(self.symbols[rows], self.ts[rows], self.X[rows], list(self.feature_names),
                            self.y[rows], list(self.target_names), self.horizon, self.lookback, dict(self.meta))

    def complete(self, target: str | None = None) -> FeatureFrame:
        """Rows whose inputs (and the named target, or every target) are all finite."""
        ok = np.isfinite(self.X).all(axis=1)
        if target is not None:
            ok &= np.isfinite(self.y[:, self.target_index(target)])
        elif self.y.shape[1]:
            ok &= np.isfinite(self.y).all(axis=1)
        return self.take(np.flatnonzero(ok))

    def target_index(self, name: str) -> int:
        try:
            return self.target_names.index(name)
        except ValueError:
            raise KeyError(f"no target {name!r}; targets: {', '.join(self.target_names)}") from None

    def to_pandas(self):  # -> pandas.DataFrame with a (symbol, ts) MultiIndex
        import pandas as pd

        index = pd.MultiIndex.from_arrays(
            [self.symbols, pd.to_datetime(self.ts, unit="ns", utc=True)], names=["symbol", "ts"])
        data = {name: self.X[:, i] for i, name in enumerate(self.feature_names)}
        data.update({name: self.y[:, i] for i, name in enumerate(self.target_names)})
        return pd.DataFrame(data, index=index)

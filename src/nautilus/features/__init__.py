"""Point-in-time features for research and ML: declarative feature sets computed over bars.

    fs = load_feature_set("my_set.yaml")           # or a dict, or YAML/JSON text
    frame = compute(fs, bars)                      # one symbol -> FeatureFrame
    frame = compute_panel(builtin_feature_sets()["standard"], {"AAA": bars_a, "BBB": bars_b})

A feature in row t reads bars with ts <= t only; targets (row t: bars t+1..t+h) are kept apart in
``FeatureFrame.y``. See :mod:`.spec` for the feature and target kinds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nautilus.core.lazy import lazy_exports

# Names are loaded on first use (PEP 562): listing and parsing feature sets must not load numba, which the
# computation needs (~120 MB per process).
_HOMES = {
    "FeatureFrame": "frame", "FeatureSet": "spec", "FeatureSpec": "spec", "builtin_feature_sets": "builtin",
    "compute": "compute", "compute_panel": "compute", "compute_rows": "compute", "compute_universe": "compute",
    "load_feature_set": "spec", "parse_feature_set": "spec",
}
__all__ = [
    "FeatureFrame",
    "FeatureSet",
    "FeatureSpec",
    "builtin_feature_sets",
    "compute",
    "compute_panel",
    "compute_rows",
    "compute_universe",
    "load_feature_set",
    "parse_feature_set",
]

if TYPE_CHECKING:
    from nautilus.features.builtin import builtin_feature_sets
    from nautilus.features.compute import compute, compute_panel, compute_rows, compute_universe
    from nautilus.features.frame import FeatureFrame
    from nautilus.features.spec import FeatureSet, FeatureSpec, load_feature_set, parse_feature_set

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())

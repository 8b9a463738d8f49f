"""Idle memory guard: the gateway, the supervisor and every started engine load no heavy library until a
request needs it.

Each check runs in a fresh interpreter (``python -c``) and reads ``sys.modules`` afterwards, so a module-level
import of numba, pandas, torch, ... re-added anywhere on those paths fails here. The positive controls prove
the probe sees a heavy import when one happens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nautilus.config import DEFAULT_ENGINE_PORTS

# Libraries worth tens to hundreds of MB each, none needed by an idle process.
HEAVY = ("numba", "llvmlite", "pandas", "polars", "scipy", "torch", "lightgbm", "sklearn", "cvxpy", "ccxt",
         "ib_async", "dask", "distributed", "onnxruntime", "statsmodels", "arch", "pyarrow")

_PROBE = """
import json, sys
{body}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _heavy_loaded(body: str, home: Path) -> list[str]:
    """The HEAVY modules a fresh interpreter has loaded after running ``body`` (settings under ``home``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAUTILUS_")}
    env["NAUTILUS_HOME"] = str(home)
    code = _PROBE.format(body=body, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _started_engine(name: str, then: str) -> str:
    """Probe body: start engine ``name`` on fresh settings, run ``then`` (code using ``engine``), close it."""
    return ("from nautilus.config import Settings\n"
            "from nautilus.engines import create_engine\n"
            "settings = Settings()\n"
            "settings.ensure_dirs()\n"
            f"engine = create_engine({name!r}, settings)\n"
            "engine.start()\n"
            f"{then}"
            "engine.close()")


def test_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    # positive controls: a kernel module pulls in numba, the ML training code torch and lightgbm
    assert "numba" in _heavy_loaded("import nautilus.marketdata.synthetic", tmp_path)
    loaded = _heavy_loaded("import nautilus.ml.training.trainer", tmp_path)
    assert {"torch", "lightgbm"} <= set(loaded)


def test_gateway_app_builds_without_engine_implementations(tmp_path: Path) -> None:
    body = ("from nautilus.gateway.app import create_app\n"
            "from nautilus.config import Settings\n"
            "app = create_app(Settings())\n"
            "app.state.engines.close()")
    assert _heavy_loaded(body, tmp_path) == []


def test_supervisor_and_registry_stay_small(tmp_path: Path) -> None:
    body = ("import nautilus.runtime.supervisor\n"
            "from nautilus.engines import engine_names\n"
            "engine_names()\n"
            "assert 'numpy' not in sys.modules, 'the supervisor loaded numpy'")
    assert _heavy_loaded(body, tmp_path) == []


@pytest.mark.parametrize("name", sorted(DEFAULT_ENGINE_PORTS))  # the product's engines (tests register more)
def test_engine_starts_without_heavy_libraries(name: str, tmp_path: Path) -> None:
    assert _heavy_loaded(_started_engine(name, ""), tmp_path) == []


def test_talib_preloaded_without_pandas_and_polars(tmp_path: Path) -> None:
    """The Strategy and Features engines load TA-Lib at start without its Series wrappers; it works on numpy
    and pandas still imports afterwards."""
    body = ("import numpy as np\n"
            "from nautilus.core.talib_loader import preload_talib\n"
            "preload_talib()\n"
            "import talib\n"
            "assert talib.SMA(np.arange(5.0), 2)[-1] == 3.5\n"
            "print(__import__('json').dumps(sorted(m for m in ('pandas', 'polars') if m in sys.modules)))\n"
            "import pandas\n")
    out = subprocess.run([sys.executable, "-c", "import sys\n" + body], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "NAUTILUS_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[0]) == []


@pytest.mark.parametrize(("name", "method"), [
    ("strategy", "list_strategies"), ("strategy", "list_indicators"), ("features", "list_feature_sets")])
def test_listing_loads_no_kernels(name: str, method: str, tmp_path: Path) -> None:
    """Catalog answers (what the dashboard asks first) leave numba unloaded: it costs ~120 MB of RSS per process
    and only computing needs it. The positive control: computing a feature set loads it."""
    body = _started_engine(name, f"reply = engine.{method}()\nassert reply.items, reply\n")
    assert _heavy_loaded(body, tmp_path) == []


def test_computing_features_loads_numba(tmp_path: Path) -> None:
    body = ("from nautilus.features import builtin_feature_sets, compute\n"
            "from nautilus.warmup import _bars\n"
            "compute(builtin_feature_sets()['standard'], _bars())")
    assert "numba" in _heavy_loaded(body, tmp_path)

#!/usr/bin/env bash
# GPU device check: nvidia-smi, the CUDA probe (scripts/device/gpu_probe.py), the GPU-relevant unit tests
# and the torch bench cases, each step under its own timeout and all of them under one overall budget.
# Everything lands in $OUT: log, nvidia-smi.txt, probe.json, junit.xml, bench.json, bench.md.
#
# On the GPU machine (wheels the image lacks are carried in .whl/ and installed into /tmp/site):
#     bash scripts/device_check.sh
# Dry run on a CPU box, with the project's venv and no wheels:
#     OUT=/tmp/dc PY=.venv/bin/python EXPECT=cpu WHEELS=0 bash scripts/device_check.sh
# Knobs: BUDGET (s, default 380) bounds the whole run; QUICK=1 runs the bench cases in quick mode.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to the folder for the results}
PY=${PY:-python3}
EXPECT=${EXPECT:-cuda}
WHEELS=${WHEELS:-1}
QUICK=${QUICK:-0}
BUDGET=${BUDGET:-380}
SITE=${SITE:-/tmp/site}
BENCH_TMP=$(mktemp -d /tmp/device-bench.XXXXXX)
mkdir -p "$OUT"

declare -a SUMMARY=()
DEADLINE=$((SECONDS + BUDGET))

# step NAME LIMIT CMD...: run CMD under min(LIMIT, what is left of BUDGET) seconds.
step() {
    local name=$1 limit=$2 left rc start
    shift 2
    left=$((DEADLINE - SECONDS - 5))
    if ((left < 10)); then
        echo "=== $name: skipped, budget spent"
        SUMMARY+=("$name: skipped (budget)")
        return 0
    fi
    ((limit > left)) && limit=$left
    echo "=== $name (limit ${limit}s) $(date -u +%T)"
    start=$SECONDS
    timeout -k 10 "$limit" bash -c '"$@"' _ "$@"  # bash -c: the command may be one of the functions below
    rc=$?
    ((rc == 124 || rc == 137)) && echo "=== $name: TIMED OUT after ${limit}s"
    echo "=== $name: rc=$rc in $((SECONDS - start))s"
    SUMMARY+=("$name: rc=$rc $((SECONDS - start))s")
}

install_wheels() {
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
}

versions() {
    "$PY" - <<'EOF'
import importlib, platform, sys
print("python", platform.python_version(), sys.executable)
for name in ("torch", "numpy", "numba", "scipy", "pandas", "pyarrow", "msgspec", "pydantic", "pydantic_settings",
             "prometheus_client", "lightgbm", "talib", "sqlalchemy", "onnxruntime", "onnxmltools", "hypothesis",
             "pytest", "pytest_timeout"):
    try:
        mod = importlib.import_module(name)
        print(f"{name:18} {getattr(mod, '__version__', '?'):12} {getattr(mod, '__file__', '')}")
    except Exception as exc:
        print(f"{name:18} MISSING ({type(exc).__name__}: {exc})")
import torch
print("cuda available", torch.cuda.is_available(), "devices", torch.cuda.device_count(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
EOF
}

smi() {
    nvidia-smi | tee "$OUT/nvidia-smi.txt"
    echo "--- query (the line nautilus.runtime.gpu parses)" | tee -a "$OUT/nvidia-smi.txt"
    nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits \
        | tee -a "$OUT/nvidia-smi.txt"
}

# The tests that reach the CUDA paths: Monte Carlo (torch backend), torch training, backend detection,
# GPU metrics, torch serving. A file whose imports are missing here is reported by pytest, not hidden.
TESTS=(
    tests/unit/risk/test_risk_montecarlo.py
    tests/unit/risk/test_risk_montecarlo_options.py
    tests/unit/ml/test_ml_training.py
    tests/unit/runtime/test_gpu_metrics.py
    tests/unit/runtime/test_runtime.py
    tests/unit/ml/test_ml_serving.py
)

bench_case() {
    local name=$1 quick=()
    ((QUICK)) && quick=(--quick)
    "$PY" -m nautilus.cli bench --only "$name" --json "$BENCH_TMP/$name.json" "${quick[@]}"
}

merge_bench() {
    "$PY" - "$BENCH_TMP" "$OUT" <<'EOF'
import json, sys
from pathlib import Path
src, out = Path(sys.argv[1]), Path(sys.argv[2])
merged = {"machine": None, "cases": [], "failed": []}
md = []
for f in sorted(src.glob("*.json")):
    rep = json.loads(f.read_text())
    merged["machine"] = merged["machine"] or rep["machine"]
    merged["cases"] += rep["cases"]
    merged["failed"] += rep.get("failed", [])
    if f.with_suffix(".md").exists():
        md.append(f.with_suffix(".md").read_text())
(out / "bench.json").write_text(json.dumps(merged, indent=2))
(out / "bench.md").write_text("\n\n".join(md))
print("machine:", merged["machine"])
for row in merged["cases"]:
    print(f"{row['case']:18} {row['unit']:5} baseline {row['baseline']['name']}: {row['baseline']['value']} | "
          f"ours {row['ours']['name']}: {row['ours']['value']} | ratio {row['ratio']}")
print("failed:", merged["failed"])
EOF
}

export PY OUT EXPECT QUICK SITE BENCH_TMP
export -f install_wheels versions smi bench_case merge_bench

main() {
    echo "device check $(date -u +%FT%TZ) host=$(hostname) expect=$EXPECT budget=${BUDGET}s"
    if ((WHEELS)); then
        step "install wheels" 90 install_wheels
        export PYTHONPATH=$SITE:src:.
    else
        export PYTHONPATH=src:.
    fi
    if [[ $EXPECT == cuda ]]; then
        step "nvidia-smi" 20 smi
    fi
    step "versions" 60 versions
    step "probe" 100 "$PY" scripts/device/gpu_probe.py --expect "$EXPECT" --json "$OUT/probe.json"
    step "pytest" 150 "$PY" -m pytest -p no:cacheprovider -q -rs --timeout=60 --junitxml="$OUT/junit.xml" \
        "${TESTS[@]}"
    step "bench risk_montecarlo" 150 bench_case risk_montecarlo
    step "bench risk_option_paths" 90 bench_case risk_option_paths
    step "bench ml_serving" 90 bench_case ml_serving
    step "merge bench" 20 merge_bench
    echo "=== summary"
    printf '  %s\n' "${SUMMARY[@]}"
}

main 2>&1 | tee "$OUT/log"
rc=$?
rm -rf "$BENCH_TMP"
exit $rc

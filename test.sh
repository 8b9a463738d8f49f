#!/usr/bin/env bash
# Install what the tests need and run the whole suite (unit + integration against the local
# PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/venv.sh test
.venv/bin/ruff check src tests
# Compile the numba kernels once, outside the per-test timeout (a no-op when the cache is warm).
.venv/bin/nautilus warmup
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"

#!/usr/bin/env bash
# Install what the tests need and run the whole suite (unit + integration against the local
# PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/venv.sh test
# Prometheus (promtool checks the alert rules), Alertmanager (amtool; alerts reaching a webhook) and NGINX for
# the production-profile tests, from Debian, installed when missing and we may.
if { ! command -v promtool >/dev/null 2>&1 || ! command -v amtool >/dev/null 2>&1 \
     || ! command -v nginx >/dev/null 2>&1; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get install -y -qq prometheus prometheus-alertmanager nginx >/dev/null 2>&1 \
   || { apt-get update -qq >/dev/null 2>&1 \
        && apt-get install -y -qq prometheus prometheus-alertmanager nginx >/dev/null 2>&1; }) || true
fi
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
# The dashboard: Vitest unit tests, then Playwright end-to-end tests in Chromium against a real stack
# (skipped when pytest was given arguments, i.e. a partial run).
if [ "$#" -eq 0 ]; then
  web_status=0
  scripts/web.sh test || web_status=$?
  scripts/web.sh e2e || web_status=$?
  [ "$status" -ne 0 ] || status=$web_status
fi
exit "$status"

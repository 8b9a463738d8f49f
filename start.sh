#!/usr/bin/env bash
# Start Nautilus on the embedded defaults (SQLite, in-memory bus, local processes) with sample data.
# Idempotent: a second run finds everything up and just prints the URLs.
set -euo pipefail
cd "$(dirname "$0")"
scripts/venv.sh
# wrk drives `nautilus bench`'s gateway load case (optional; the bench falls back to Python).
if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1; }) || true
fi
.venv/bin/nautilus warmup
# NAUTILUS_PROFILE=production: PostgreSQL, the Redis bus, Prometheus and NGINX (scripts/production.sh).
profile="${NAUTILUS_PROFILE:-embedded}"
if [ "$profile" = production ]; then
  eval "$(scripts/production.sh env)"
  scripts/production.sh db
elif [ "$profile" != embedded ]; then
  echo "error: NAUTILUS_PROFILE must be embedded or production, not $profile" >&2
  exit 2
fi
# The dashboard's production build (served on :3000 by `nautilus up`); without Node.js the API still runs.
if command -v npm >/dev/null 2>&1; then
  scripts/web.sh build
else
  echo "warning: npm not found: the dashboard is not built (install Node.js 20+ and rerun)" >&2
fi
.venv/bin/nautilus up
.venv/bin/nautilus sample --if-empty
[ "$profile" = production ] && scripts/production.sh up
.venv/bin/nautilus status
url=$(.venv/bin/python -c 'from nautilus.config import get_settings; print(get_settings().gateway_url)')
echo
echo "Nautilus is running:"
echo "  dashboard  $(.venv/bin/python -c 'from nautilus.config import get_settings; print(get_settings().web_url)')"
echo "  API        $url/api/v1   (try: curl '$url/api/v1/marketdata/bars?symbol=AAPL&limit=5')"
echo "  API docs   $url/docs"
echo "  health     $url/health"
echo "  metrics    $url/metrics"
echo "  CLI        .venv/bin/nautilus --help      stop with ./stop.sh"

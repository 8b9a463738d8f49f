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
case "${NAUTILUS_PROFILE:-embedded}" in
  embedded|production) ;;
  *) echo "error: NAUTILUS_PROFILE must be embedded or production, not $NAUTILUS_PROFILE" >&2; exit 2 ;;
esac
# A stack already running at this home (its record, HOME/stack.json) keeps its profile, database, bus and auth
# mode: what this shell does not set itself comes from there (every nautilus command resolves it the same way;
# one that names another database than the running stack's is refused).
resolved="$(.venv/bin/python - <<'PY'
import shlex

from nautilus.config import get_settings

s = get_settings()
print(f"profile={shlex.quote(s.profile)}")
if s.running_stack is not None:
    for field in ("database_url", "redis_url", "auth_mode"):
        value, var = getattr(s, field), f"NAUTILUS_{field.upper()}"
        if value and s.origin(field) == "stack":
            print(f'[ -n "${{{var}+x}}" ] || export {var}={shlex.quote(str(value))}')
PY
)"
eval "$resolved"
export NAUTILUS_PROFILE="$profile"  # recorded by the supervisor with the rest
if [ "$profile" = production ]; then
  eval "$(scripts/production.sh env)"
  scripts/production.sh db
elif [ "$profile" = embedded ]; then
  # Authentication fails closed (no key: every /api call is 401). The embedded first run is local open mode,
  # chosen here explicitly; the gateway then listens on loopback only.
  if [ -z "${NAUTILUS_AUTH_MODE:-}" ]; then
    export NAUTILUS_AUTH_MODE=open
    echo "auth: NAUTILUS_AUTH_MODE=open (local, no API keys, loopback only); for keys: NAUTILUS_AUTH_MODE=keys and"
    echo "      .venv/bin/nautilus keys add NAME --role admin"
  fi
fi
# The dashboard's production build (served on :3000 by `nautilus up`); without Node.js the API still runs.
if command -v npm >/dev/null 2>&1; then
  scripts/web.sh build
else
  echo "warning: npm not found: the dashboard is not built (install Node.js 20+ and rerun)" >&2
fi
.venv/bin/nautilus up
.venv/bin/nautilus sample --if-empty
if [ "$profile" = production ]; then
  scripts/production.sh up
  # keys mode: the first run creates an admin key (printed once; paste it in the dashboard's Settings)
  if ! .venv/bin/python -c 'import sys; from nautilus.config import get_settings; from nautilus.storage.db import Database
s = get_settings(); sys.exit(0 if s.api_keys or Database.from_url(str(s.database_url)).has_active_api_keys() else 1)'; then
    .venv/bin/nautilus keys add admin --role admin
  fi
fi
.venv/bin/nautilus status
url=$(.venv/bin/python -c 'from nautilus.config import get_settings; print(get_settings().gateway_url)')
echo
echo "Nautilus is running:"
echo "  dashboard  $(.venv/bin/python -c 'from nautilus.config import get_settings; print(get_settings().web_url)')"
echo "  API        $url/api/v1   (try: curl '$url/api/v1/marketdata/bars?symbol=AAPL&limit=5')"
echo "  API docs   $url/docs"
echo "  health     $url/health   (liveness; details: $url/api/v1/system/health)"
echo "  metrics    $url/metrics  (a key or NAUTILUS_METRICS_TOKEN unless NAUTILUS_AUTH_MODE=open)"
echo "  CLI        .venv/bin/nautilus --help      stop with ./stop.sh"

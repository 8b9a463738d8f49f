#!/usr/bin/env bash
# Stop every Nautilus process gracefully (engines, gateway, supervisor).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/nautilus ]; then
  echo "Nautilus is not installed here (run ./start.sh first)."
  exit 0
fi
.venv/bin/nautilus down
[ "${NAUTILUS_PROFILE:-embedded}" = production ] && scripts/production.sh down || true

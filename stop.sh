#!/usr/bin/env bash
# Stop every Nautilus process gracefully (engines, gateway, supervisor).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/nautilus ]; then
  echo "Nautilus is not installed here (run ./start.sh first)."
  exit 0
fi
# The profile of the stack running at this home (its record, HOME/stack.json), else NAUTILUS_PROFILE.
profile="$(.venv/bin/python -c 'from nautilus.config import get_settings; print(get_settings().profile)' || echo embedded)"
# NGINX and Prometheus first, while the stack's record still names its directories.
if [ "$profile" = production ]; then scripts/production.sh down || true; fi
.venv/bin/nautilus down

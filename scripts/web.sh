#!/usr/bin/env bash
# The dashboard (web/): build, unit tests, end-to-end tests.
#   scripts/web.sh build   npm ci when node_modules is missing or older than the lockfile, then a production build
#                          into web/dist (served by `nautilus up` on :3000 + NAUTILUS_PORT_OFFSET)
#   scripts/web.sh test    Vitest, run once
#   scripts/web.sh e2e     Playwright in Debian's Chromium (/usr/bin/chromium, installed with apt-get when missing)
#                          against a real stack started here on a temporary NAUTILUS_HOME and a free port offset,
#                          its Yahoo source pointed at a local server answering from tests/fixtures (no internet);
#                          the stack is always stopped. Screenshots and timings: web/test-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
cmd="${1:-build}"

need_node() {
  command -v npm >/dev/null 2>&1 || { echo "error: Node.js 20+ and npm are required (apt-get install nodejs npm)" >&2; exit 1; }
}

deps() {
  need_node
  if [ ! -d web/node_modules ] || [ ! -f web/node_modules/.package-lock.json ] \
     || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    echo "installing dashboard dependencies (npm ci) ..."
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

build() {
  deps
  (cd web && npm run --silent build)
}

free_offset() {
  # An offset whose web, gateway and engine ports are all free on 127.0.0.1, below the ephemeral range.
  .venv/bin/python -m nautilus.runtime.ports
}

e2e() {
  [ -x .venv/bin/nautilus ] || { echo "error: .venv missing (run ./start.sh or scripts/venv.sh first)" >&2; exit 1; }
  if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium (apt-get) ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  build
  home="$(mktemp -d /tmp/nautilus-e2e.XXXXXX)"
  offset="$(free_offset)"
  source_port=$((8765 + offset % 1000))
  export NAUTILUS_HOME="$home" NAUTILUS_PORT_OFFSET="$offset"
  export NAUTILUS_SOURCE_URLS="{\"yahoo\": \"http://127.0.0.1:$source_port\"}"
  unset NAUTILUS_API_KEYS
  export NAUTILUS_AUTH_MODE=open  # explicit local open mode (keys mode without a key refuses every call)
  .venv/bin/python -m nautilus.bench.sourceserver --port "$source_port" --fixtures tests/fixtures >/dev/null 2>&1 &
  source_pid=$!
  stop() {
    "$root/.venv/bin/nautilus" down >/dev/null 2>&1 || true
    kill "$source_pid" 2>/dev/null || true
    rm -rf "$home"
  }
  trap stop EXIT
  echo "starting a stack on NAUTILUS_HOME=$home NAUTILUS_PORT_OFFSET=$offset ..."
  .venv/bin/nautilus up
  .venv/bin/nautilus sample >/dev/null
  web_url="http://127.0.0.1:$((3000 + offset))"
  for _ in $(seq 1 60); do
    curl -fsS "$web_url/config.json" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fsS "$web_url/config.json" >/dev/null || { echo "error: dashboard not served at $web_url" >&2; exit 1; }
  rm -rf web/test-results
  (cd web && E2E_BASE_URL="$web_url" CHROMIUM_PATH=/usr/bin/chromium npx playwright test)
  echo "screenshots: web/test-results/screens/, timings: web/test-results/metrics.json"
  cat web/test-results/metrics.json
}

case "$cmd" in
  build) build ;;
  test) deps; (cd web && npx vitest run) ;;
  e2e) e2e ;;
  *) echo "usage: scripts/web.sh build|test|e2e" >&2; exit 2 ;;
esac

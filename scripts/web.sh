#!/usr/bin/env bash
# The dashboard (web/): build, unit tests, end-to-end tests.
#   scripts/web.sh build   npm ci when node_modules is missing or older than the lockfile, then a production build
#                          into a new web/builds/ID, and web/dist (a symlink, served by `nautilus up` on :3000 +
#                          NAUTILUS_PORT_OFFSET) switched to it at once (rename). A running dashboard server
#                          keeps serving the build it started with (it marks it in use under web/builds/.in-use):
#                          a build for a second stack never changes the first one's files. Builds no server
#                          uses any more are removed.
#   scripts/web.sh deps    npm ci when needed (as above), nothing else
#   scripts/web.sh test    Vitest, run once
#   scripts/web.sh e2e     Playwright in Debian's Chromium (/usr/bin/chromium, installed with apt-get when missing)
#                          against a real stack started here on a temporary NAUTILUS_HOME and a free port offset,
#                          its Yahoo source pointed at a local server answering from tests/fixtures (no internet);
#                          the stack is always stopped. Screenshots and timings: web/test-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
cmd="${1:-build}"
web="${NAUTILUS_WEB_SRC:-web}"  # the dashboard's sources (tests build a copy)

need_node() {
  command -v npm >/dev/null 2>&1 || { echo "error: Node.js 20+ and npm are required (apt-get install nodejs npm)" >&2; exit 1; }
}

deps() {
  need_node
  if [ ! -d "$web/node_modules" ] || [ ! -f "$web/node_modules/.package-lock.json" ] \
     || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
    echo "installing dashboard dependencies (npm ci) ..."
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

alive() { kill -0 "$1" 2>/dev/null || [ -d "/proc/$1" ]; }

prune() {
  # Remove the builds that are neither current nor in use (a live process's marker builds/.in-use/ID.PID).
  local current d id m used
  current="$(readlink "$web/dist" 2>/dev/null || true)"
  current="${current#builds/}"
  for d in "$web"/builds/*/; do
    [ -d "$d" ] || continue
    id="$(basename "$d")"
    [ "$id" = "$current" ] && continue
    used=0
    for m in "$web/builds/.in-use/$id".*; do
      [ -e "$m" ] || continue
      if alive "${m##*.}"; then used=1; else rm -f "$m"; fi
    done
    [ "$used" = 1 ] || rm -rf "$d"
  done
}

build() {
  deps
  local id marker
  id="$(date -u +%Y%m%dT%H%M%SZ)-$$"
  mkdir -p "$web/builds/.in-use"
  marker="$web/builds/.in-use/$id.$$"
  : >"$marker"  # building: a concurrent build's clean-up leaves this directory alone
  (cd "$web" && node_modules/.bin/tsc --noEmit \
     && node_modules/.bin/vite build --outDir "builds/$id" --emptyOutDir --logLevel warn)
  if [ -d "$web/dist" ] && [ ! -L "$web/dist" ]; then
    mv "$web/dist" "$web/builds/legacy-$id"  # a build from before web/dist was a symlink
  fi
  ln -s "builds/$id" "$web/.dist-$id"
  mv -T "$web/.dist-$id" "$web/dist"  # rename(2): servers started from now on get the new build, at once
  rm -f "$marker"
  prune
  echo "dashboard build: $web/builds/$id (web/dist points to it)"
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
  deps) deps ;;
  test) deps; (cd web && npx vitest run) ;;
  e2e) e2e ;;
  *) echo "usage: scripts/web.sh build|deps|test|e2e" >&2; exit 2 ;;
esac

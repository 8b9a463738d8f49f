#!/usr/bin/env bash
# The production profile on one machine: PostgreSQL and Redis on their standard ports (already running on
# these machines), Prometheus scraping the gateway and every engine, Alertmanager sending its alerts, NGINX in
# front of the gateway and the dashboard. Prometheus, Alertmanager and NGINX come from Debian (packages
# prometheus, prometheus-alertmanager, nginx; installed here when missing, as root).
#   scripts/production.sh env     print the environment the stack runs with (start.sh sources it)
#   scripts/production.sh db      create the PostgreSQL database when missing (migrations run at start)
#   scripts/production.sh up      render the configs, check them, start Prometheus, Alertmanager and NGINX
#   scripts/production.sh down    stop them
# Ports: NGINX on NAUTILUS_NGINX_PORT (8080), Prometheus on NAUTILUS_PROMETHEUS_PORT (9090), Alertmanager on
# NAUTILUS_ALERTMANAGER_PORT (9093), all + the offset. Alerts go to NAUTILUS_ALERT_WEBHOOK_URL (a webhook
# receiving Alertmanager's JSON) and, with NAUTILUS_ALERT_EMAIL_TO, by e-mail through NAUTILUS_SMTP_HOST
# (host:port) from NAUTILUS_SMTP_FROM (NAUTILUS_SMTP_USER / NAUTILUS_SMTP_PASSWORD when it wants a login);
# see deploy/alertmanager.yml. Set them before `up` (it renders the config each time).
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
dir="$($py -c 'from nautilus.config import get_settings; print(get_settings().runtime_dir)')/production"

install_missing() {
  local missing=()
  command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
  command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
  command -v nginx >/dev/null 2>&1 || missing+=(nginx)
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "error: install ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "installing ${missing[*]} (apt-get) ..."
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

case "${1:-up}" in
  env)
    offset="${NAUTILUS_PORT_OFFSET:-0}"
    echo "export NAUTILUS_DATABASE_URL=\"${NAUTILUS_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/nautilus}\""
    echo "export NAUTILUS_REDIS_URL=\"${NAUTILUS_REDIS_URL:-redis://127.0.0.1:6379/0}\""
    echo "export NAUTILUS_WEB_API_BASE=\"http://127.0.0.1:$(( ${NAUTILUS_NGINX_PORT:-8080} + offset ))\""
    # Keys, never open mode; Prometheus scrapes with a token kept (mode 600) beside the rendered configs.
    echo "export NAUTILUS_AUTH_MODE=keys"
    mkdir -p "$dir"
    [ -s "$dir/metrics_token" ] || (umask 077; $py -c 'import secrets; print(secrets.token_urlsafe(32))' >"$dir/metrics_token")
    echo "export NAUTILUS_METRICS_TOKEN=\"$(cat "$dir/metrics_token")\""
    ;;
  db)
    $py -m nautilus.production database
    ;;
  up)
    install_missing
    $py -m nautilus.production render "$dir" >/dev/null
    # shellcheck disable=SC1091
    . "$dir/ports.env"
    promtool check config "$dir/prometheus.yml" >/dev/null
    amtool check-config "$dir/alertmanager.yml" >/dev/null
    nginx -t -q -c "$dir/nginx.conf"
    if ! running "$dir/prometheus.pid"; then
      nohup prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" >"$dir/prometheus.log" 2>&1 &
      echo $! >"$dir/prometheus.pid"
    fi
    if running "$dir/alertmanager.pid"; then
      kill -HUP "$(cat "$dir/alertmanager.pid")"  # reload: the receivers may have changed
    else
      # --cluster.listen-address= : one Alertmanager, no gossip port (9094) to open
      nohup prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/alertmanager" \
        --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address= \
        >"$dir/alertmanager.log" 2>&1 &
      echo $! >"$dir/alertmanager.pid"
    fi
    running "$dir/nginx.pid" || nginx -c "$dir/nginx.conf"
    echo "  NGINX        http://127.0.0.1:$NGINX_PORT  (dashboard, /api, /ws)"
    echo "  Prometheus   http://127.0.0.1:$PROMETHEUS_PORT"
    echo "  Alertmanager http://127.0.0.1:$ALERTMANAGER_PORT  (webhook: ${NAUTILUS_ALERT_WEBHOOK_URL:-none set})"
    ;;
  down)
    if running "$dir/nginx.pid"; then nginx -c "$dir/nginx.conf" -s quit || true; fi
    if running "$dir/prometheus.pid"; then kill "$(cat "$dir/prometheus.pid")" || true; fi
    if running "$dir/alertmanager.pid"; then kill "$(cat "$dir/alertmanager.pid")" || true; fi
    rm -f "$dir/prometheus.pid" "$dir/alertmanager.pid"
    ;;
  *) echo "usage: scripts/production.sh env|up|down" >&2; exit 2 ;;
esac

"""The alert rules of deploy/alerts.yml under `promtool test rules` (input series in, alerts out, with their
labels and rendered annotations), the scrape config's labels, the Alertmanager config, and the calendar
arithmetic behind DataStale's input metric."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from tests.support.paths import DEPLOY
from tests.support.tools import require_tool

from nautilus.engines.marketdata.freshness import DAY_NS, calendar_of, open_ages, open_ns

H = 3600 * 10**9
MONDAY = 1_796_601_600 * 10**9  # 2026-12-07 00:00 UTC, a Monday



def _promtool_test(tmp_path: Path, tests: list[dict]) -> None:
    spec = {"rule_files": [str(DEPLOY / "alerts.yml")], "evaluation_interval": "1m", "tests": tests}
    path = tmp_path / "rules_test.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = subprocess.run([require_tool("promtool"), "test", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _alert(at: str, name: str, alerts: list[dict]) -> dict:
    return {"eval_time": at, "alertname": name, "exp_alerts": alerts}


def test_engine_down_names_the_engine_from_its_target(tmp_path) -> None:
    series = [{"series": 'up{job="engine-risk", component="risk", instance="gateway:8001"}', "values": "0x10"},
              {"series": 'up{job="engine-ml", component="ml", instance="gateway:8001"}', "values": "1x10"}]
    labels = {"severity": "critical", "engine": "risk", "component": "risk", "job": "engine-risk",
              "instance": "gateway:8001"}
    annotations = {"summary": "engine risk is unreachable",
                   "description": "The gateway cannot read risk's metrics over its socket for 30s; requests fall back."}
    _promtool_test(tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": [
        _alert("0m", "EngineDown", []),
        _alert("2m", "EngineDown", [{"exp_labels": labels, "exp_annotations": annotations}])]}])


def test_engine_fallback_keeps_the_metric_engine_and_renders_the_transport(tmp_path) -> None:
    series = [  # the portfolio process's live feed (websocket) fails on unix and moves on (0.5/s); the gateway's not
        {"series": 'nautilus_engine_fallbacks_total{job="engine-portfolio", component="portfolio", '
                   'engine="websocket", from_transport="unix"}', "values": "0+30x10"},
        {"series": 'nautilus_engine_fallbacks_total{job="gateway", component="gateway", engine="websocket", '
                   'from_transport="unix"}', "values": "7x10"}]
    expected = {"exp_labels": {"severity": "warning", "component": "portfolio", "engine": "websocket",
                               "from_transport": "unix"},
                "exp_annotations": {
                    "summary": "engine websocket is served over a fallback transport",
                    "description": "Calls of portfolio to websocket moved past a failing unix transport for over a "
                                   "minute (500m/s)."}}
    _promtool_test(tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": [
        _alert("1m", "EngineFallbackActive", []), _alert("8m", "EngineFallbackActive", [expected])]}])


def test_engines_in_other_containers_are_reached_over_tcp_without_a_fallback(settings) -> None:
    settings.engine_hosts = {"risk": "risk"}  # compose: the risk engine is the service "risk"
    from nautilus.runtime.client import EngineClient

    remote, local = EngineClient("risk", settings, probe=False), EngineClient("ml", settings, probe=False)
    try:
        assert list(remote.transports) == ["tcp", "inproc"]
        assert list(local.transports)[:2] == ["unix", "tcp"]
    finally:
        remote.close()
        local.close()


def _histogram(route: str, fast: int, slow: int) -> list[dict]:
    """Counter buckets growing by ``fast`` requests under 0.1 s and ``slow`` ones of 0.1..1 s a minute."""
    labels = f'job="gateway", component="gateway", route="{route}", method="GET"'
    return [{"series": f'nautilus_http_request_seconds_bucket{{{labels}, le="{le}"}}', "values": f"0+{n}x20"}
            for le, n in (("0.1", fast), ("1", fast + slow), ("+Inf", fast + slow))]


def test_gateway_p99_leaves_prometheus_scrapes_out(tmp_path) -> None:
    scrapes = _histogram("/metrics/engines/{name}", 0, 12) + _histogram("/metrics", 0, 12)
    quiet = scrapes + _histogram("/api/v1/marketdata/bars", 600, 0)
    slow = scrapes + _histogram("/api/v1/marketdata/bars", 300, 300)
    _promtool_test(tmp_path, [
        {"interval": "1m", "input_series": quiet, "alert_rule_test": [_alert("15m", "GatewayP99OverBudget", [])]},
        {"interval": "1m", "input_series": slow, "alert_rule_test": [_alert("15m", "GatewayP99OverBudget", [
            {"exp_labels": {"severity": "warning"},
             "exp_annotations": {"summary": "gateway p99 latency over 250 ms",
                                 "description": "p99 of HTTP requests (Prometheus's scrapes left out) is 982ms "
                                                "over the last 5 minutes."}}])]}])


def test_data_stale_counts_open_market_time_only(tmp_path) -> None:
    day = 86400
    weekend = {"series": 'nautilus_data_open_age_seconds{component="marketdata", symbol="AAPL", timeframe="1d", '
                         'calendar="weekdays"}',
               "values": f"{int(0.5 * day)}x60"}  # Saturday and Sunday: the market is closed, the age stands still
    stale = {"series": 'nautilus_data_open_age_seconds{component="marketdata", symbol="BTCUSD", timeframe="1d", '
                       'calendar="24x7"}', "values": f"{4 * day}+60x60"}
    expected = {"exp_labels": {"severity": "warning", "symbol": "BTCUSD", "timeframe": "1d", "calendar": "24x7"},
                "exp_annotations": {
                    "summary": "no new daily bar of BTCUSD for 4 open market days",
                    "description": "The newest stored 1d bar of BTCUSD closed 4d 0h 15m 0s of open market time ago "
                                   "(24x7 calendar; closed days are not counted)."}}
    _promtool_test(tmp_path, [
        # a fresh stack: no fetched series, so no input series at all
        {"interval": "1m", "input_series": [], "alert_rule_test": [_alert("30m", "DataStale", [])]},
        {"interval": "1m", "input_series": [weekend, stale], "alert_rule_test": [
            _alert("5m", "DataStale", []), _alert("15m", "DataStale", [expected])]}])


def test_engine_restarted_from_the_process_start_time(tmp_path) -> None:
    labels = 'job="engine-risk", component="risk", instance="gateway:8001"'
    steady = {"series": f'process_start_time_seconds{{{labels}}}', "values": "1000x30"}
    restarted = {"series": f'process_start_time_seconds{{{labels}}}', "values": "1000x5 _x2 1500x30"}
    expected = {"exp_labels": {"severity": "warning", "engine": "risk", "component": "risk", "job": "engine-risk",
                               "instance": "gateway:8001"},
                "exp_annotations": {"summary": "engine risk restarted",
                                    "description": "The risk engine process started 1 time(s) in the last 15 "
                                                   "minutes."}}
    _promtool_test(tmp_path, [
        {"interval": "1m", "input_series": [steady], "alert_rule_test": [_alert("20m", "EngineRestarted", [])]},
        {"interval": "1m", "input_series": [restarted], "alert_rule_test": [
            _alert("4m", "EngineRestarted", []), _alert("10m", "EngineRestarted", [expected]),
            _alert("30m", "EngineRestarted", [])]}])


def test_var_limit_breach(tmp_path) -> None:
    series = [{"series": 'nautilus_risk_limit_utilisation{component="risk", account="default", limit="var_budget"}',
               "values": "0.5 1.25"}]
    expected = {"exp_labels": {"severity": "critical", "component": "risk", "account": "default",
                               "limit": "var_budget"},
                "exp_annotations": {"summary": "account default is over its VaR budget",
                                    "description": "VaR is 125% of the budget."}}
    _promtool_test(tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": [
        _alert("0m", "VarLimitBreach", []), _alert("1m", "VarLimitBreach", [expected])]}])


def test_scrape_targets_never_overwrite_the_metric_engine_label() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            assert "engine" not in static.get("labels", {}), job["job_name"]
            assert static["labels"]["component"] == job["job_name"].removeprefix("engine-")
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    for path in (DEPLOY / "alerts.yml", *sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))):
        assert "exported_engine" not in path.read_text(), path


def test_alertmanager_config_is_valid() -> None:
    out = subprocess.run([require_tool("amtool"), "check-config", str(DEPLOY / "alertmanager.yml")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_open_market_time_by_calendar() -> None:
    friday_bar_close = MONDAY - 2 * DAY_NS  # Friday's daily bar closes at Saturday 00:00
    assert open_ns("weekdays", friday_bar_close, MONDAY + 9 * H) == 9 * H  # the weekend does not count
    assert open_ns("24x7", friday_bar_close, MONDAY + 9 * H) == 57 * H
    assert open_ns("weekdays", MONDAY + H, MONDAY + 3 * H) == 2 * H
    assert open_ns("weekdays", MONDAY - DAY_NS, MONDAY) == 0  # all of Sunday
    # three weeks and a bit: 15 weekdays + Monday 6h, whatever the start
    assert open_ns("weekdays", MONDAY - 21 * DAY_NS, MONDAY + 6 * H) == 15 * DAY_NS + 6 * H
    for start in range(-30 * 24, 0, 5):  # against an hour-by-hour count
        hours = sum(1 for h in range(start, 0) if ((MONDAY // H + h) // 24 + 3) % 7 < 5)
        assert open_ns("weekdays", MONDAY + start * H, MONDAY) == hours * H, start
    assert open_ns("weekdays", MONDAY, MONDAY) == 0 and open_ns("weekdays", MONDAY, MONDAY - H) == 0
    # Easter: Thursday's bar, then Good Friday and Easter Monday closed; on Wednesday before the Tuesday bar
    # is fetched the age is still under the alert's 4 open days
    thursday_close = MONDAY - 3 * DAY_NS
    assert open_ns("weekdays", thursday_close, MONDAY + 2 * DAY_NS + 23 * H) < 4 * DAY_NS
    assert calendar_of("BTCUSD", None) == "24x7" and calendar_of("XBT", "crypto") == "24x7"
    assert calendar_of("AAPL", None) == calendar_of("EURUSD", "fx") == "weekdays"


def test_only_fetched_series_are_measured() -> None:
    instruments = [{"symbol": "AAPL", "asset_class": "equity",
                    "series": [{"timeframe": "1d", "last_ts": MONDAY - 3 * DAY_NS},
                               {"timeframe": "1m", "last_ts": MONDAY - DAY_NS}]},
                   {"symbol": "SAMPLE", "asset_class": None, "series": [{"timeframe": "1d", "last_ts": 0}]}]
    ages = open_ages(instruments, [{"symbol": "AAPL", "timeframe": "1d"}], MONDAY + 9 * H)
    assert ages == [("AAPL", "1d", "weekdays", 9 * 3600.0)]

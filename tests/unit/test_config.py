"""Settings grouped by concern (issue 21): every field has exactly one group, the environment names and keyword
arguments are unchanged, and the grouped listing never shows a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from nautilus.config import GROUPS, SECRET_FIELDS, STACK_FIELDS, Settings, group_name, settings_by_group


def test_every_field_has_exactly_one_group() -> None:
    owners: dict[str, list[str]] = {}
    for group in GROUPS:
        assert issubclass(group, BaseModel) and issubclass(Settings, group)
        for name in group.model_fields:
            owners.setdefault(name, []).append(group.__name__)
    assert set(owners) == set(Settings.model_fields)
    assert {k: v for k, v in owners.items() if len(v) != 1} == {}
    assert set(STACK_FIELDS) <= set(Settings.model_fields)
    assert set(SECRET_FIELDS) <= set(Settings.model_fields)


def test_groups_are_small_and_documented() -> None:
    for group in GROUPS:
        assert group.__doc__ and 1 <= len(group.model_fields) <= 16, group.__name__
        for name, info in group.model_fields.items():
            assert info.description or name in {"host", "gateway_port", "compute_backend", "connect_timeout_s",
                                                "breaker_cooldown_s", "in_process_fallback",
                                                "restart_backoff_max_s", "sample_symbols", "engine_ports"}, name


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("redis_url", "redis://127.0.0.1:6379/3", "redis://127.0.0.1:6379/3"),      # bus
    ("breaker_failures", "7", 7),                                                # engine calls
    ("max_sweep_size", "12", 12),                                                # admission
    ("cors_origins", "http://a.example,http://b.example", ["http://a.example", "http://b.example"]),  # gateway
    ("ws_heartbeat_s", "2.5", 2.5),                                              # stream
    ("auth_mode", "open", "open"),                                               # auth
])
def test_environment_names_are_flat(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, text: str,
                                    expected: object) -> None:
    monkeypatch.setenv(f"NAUTILUS_{name.upper()}", text)
    settings = Settings(home=tmp_path, stack_record=False)
    assert getattr(settings, name) == expected


def test_listing_by_group_hides_secrets(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, stack_record=False, api_keys=["k-secret-1"], metrics_token="tok-secret",
                        database_url="postgresql://u:pw-secret@127.0.0.1/db", fred_api_key="fred-secret")
    listing = settings_by_group(settings)
    assert set(listing) == {group_name(g) for g in GROUPS}
    assert "engine_call" in listing and "source" in listing
    text = repr(listing)
    for secret in ("k-secret-1", "tok-secret", "pw-secret", "fred-secret"):
        assert secret not in text
    assert listing["auth"]["api_keys"]["value"] == "(set)"
    assert listing["storage"]["database_url"]["value"] == "postgresql://u:***@127.0.0.1/db"
    assert listing["bus"]["redis_url"] == {"value": None, "env": "NAUTILUS_REDIS_URL",
                                           "description": "Redis URL; unset means the in-memory bus"}
    assert sum(len(rows) for rows in listing.values()) == len(Settings.model_fields)


def test_cli_lists_every_setting_by_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from nautilus.cli import app
    from nautilus.config import get_settings

    monkeypatch.setenv("NAUTILUS_HOME", str(tmp_path))
    monkeypatch.setenv("NAUTILUS_METRICS_TOKEN", "tok-secret")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["config", "--all", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["auth"]["metrics_token"]["value"] == "(set)" and "tok-secret" not in result.stdout
    assert listing["home"]["home"]["value"] == str(tmp_path)
    assert sum(len(rows) for rows in listing.values()) == len(Settings.model_fields)

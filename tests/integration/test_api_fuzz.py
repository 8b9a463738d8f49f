"""Schemathesis against the gateway's /openapi.json: generated requests to every operation, and not one
server error (5xx) in answer, in each way a caller can come (issue 18): open local mode without a key, keys
mode without a key (every /api call a 401), and keys mode with an admin key. In-process engines, a little
sample data so reads find something."""

from __future__ import annotations

import pytest
import schemathesis
import schemathesis.transport.asgi  # noqa: F401  imported here, not lazily by the first call (see below)
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from tests.conftest import free_port_offset

from nautilus.config import Settings
from nautilus.gateway.app import create_app

pytestmark = pytest.mark.integration
# schemathesis imports its ASGI transport on the first case.call(), deep inside a Hypothesis test; pytest's
# assertion rewriting of that plugin module there hit CPython 3.11's "AST constructor recursion depth mismatch"
# SystemError in CI (pytest-dev/pytest#10763). Importing it at module level, on a shallow stack, avoids it.
# Per operation: about a minute for the whole API on 2 cores with keys; the keyless run is all 401s (cheap).
EXAMPLES = {"open": 5, "keys-without-key": 2, "keys-admin": 4}
ADMIN_KEY = "fuzz-admin-key-0123456789"


@pytest.mark.parametrize("mode", list(EXAMPLES))
def test_no_operation_answers_a_server_error(tmp_path, mode) -> None:
    settings = Settings(home=tmp_path / "fuzz", port_offset=free_port_offset(),
                        auth_mode="open" if mode == "open" else "keys", call_timeout_s=60.0,
                        host_stateful_engines=True)  # numba JIT on 2 cores
    app = create_app(settings)
    headers = {"X-API-Key": ADMIN_KEY} if mode == "keys-admin" else {}
    with TestClient(app, base_url="http://127.0.0.1", headers=headers) as client:
        if mode != "open":
            app.state.db.add_api_key("fuzz-admin", ADMIN_KEY, "admin")
        r = client.post("/api/v1/marketdata/generate", json={"symbol": "AAPL", "n": 300})
        assert r.status_code == (401 if mode == "keys-without-key" else 201), r.text
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={"host": "127.0.0.1",
                                                                          "X-API-Key": ADMIN_KEY})
        failures: list[tuple] = []
        statuses: dict[str, set[int]] = {}
        operations = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1

            # generated requests, then each documented example (valid bodies reach the engines' real paths)
            for strategy, examples in ((operation.as_strategy(), EXAMPLES[mode]),
                                       *((s, 1) for s in operation.get_strategies_from_examples())):

                @given(case=strategy)
                @hsettings(max_examples=examples, deadline=None, database=None,
                           suppress_health_check=list(HealthCheck))
                def call(case) -> None:
                    response = case.call(headers={"host": "127.0.0.1", **headers}, timeout=120)  # JIT, 2 cores
                    statuses.setdefault(case.path, set()).add(response.status_code)
                    if response.status_code >= 500:
                        failures.append((case.method, case.path, case.path_parameters, case.query, case.body,
                                         response.status_code, response.text[:300]))

                call()
    assert operations > 60
    assert not failures, [f[:2] + f[4:] for f in failures[:5]]
    api = {path: codes for path, codes in statuses.items() if path.startswith("/api/")}
    if mode == "keys-without-key":  # fails closed: nothing under /api answers without a key
        assert all(codes <= {401, 404, 405, 413, 415, 421} for codes in api.values()), api
    else:  # the requests reached the engines: some succeeded
        assert sum(any(c < 300 for c in codes) for codes in api.values()) > 20, api

"""Schemathesis against the gateway's /openapi.json: generated requests to every operation, and not one
server error (5xx) in answer. In-process engines, a little sample data so reads find something."""

from __future__ import annotations

import pytest
import schemathesis
import schemathesis.transport.asgi  # noqa: F401  imported here, not lazily by the first call (see below)
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from nautilus.config import Settings
from nautilus.gateway.app import create_app

pytestmark = pytest.mark.integration
# schemathesis imports its ASGI transport on the first case.call(), deep inside a Hypothesis test; pytest's
# assertion rewriting of that plugin module there hit CPython 3.11's "AST constructor recursion depth mismatch"
# SystemError in CI (pytest-dev/pytest#10763). Importing it at module level, on a shallow stack, avoids it.
EXAMPLES = 5  # per operation: about a minute for the whole API on 2 cores


def test_no_operation_answers_a_server_error(tmp_path) -> None:
    app = create_app(Settings(home=tmp_path / "fuzz", auth_mode="open", allowed_hosts=["testserver"]))
    with TestClient(app) as client:
        assert client.post("/api/v1/marketdata/generate", json={"symbol": "AAPL", "n": 300}).status_code == 201
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        failures: list[tuple] = []
        operations = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1

            # generated requests, then each documented example (valid bodies reach the engines' real paths)
            for strategy, examples in ((operation.as_strategy(), EXAMPLES),
                                       *((s, 1) for s in operation.get_strategies_from_examples())):

                @given(case=strategy)
                @hsettings(max_examples=examples, deadline=None, database=None,
                           suppress_health_check=list(HealthCheck))
                def call(case) -> None:
                    response = case.call()
                    if response.status_code >= 500:
                        failures.append((case.method, case.path, case.path_parameters, case.query, case.body,
                                         response.status_code, response.text[:300]))

                call()
    assert operations > 60
    assert not failures, [f[:2] + f[4:] for f in failures[:5]]

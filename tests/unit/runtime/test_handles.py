"""Typed engine handles: the engine's method itself names the call, and the client refuses another engine's."""

from __future__ import annotations

import pytest

from nautilus.core.errors import NotFound
from nautilus.engines.factor.engine import FactorEngine
from nautilus.engines.features.engine import FeaturesEngine
from nautilus.runtime.client import EngineClient, method_name
from nautilus.runtime.engine import Echo, Engine


def test_a_handle_is_its_handler_and_a_name_is_still_taken_for_the_generic_methods(settings) -> None:
    client = EngineClient("factor", settings, probe=False)
    try:
        assert client._spec(FactorEngine.compute).func is FactorEngine.compute
        assert client._spec("echo").name == "echo"
        assert client.call(Engine.echo, Echo(text="x", value=2.0)) == Echo(text="x", value=2.0)
        assert client.call("echo", Echo(text="y")) == Echo(text="y")
    finally:
        client.close()


def test_another_engines_method_of_the_same_name_is_refused(settings) -> None:
    assert method_name(FeaturesEngine.compute) == method_name(FactorEngine.compute) == "compute"
    client = EngineClient("factor", settings, probe=False)
    try:
        with pytest.raises(TypeError, match="FeaturesEngine.compute is not a handler of the factor engine"):
            client.call(FeaturesEngine.compute, None)
        with pytest.raises(NotFound):
            client.call("no_such_method")
    finally:
        client.close()

"""Engines are called by handle, not by name: ``await client.acall(MarketDataEngine.bars_json, req)``, so that
"go to definition" on a route's call lands on the handler (route → handler → kernel).

An AST scan of the code that calls engines (gateway, CLI, engines, bench) fails on a call naming an engine
method by a string literal, other than the methods every engine has (``echo``, ``describe_array``) and the
host's own frames (ping, health, metrics). Every handle passed names a handler of a registered engine class;
a gateway module calls only the engines whose clients it takes; every route calls exactly one handler.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.paths import ROOT

from nautilus.engines import engine_class, engine_names
from nautilus.engines.marketdata.engine import MarketDataEngine
from nautilus.runtime.client import method_name
from nautilus.runtime.engine import Engine
from nautilus.runtime.host import HEALTH, METRICS, PING

SRC = ROOT / "src" / "nautilus"
SCANNED = ("gateway", "cli", "engines", "bench")
ROUTERS = SRC / "gateway" / "routers"
CALLS = {"call", "acall", "_call"}  # EngineClient.call/acall and the callers' thin wrappers around them
GENERIC = set(Engine.methods()) | {PING, HEALTH, METRICS}
CLASSES: dict[str, type[Engine]] = {"Engine": Engine} | {
    cls.__name__: cls for cls in (engine_class(name) for name in engine_names())}
ROUTE_VERBS = {"get", "post", "put", "patch", "delete"}


def _modules(*packages: str) -> Iterator[tuple[Path, ast.Module]]:
    for package in packages:
        for path in sorted((SRC / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _method_arg(node: ast.Call) -> ast.expr | None:
    """The argument naming the engine method of a call to an engine: the first of ``client.call(...)``,
    ``acall`` or a ``_call`` wrapper, or the one after a bound ``client.call`` handed on
    (``run_guarded(client.call, METHOD, req)``, ``functools.partial``)."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name in CALLS and node.args:
        return node.args[0]
    for arg, following in zip(node.args, node.args[1:], strict=False):
        if isinstance(arg, ast.Attribute) and arg.attr in ("call", "acall"):
            return following
    return None


def _named_by_string(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of every engine call naming a non-generic method by a string literal."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            arg = _method_arg(node)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value not in GENERIC:
                found.append((node.lineno, arg.value))
    return sorted(found)


def _handles(tree: ast.AST) -> list[tuple[int, str, str]]:
    """(line, class, method) of every engine call whose method is a handle ``SomeEngine.method``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            arg = _method_arg(node)
            if (isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name)
                    and arg.value.id.endswith("Engine")):
                found.append((node.lineno, arg.value.id, arg.attr))
    return sorted(found)


def test_the_scan_sees_names_and_handles() -> None:
    """Positive controls: each way of calling an engine by name is caught; handles are not."""
    code = ast.parse(
        "async def route(client, req):\n"
        "    await client.acall('bars_json', req)\n"
        "    client.call('generate', req, timeout=1.0)\n"
        "    run_guarded(client.call, 'bars', req)\n"
        "    functools.partial(client.call, 'poll', req)\n"
        "    _call('fetch_start', req)\n"
        "    client.call('echo', req)\n"
        "    await client.acall(MarketDataEngine.bars_json, req)\n"
        "    run_guarded(client.call, MarketDataEngine.bars, req)\n")
    assert _named_by_string(code) == [(2, "bars_json"), (3, "generate"), (4, "bars"), (5, "poll"),
                                      (6, "fetch_start")]
    assert _handles(code) == [(8, "MarketDataEngine", "bars_json"), (9, "MarketDataEngine", "bars")]


def test_no_engine_method_is_named_by_a_string() -> None:
    offenders: dict[str, list[str]] = {}
    for path, tree in _modules(*SCANNED):
        for line, name in _named_by_string(tree):
            offenders.setdefault(str(path.relative_to(ROOT)), []).append(f"{line}: {name!r}")
    found = [f"{path}:{site}" for path, sites in offenders.items() for site in sites]
    assert found == [], "call the engine's method itself (XEngine.method), not its name:\n" + "\n".join(found)


def test_every_handle_names_a_handler_of_a_registered_engine() -> None:
    seen = 0
    for path, tree in _modules(*SCANNED):
        for line, cls_name, attr in _handles(tree):
            where = f"{path.relative_to(ROOT)}:{line}: {cls_name}.{attr}"
            cls = CLASSES.get(cls_name)
            assert cls is not None, f"{where}: not a registered engine class ({', '.join(CLASSES)})"
            spec = cls.methods().get(attr)
            assert spec is not None, f"{where}: not a handler of {cls_name}"
            assert spec.func is getattr(cls, attr)
            seen += 1
    assert seen > 100  # the scan is not vacuous: routes, CLI commands and bench cases call by handle


def _engines_used(tree: ast.AST) -> set[str]:
    """The engines whose clients a gateway module takes: ``request.app.state.engines["name"]``."""
    return {node.slice.value for node in ast.walk(tree)
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
            and node.value.attr == "engines" and isinstance(node.slice, ast.Constant)}


def test_gateway_modules_call_the_engine_of_their_client() -> None:
    """``client.acall(FeaturesEngine.compute, req)`` on the Factor engine's client would reach FactorEngine.compute:
    a module calls only handlers of the engines it takes clients of."""
    for path, tree in _modules("gateway"):
        used = _engines_used(tree)
        for line, cls_name, attr in _handles(tree):
            assert CLASSES[cls_name].name in used, (
                f"{path.relative_to(ROOT)}:{line}: {cls_name}.{attr} called, but the module's clients are {used}")


def _routes(tree: ast.Module) -> Iterator[ast.AsyncFunctionDef | ast.FunctionDef]:
    for node in tree.body:
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and any(
                isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in ROUTE_VERBS
                and isinstance(d.func.value, ast.Name) and d.func.value.id == "router" for d in node.decorator_list):
            yield node


@pytest.mark.parametrize("path", sorted(p for p in ROUTERS.glob("*.py") if p.name != "__init__.py"),
                         ids=lambda p: p.stem)
def test_every_route_calls_one_handler(path: Path) -> None:
    """One "go to definition" from a route reaches its engine handler."""
    routes = list(_routes(ast.parse(path.read_text(encoding="utf-8"))))
    assert routes, f"no routes found in {path.name}"
    for route in routes:
        handles = _handles(route)
        assert len(handles) == 1, f"{path.name}: route {route.name} calls {len(handles)} handlers: {handles}"


def test_method_name_is_the_wire_name() -> None:
    assert method_name(MarketDataEngine.bars_json) == "bars_json"
    assert MarketDataEngine.method(method_name(MarketDataEngine.bars_json)).func is MarketDataEngine.bars_json
    assert method_name(Engine.echo) == "echo"
    assert method_name("echo") == "echo"  # the methods every engine has may still be named
    assert method_name(MarketDataEngine.__new__(MarketDataEngine).instruments) == "instruments"  # a bound method


def test_method_name_refuses_what_is_not_a_method() -> None:
    with pytest.raises(TypeError, match="not an engine method"):
        method_name(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not an engine method"):
        method_name(None)  # type: ignore[arg-type]

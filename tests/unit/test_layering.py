"""The package's layering (issue 21): the import-linter contracts in ``.importlinter`` hold, the runtime has no
import cycle and imports no engine; the engine registry and the bus's forwarding sink are injected.

Without import-linter (the ``test`` extra) the contract check skips, and fails with ``CI`` set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from nautilus.config import Settings
from nautilus.runtime import registry as engine_registry
from nautilus.runtime.client import EngineClient
from nautilus.runtime.engine import Engine, handler

ROOT = Path(__file__).resolve().parents[2]


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed (pip install -e '.[test]')")
    pytest.skip(f"{what} is not installed")


def test_import_contracts_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    tool = str(exe) if exe.is_file() else shutil.which("lint-imports")
    if tool is None:
        _missing("import-linter")
    out = subprocess.run([tool, "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def _cycles(graph: Any, package: str) -> list[list[str]]:
    """The strongly connected components of more than one module among ``package``'s modules (Tarjan)."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    inside = set(modules)
    edges = {m: sorted(d for d in graph.find_modules_directly_imported_by(m) if d in inside and d != m)
             for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for m in modules:
        if m not in index:
            visit(m)
    return found


def test_runtime_has_no_import_cycles() -> None:
    """Counting every import, function-level and TYPE_CHECKING ones included."""
    try:
        import grimp
    except ImportError:
        _missing("grimp (import-linter)")
    graph = grimp.build_graph("nautilus", cache_dir=None)
    assert {"nautilus.runtime.client", "nautilus.runtime.host", "nautilus.runtime.bus"} <= graph.modules
    assert _cycles(graph, "nautilus.runtime") == []


def test_runtime_loads_no_engine() -> None:
    body = ("import sys\n"
            "import nautilus.runtime.bus, nautilus.runtime.client, nautilus.runtime.host\n"
            "import nautilus.runtime.supervisor, nautilus.runtime.registry\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[:2] in (['nautilus', 'engines'],"
            " ['nautilus', 'gateway'], ['nautilus', 'web'], ['nautilus', 'cli']))\n"
            "assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", body], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


class _Ping(msgspec.Struct):
    text: str


class _TinyEngine(Engine):
    name = "tiny"

    @handler
    def shout(self, req: _Ping) -> _Ping:
        return _Ping(req.text.upper())


class _TinyRegistry:
    def engine_class(self, name: str) -> type[Engine]:
        assert name == "tiny"
        return _TinyEngine

    def engine_names(self) -> list[str]:
        return ["tiny"]


def test_client_takes_an_injected_registry(settings: Settings) -> None:
    client = EngineClient("tiny", settings, transports=("inproc",), probe=False,
                          registry=_TinyRegistry())
    try:
        assert client.call("shout", _Ping("hi")) == _Ping("HI")
    finally:
        client.close()


def test_default_registry_is_the_installed_one(settings: Settings) -> None:
    import nautilus.engines

    assert engine_registry.registry() is nautilus.engines
    assert "marketdata" in engine_registry.engine_names()
    sink = engine_registry.forward_sink(settings)
    assert isinstance(sink, nautilus.engines.HubSink)
    sink.close()


MAX_MODULE_LINES = 800


def test_no_module_is_over_800_lines() -> None:
    long = {str(path.relative_to(ROOT)): n for path in sorted((ROOT / "src" / "nautilus").rglob("*.py"))
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these by what they hold (at most {MAX_MODULE_LINES} lines a module)"

"""No import cycle anywhere in ``nautilus`` (issue 21), counted between modules on grimp's import graph.

What counts as an import: every ``import`` statement grimp finds in a module, at the top or inside a function
(a lazy import that only hides a cycle from the interpreter is still a dependency, so it still counts);
``if TYPE_CHECKING:`` imports are left out (never executed: annotations only).

Packages: a package is its ``__init__`` module. ``__init__`` importing its submodules (to re-export names) is an
edge from the package to each of them, and a submodule importing a name from its own package
(``from nautilus.analytics import summary``) is an edge to the package: when ``__init__`` imports that
submodule, or a sibling that imports it, the two are a cycle and are reported like any other. Not an edge: the
interpreter running a package's ``__init__`` before a submodule of it (``import a.b`` runs ``a/__init__.py``
first); counting that would make every re-exporting ``__init__`` a cycle with its own submodules.

A cycle is a strongly connected component of more than one module: module ``m`` is on one exactly when some
module it imports, directly or not, imports it back (``upstream(m) & downstream(m)``). The failure lists each
component with the import lines that tie it together.

Without grimp (import-linter, the ``test`` extra) this skips, and fails with ``CI`` set.
"""

from __future__ import annotations

import os
from typing import Any

import pytest


def _grimp() -> Any:
    try:
        import grimp
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("grimp is not installed (pip install -e '.[test]')")
        pytest.skip("grimp is not installed")
    return grimp


def import_cycles(graph: Any) -> list[list[str]]:
    """Each strongly connected component of more than one module of ``graph``, sorted."""
    components: list[list[str]] = []
    seen: set[str] = set()
    for module in sorted(graph.modules):
        if module in seen:
            continue
        component = graph.find_upstream_modules(module) & graph.find_downstream_modules(module)
        if component:
            members = sorted(component | {module})
            seen.update(members)
            components.append(members)
    return components


def describe(graph: Any, component: list[str]) -> str:
    """The component's modules and the import statements between them (``importer:line  statement``)."""
    inside = set(component)
    lines = [" <-> ".join(component)]
    for importer in component:
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & inside):
            for detail in graph.get_import_details(importer=importer, imported=imported):
                lines.append(f"    {importer}:{detail['line_number']}  {detail['line_contents']}")
    return "\n".join(lines)


def test_the_package_has_no_import_cycle() -> None:
    grimp = _grimp()
    graph = grimp.build_graph("nautilus", include_external_packages=False, exclude_type_checking_imports=True,
                              cache_dir=None)
    assert {"nautilus.storage.db", "nautilus.analytics.stats", "nautilus.strategy.backtest"} <= graph.modules
    cycles = import_cycles(graph)
    assert cycles == [], f"{len(cycles)} import cycle(s):\n" + "\n".join(describe(graph, c) for c in cycles)


def test_the_check_sees_lazy_and_package_cycles() -> None:
    """The detector itself: a cycle through a function-level import, one through a package ``__init__`` that
    re-exports a sibling, and none for a package that only re-exports its submodules."""
    grimp = _grimp()
    graph = grimp.ImportGraph()
    for module in ("p", "p.a", "p.b", "p.c", "q", "q.x", "q.y"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b", line_number=3, line_contents="from p.b import f")
    graph.add_import(importer="p.b", imported="p.a", line_number=9, line_contents="from p.a import g  # lazy")
    graph.add_import(importer="p", imported="p.c", line_number=1, line_contents="from p.c import h")
    graph.add_import(importer="p", imported="p.a", line_number=2, line_contents="from p.a import g")
    graph.add_import(importer="p.c", imported="p", line_number=4, line_contents="from p import g")
    graph.add_import(importer="q", imported="q.x", line_number=1, line_contents="from q.x import u")
    graph.add_import(importer="q", imported="q.y", line_number=2, line_contents="from q.y import v")
    graph.add_import(importer="q.y", imported="q.x", line_number=1, line_contents="from q.x import u")

    assert import_cycles(graph) == [["p", "p.c"], ["p.a", "p.b"]]
    assert describe(graph, ["p", "p.c"]).splitlines() == [
        "p <-> p.c", "    p:1  from p.c import h", "    p.c:4  from p import g"]
    assert "    p.b:9  from p.a import g  # lazy" in describe(graph, ["p.a", "p.b"]).splitlines()

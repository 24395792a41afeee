"""The shape of the package, checked: who imports whom, and where the kiosk is put together.

`python -m tests.test_architecture` prints the import graph: each module with the `kiosk.*`
modules it imports (at any level: top, function or TYPE_CHECKING).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "kiosk"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(encoding="utf-8"), str(path))
            for path in sorted(PACKAGE.rglob("*.py"))}


def kiosk_imports(name: str, tree: ast.Module) -> set[str]:
    """The kiosk.* modules `name` imports; `from kiosk.x import y` counts as kiosk.x (or
    kiosk.x.y when that is a module)."""
    known = set(modules_cache())
    package = name if (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists() \
        else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "kiosk"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "kiosk":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    found.discard(name)
    return found


_CACHE: dict[str, ast.Module] = {}


def modules_cache() -> dict[str, ast.Module]:
    if not _CACHE:
        _CACHE.update(modules())
    return _CACHE


def import_graph() -> dict[str, set[str]]:
    return {name: kiosk_imports(name, tree) for name, tree in modules_cache().items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, each once (as the strongly connected components of two or more
    modules, or one importing itself), by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_round_about() -> None:
    """Counting every import, at any level: a cycle is two modules that are really one."""
    assert cycles(import_graph()) == []


def test_the_loop_imports_only_the_model() -> None:
    assert import_graph()["kiosk.loop"] == {"kiosk.model"}


def test_the_top_level_is_short() -> None:
    """A newcomer reads `kiosk/` by capability: at most 12 modules beside the packages."""
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(top) <= 12, top


def test_the_graph_sees_known_edges() -> None:
    graph = import_graph()
    assert "kiosk.app" in graph["kiosk.bootstrap"]
    assert "kiosk.model" in graph["kiosk.checking.checker"]


def test_the_diia_library_imports_nothing_else_from_the_kiosk() -> None:
    outside = {name: sorted(imported - {"kiosk.diia"} - {m for m in imported
                                                      if m.startswith("kiosk.diia.")})
               for name, imported in import_graph().items() if name.startswith("kiosk.diia")}
    assert {name: found for name, found in outside.items() if found} == {}
    assert len(outside) >= 10  # the client, its parts and the sandbox were all looked at


def test_importing_the_diia_library_changes_no_logger() -> None:
    """No side effect at import: the redaction filter goes on when a client is made."""
    code = ("import logging, kiosk.diia.client, kiosk.diia.sandbox; "
            "print(sum(len(logging.getLogger(n).filters) for n in ('httpx', 'httpcore.http11')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "0"


def kiosk_builders(trees: dict[str, ast.Module]) -> set[str]:
    """The modules among `trees` that call `Kiosk(...)`."""
    builders = set()
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if called == "Kiosk":
                    builders.add(name)
    return builders


def test_only_the_composition_root_constructs_the_kiosk() -> None:
    assert kiosk_builders(modules_cache()) == {"kiosk.bootstrap"}


def test_the_benchmarks_build_the_kiosk_through_the_composition_root() -> None:
    """A benchmark measures the kiosk as it ships: built by `bootstrap`, overrides and all."""
    bench = PACKAGE.parent / "bench"
    scripts = {str(path.relative_to(bench)): ast.parse(path.read_text(encoding="utf-8"),
                                                       str(path))
               for path in sorted(bench.rglob("*.py"))}
    assert "latency.py" in scripts and "loop.py" in scripts  # the loop benchmarks were seen
    assert kiosk_builders(scripts) == set()


if __name__ == "__main__":
    for module, imported in import_graph().items():
        print(f"{module}: {', '.join(sorted(imported)) or '-'}")

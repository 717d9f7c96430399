"""The package's import graph, read from the source (every import: module level, under TYPE_CHECKING and
inside functions): no module is part of an import loop, and no module imports a higher layer than its own
except the few that docs/architecture.md names ("Left as is")."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "smallfirst"
LAYERS: dict[str, int] = {
    "core": 0,
    **dict.fromkeys(("config", "catalog", "plugins"), 1),
    **dict.fromkeys(("backends", "signals", "sensitivity", "routing", "policy", "access", "store",
                     "resilience", "cascade"), 2),
    **dict.fromkeys(("engine", "request", "stream", "recorder", "asking", "wire", "pipeline", "evaluate",
                     "sizing", "finetune", "runtime", "embeddings", "cache"), 3),
    **dict.fromkeys(("server", "dashboard", "cli"), 4),
}
# upward imports docs/architecture.md names, all lazy (inside a function): (importer, imported)
ALLOWED_UP = {
    ("smallfirst.config.location", "smallfirst.backends.presets"),  # each preset's default URL
    ("smallfirst.config.builtins", "smallfirst.store.sqlite"),  # the built-in stores, registered by path
    ("smallfirst.config.builtins", "smallfirst.store.postgres"),
    ("smallfirst.config.aliases", "smallfirst.backends.embedded"),  # the bundled model's name, for aliases
    ("smallfirst.config.aliases", "smallfirst.embeddings.minilm"),  # the built-in embedder's names
    ("smallfirst.routing.embedding", "smallfirst.embeddings.minilm"),  # the learned router's embed features
    ("smallfirst.routing.model", "smallfirst.embeddings.minilm"),
}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _targets(name: str, path: Path, node: ast.Import | ast.ImportFrom, mods: dict[str, Path]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
    for target in names:
        while target not in mods and "." in target:
            target = target.rsplit(".", 1)[0]
        if target.startswith("smallfirst.") and target in mods and target != name:
            yield target


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[name].update(_targets(name, path, node, mods))
    return graph


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def _loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_loops() -> None:
    assert _loops(_graph()) == []


def test_every_top_level_part_has_a_layer() -> None:
    tops = {m.split(".")[1] for m in _modules() if "." in m}
    assert sorted(tops - set(LAYERS)) == []


def test_no_upward_imports_but_the_named_ones() -> None:
    up = set()
    for m, targets in _graph().items():
        for t in targets:
            a, b = _layer(m), _layer(t)
            if a is not None and b is not None and b > a:
                up.add((m, t))
    assert sorted(up - ALLOWED_UP) == []
    assert sorted(ALLOWED_UP - up) == [], "an allowed upward import is gone: drop it from the list and the doc"


def test_the_graph_reader_sees_lazy_and_type_checking_imports() -> None:
    g = _graph()
    assert "smallfirst.store.sqlite" in g["smallfirst.config.builtins"]  # imported inside a function
    assert "smallfirst.core.types" in g["smallfirst.engine"]

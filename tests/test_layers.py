"""The import graph runs one way: eventcore at the bottom, model above it, app on top.

Walks every module's imports (top-level and inside functions alike) with ``ast`` and
fails on an upward import or on any import loop between files.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("eventcore", "model", "app", "tools", "benchmarks")
# The part of model/ the app may use: the network and its checkpoints.
APP_MAY_USE_MODEL = ("model", "model.networks", "model.tcja", "model.checkpoint", "model.zoo", "model.export",
                     "model.device", "model.evidence",  # the class evidence map the GUI draws
                     "model.finetune")  # the Teach panel and `main.py finetune` fine-tune on the user's takes


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules that ``path`` imports, resolved to the longest existing module name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: _imports(p, modules) - {m} for m, p in modules.items()}


def _layer(module: str) -> str:
    return module.split(".")[0]


def test_graph_is_not_empty():
    graph = _graph()
    assert "eventcore.frames" in graph and "app.pipeline" in graph and "model.train" in graph
    assert any(dep.startswith("eventcore") for dep in graph["app.pipeline"])


def test_eventcore_imports_only_itself_and_numpy():
    bad = []
    for mod, deps in _graph().items():
        if _layer(mod) == "eventcore":
            bad += [f"{mod} -> {d}" for d in deps if _layer(d) != "eventcore"]
        path = _modules()[mod]
        if _layer(mod) == "eventcore":
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    top = (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name) or ""
                    if top.split(".")[0] in {"torch", "dv_processing", "PyQt6", "pyqtgraph", "spikingjelly"}:
                        bad.append(f"{mod} -> {top}")
    assert not bad, "eventcore must stand alone:\n" + "\n".join(bad)


def test_model_imports_only_core_and_itself():
    bad = [f"{m} -> {d}" for m, deps in _graph().items() if _layer(m) == "model"
           for d in deps if _layer(d) not in ("eventcore", "model")]
    assert not bad, "model/ imports upward:\n" + "\n".join(bad)


def test_app_uses_only_the_network_part_of_model():
    bad = [f"{m} -> {d}" for m, deps in _graph().items() if _layer(m) == "app"
           for d in deps if _layer(d) in ("tools", "benchmarks") or (_layer(d) == "model" and d not in APP_MAY_USE_MODEL)]
    assert not bad, "app/ reaches past the network and checkpoint code:\n" + "\n".join(bad)


def test_no_import_loops():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                loops.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    # A package's __init__ re-exporting its submodules is not a loop between files.
    loops = [c for c in loops if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert not loops, "import loops: " + "; ".join(" <-> ".join(c) for c in loops)


FORMAT_LIBRARIES = {"lz4", "zstandard", "faery", "evt3", "h5py"}


def test_only_the_format_layer_decodes_files():
    """Every file format is decoded in eventcore.aedat (the format layer): no module above it imports a codec."""
    bad = []
    for mod, path in _modules().items():
        if mod.startswith("eventcore.aedat") or _layer(mod) in ("benchmarks", "tools"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                tops = [node.module or ""]
            else:
                continue
            bad += [f"{mod} -> {t}" for t in tops if t.split(".")[0] in FORMAT_LIBRARIES]
    assert not bad, "file formats are decoded outside eventcore.aedat:\n" + "\n".join(bad)

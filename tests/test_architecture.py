"""The layout's rules, checked on the source: imports point one way (hw_builders <-
search_spaces <- dse), no two modules of the project import each other (at module level or
inside functions), and the hardware side (hw_builders, and the lowering of a family to a
hardware graph) runs without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hw_builders", "search_spaces", "dse")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def _imports() -> dict[str, set[str]]:
    """Module -> the project modules it imports (every import statement, any depth)."""
    mods = _modules()

    def resolve(name: str) -> str | None:
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            if ".".join(parts[:i]) in mods:
                return ".".join(parts[:i])
        return None

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            found: list[str | None] = []
            if isinstance(node, ast.Import):
                found = [resolve(a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from pkg import name``: the submodule pkg.name when there is one, else pkg
                found = [
                    resolve(f"{node.module}.{a.name}") or resolve(node.module) for a in node.names
                ]
            edges[mod].update(r for r in found if r is not None and r != mod)
    return edges


def test_no_import_circles() -> None:
    edges = _imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
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
                circles.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    assert circles == []


def test_imports_point_one_way() -> None:
    rank = {"hw_builders": 0, "search_spaces": 1, "dse": 2}
    wrong = [
        (a, b)
        for a, targets in _imports().items()
        for b in targets
        if rank[b.split(".")[0]] > rank[a.split(".")[0]]
    ]
    assert wrong == []


def test_the_hardware_side_needs_no_torch() -> None:
    script = (
        "import sys\n"
        "import hw_builders\n"
        "from search_spaces import get_family\n"
        "fam = get_family('cnv')\n"
        "graph = fam.lower(fam.default_arch((1, 16, 16), 10, width_mult=0.25))\n"
        "hw_builders.estimate(graph, board='Pynq-Z1')\n"
        "print(sorted(m for m in ('torch', 'brevitas') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_no_module_imports_another_modules_private_names() -> None:
    private = []
    for mod, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] not in PACKAGES:
                    continue
                private += [
                    f"{mod}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert private == []


def _optuna_private_uses(tree: ast.AST) -> list[str]:
    """Imports of Optuna's private modules or names, and reads of the private attributes of
    Optuna objects that dse.optuna_bridge wraps."""
    bridged = {"_trial_id", "_storage", "_backend", "_thread_local", "_rdb", "_heartbeat"}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("optuna"):
            names = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("optuna")]
        for name in names:
            if any(p.startswith("_") and not p.startswith("__") for p in name.split(".")):
                found.append(f"line {node.lineno}: {name}")
        if isinstance(node, ast.Attribute) and node.attr in bridged:
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def test_only_the_bridge_touches_optunas_private_names() -> None:
    """Optuna's private API is used in dse/optuna_bridge.py only (where a test checks its
    shape: tests/dse/test_optuna_bridge.py); every other module goes through the bridge or
    Optuna's public API."""
    uses = {
        mod: found
        for mod, path in _modules().items()
        if mod != "dse.optuna_bridge"
        and (found := _optuna_private_uses(ast.parse(path.read_text())))
    }
    assert uses == {}
    bridge = ast.parse((ROOT / "dse" / "optuna_bridge.py").read_text())
    assert _optuna_private_uses(bridge)  # the check sees what the bridge does


def test_the_design_layer_never_reaches_into_training_or_its_readers() -> None:
    """dse.design is what the study, the runtime and the export read designs through: it
    reads weights and costs, but never imports the packages that train or read it."""
    above = ("dse.accuracy", "dse.study", "dse.runtime", "dse.export", "dse.cli", "dse.storage")
    wrong = [
        (a, b)
        for a, targets in _imports().items()
        if a.startswith("dse.design")
        for b in targets
        if b.startswith(above)
    ]
    assert wrong == []


def test_one_costing_path() -> None:
    """Within dse, only dse.design.cost calls the staged cost model: the study, the runtime
    baselines, the export and the CLI cost a design through dse.design.cost."""
    callers = sorted(
        name
        for name, path in _modules().items()
        if name.startswith("dse") and "staged_performance" in path.read_text()
    )
    assert callers == ["dse.design.cost"]


def test_no_function_is_over_80_lines() -> None:
    """Functions are split by the steps they name (docstrings and nested functions count)."""
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > 80:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert long == []


def test_the_host_runtime_never_reads_the_study_database() -> None:
    """dse.deploy runs where the database is not: it reads the exported library only."""
    wrong = [
        (a, b)
        for a, targets in _imports().items()
        if a.startswith("dse.deploy")
        for b in targets
        if b.startswith(("dse.storage", "dse.study", "dse.optuna_bridge", "dse.export"))
    ]
    assert wrong == []
    assert any(a.startswith("dse.deploy") for a in _imports())  # the check sees the package

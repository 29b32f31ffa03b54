"""The layout's rules, read from the source (AST), so a violation fails here and not in review.

- sim/physics: pure functions of numbers: no simpy, nothing from another subpackage.
- sim/world: nothing from sim.outputs, sim.studies or sim.cli.
- sim/outputs: tables come from what the probes recorded: nothing from sim.physics or sim.world
  (type hints under TYPE_CHECKING aside).
- sim.cli is imported by nothing (sim/__main__.py runs it).
- no import cycles among modules outside TYPE_CHECKING blocks; no `_private` name imported from
  another module.
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1] / "sim"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(module imported, names imported) for every import outside `if TYPE_CHECKING:` blocks."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> tuple[dict[str, list[tuple[str, list[str]]]], set[str]]:
    modules = {_module_name(p): _imports(ast.parse(p.read_text(), str(p))) for p in ROOT.rglob("*.py")}
    return modules, set(modules)


MODULES, NAMES = _graph()


def _targets(module: str) -> list[str]:
    """The sim modules a module imports (an imported name that is itself a module counts as one)."""
    out = []
    for imported, names in MODULES[module]:
        if imported == "sim" or imported.startswith("sim."):
            out.append(imported)
            out += [f"{imported}.{n}" for n in names if f"{imported}.{n}" in NAMES]
    return out


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("module", sorted(m for m in NAMES if _in(m, "sim.physics")))
def test_physics_is_pure(module):
    for imported, _ in MODULES[module]:
        assert not _in(imported, "simpy"), f"{module} imports simpy"
        if _in(imported, "sim"):
            assert _in(imported, "sim.physics"), f"{module} imports {imported}"


@pytest.mark.parametrize("module", sorted(m for m in NAMES if _in(m, "sim.world")))
def test_world_imports_no_outputs_studies_or_cli(module):
    for imported in _targets(module):
        assert not any(_in(imported, p) for p in ("sim.outputs", "sim.studies", "sim.cli")), f"{module} imports {imported}"


@pytest.mark.parametrize("module", sorted(m for m in NAMES if _in(m, "sim.outputs")))
def test_outputs_do_not_recompute(module):
    for imported in _targets(module):
        assert not any(_in(imported, p) for p in ("sim.physics", "sim.world", "sim.studies", "sim.cli")), \
            f"{module} imports {imported}"


def test_nothing_imports_the_cli():
    importers = [m for m in NAMES if m != "sim.__main__" and any(_in(t, "sim.cli") for t in _targets(m))]
    assert importers == []


def test_no_import_cycles():
    graph = nx.DiGraph()
    for module in NAMES:
        graph.add_node(module)
        for target in _targets(module):
            # `from sim.x import y` runs sim/x/__init__ first; the package's own __init__ is not a cycle
            if target in NAMES and target != module and not module.startswith(target + "."):
                graph.add_edge(module, target)
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], cycles[:3]


def test_no_private_name_imported_across_modules():
    offenders = [(m, imported, n) for m in NAMES for imported, names in MODULES[m]
                 if _in(imported, "sim") for n in names if n.startswith("_") and not n.startswith("__")]
    assert offenders == []


def test_every_subpackage_says_what_it_holds_and_may_import():
    for package in ("config", "physics", "network", "world", "outputs", "studies"):
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
        assert len(doc.split()) >= 25, f"sim/{package}/__init__.py needs its paragraph"
        assert "import" in doc, f"sim/{package}/__init__.py should say what it may import"


def test_the_metrics_registry_imports_nothing_but_the_standard_library():
    assert {imported for imported, _ in MODULES["sim.metrics"]} <= {"__future__", "dataclasses"}


def test_only_the_streams_module_makes_random_generators():
    makers = ("default_rng", "SeedSequence", "RandomState")
    found = []
    for path in ROOT.rglob("*.py"):
        module = _module_name(path)
        if module == "sim.world.streams":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in makers:
                    found.append((module, name, node.lineno))
    assert found == []


def test_studies_import_no_cli():
    for module in (m for m in NAMES if _in(m, "sim.studies")):
        assert not any(_in(t, "sim.cli") for t in _targets(module)), module

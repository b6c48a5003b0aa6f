"""The package's structure: imports point down the flow, and units stay small.

``LAYERS`` is the layer order, written once: a module may import its own layer and any layer
before it, never a later one -- at module level, inside a function or under ``TYPE_CHECKING``
alike. Sizes: ``[tool.foretune.structure]`` in ``pyproject.toml`` sets the longest module and
function (ruff has no rule for either) and names each exception with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "platform" / "foretune"

#: The flow, bottom first. Each entry is one layer: top-level modules or packages of foretune.
LAYERS: list[set[str]] = [
    {"errors"},
    {"metrics"},
    {"arguments", "config", "console", "storage", "rundir", "timings", "runtime", "plotting"},  # base
    {"data"},
    {"models"},
    {"train"},
    {"search"},
    {"ensemble"},
    {"evaluate", "explain"},
    {"commands"},
    {"cli", "__main__", "__init__"},  # the commands' front doors and the package's public names
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _modules() -> dict[str, Path]:
    """``foretune.x.y`` -> its file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _unit(module: str, path: Path) -> str:
    """The layer name of a module: its first part below ``foretune`` (``__init__`` for the package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """Every foretune module ``path`` imports, with the line: absolute and relative imports,
    ``from package import submodule`` resolved to the submodule."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in MODULES else target, node.lineno))
    return [(name, line) for name, line in found if name == "foretune" or name.startswith("foretune.")]


def test_every_module_belongs_to_a_layer():
    units = {_unit(m, p) for m, p in MODULES.items()}
    assert units <= set(RANK), f"add {sorted(units - set(RANK))} to LAYERS"


def test_no_import_points_up_the_flow():
    upward = []
    for module, path in MODULES.items():
        here = RANK[_unit(module, path)]
        for target, line in _imports(module, path):
            there = RANK[_unit(target, MODULES.get(target, path))]
            if there > here:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not upward, "imports against the flow:\n" + "\n".join(upward)


def test_metrics_import_nothing_of_foretune_but_errors():
    for module, path in MODULES.items():
        if _unit(module, path) == "metrics":
            outside = [
                t
                for t, _ in _imports(module, path)
                if not t.startswith(("foretune.metrics", "foretune.errors"))
            ]
            assert not outside, f"{module} imports {outside}"


# -- sizes ----------------------------------------------------------------------------------------
def _limits() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["foretune"]["structure"]


def test_no_module_is_too_long():
    limits = _limits()
    allowed = limits.get("long_modules", {})
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in MODULES.values()
        if (n := len(path.read_text().splitlines())) > limits["max_module_lines"]
        and str(path.relative_to(ROOT)) not in allowed
    }
    assert not too_long, f"modules over {limits['max_module_lines']} lines: {too_long}"


def test_no_function_is_too_long():
    limits = _limits()
    allowed = limits.get("long_functions", {})
    too_long = {}
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                where = f"{path.relative_to(ROOT)}:{node.name}"
                if n > limits["max_function_lines"] and where not in allowed:
                    too_long[where] = n
    assert not too_long, f"functions over {limits['max_function_lines']} lines: {too_long}"


@pytest.mark.parametrize("table", ["long_modules", "long_functions"])
def test_every_exception_is_still_needed_and_justified(table):
    for where, reason in _limits().get(table, {}).items():
        assert isinstance(reason, str) and len(reason) > 20, f"{where}: say why it is an exception"
        assert (ROOT / where.partition(":")[0]).is_file(), f"{where} no longer exists: remove it"

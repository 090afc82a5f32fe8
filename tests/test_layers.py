"""The import graph goes one way: cli → daemon → drivers → config → protocols/store → rules →
vocabulary. A module may import its own layer and the ones below it, never one above: so
the rule core never learns of bytes or files, and a codec never of caps or sockets."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "terminal_gateway"

# Top first. Each entry: the modules and folders of one layer (their first name in the package).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli", "cli_tls", "simulators", "__main__"),
    ("daemon",),
    ("drivers",),
    ("config", "config_program", "families", "pki"),  # what is configured: read by the daemon and drivers
    ("protocols", "store"),
    ("firmware",),  # reading profile files, for the protocols
    ("rules",),
    ("program", "vocabulary", "private", "__init__", "firmware_profiles"),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def layer_of(module: str) -> str:
    """``terminal_gateway.drivers.tcp`` → ``drivers``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, module) of every import of the package in ``path``, relative ones resolved,
    wherever it stands (a function, ``if TYPE_CHECKING``)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
                # ``from . import x`` names a module x of the package
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names] if not node.module else [
                    (node.lineno, target)]
            elif node.module:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.startswith("terminal_gateway.")]


SOURCES = sorted(PACKAGE.rglob("*.py"))


def backward(path: Path, root: Path = PACKAGE) -> list[str]:
    own = layer_of(module_name(path, root))
    assert own in RANK, f"{own} is in no layer: add it to LAYERS"
    return [f"line {line}: {name} ({layer_of(name)})" for line, name in imports(path, root)
            if RANK.get(layer_of(name), len(LAYERS)) < RANK[own]]


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_its_own(path: Path) -> None:
    found = backward(path)
    assert not found, f"{path.relative_to(PACKAGE)} imports from a layer above: {found}"


def test_a_backward_import_is_found_however_it_is_written(tmp_path: Path) -> None:
    root = tmp_path / "terminal_gateway"
    (root / "rules").mkdir(parents=True)
    core = root / "rules" / "core.py"
    core.write_text("from typing import TYPE_CHECKING\nfrom . import ledger\nfrom ..vocabulary import Code\n"
                    "if TYPE_CHECKING:\n    from ..config import Config\n"
                    "def load():\n    import terminal_gateway.store.engine\n")
    assert backward(core, root) == ["line 5: terminal_gateway.config (config)",
                                    "line 7: terminal_gateway.store.engine (store)"]

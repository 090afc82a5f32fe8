"""The rule core does no I/O: ``rules/`` and the program types and vocabulary it reads import
one another and a short list of standard modules, and nothing that reads files, the
environment, sockets or databases (such as ``config``)."""

from __future__ import annotations

import ast
from pathlib import Path

import terminal_gateway

PACKAGE = Path(terminal_gateway.__file__).parent
ROOT = PACKAGE.parent
PURE_FILES = (*sorted((PACKAGE / "rules").glob("*.py")), PACKAGE / "program.py", PACKAGE / "vocabulary.py")
PURE_MODULES = ("terminal_gateway.rules", "terminal_gateway.program", "terminal_gateway.vocabulary")
STANDARD = frozenset({
    "__future__", "calendar", "collections.abc", "dataclasses", "datetime", "enum", "hashlib", "heapq", "hmac",
    "random", "typing", "zoneinfo",
})


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imported(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, anywhere in it, with the line; relative imports resolved."""
    package = module_of(path) if path.name == "__init__.py" else module_of(path).rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            if node.module is None:  # from .. import config
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, f"{base}.{node.module}" if base else node.module))
    return found


def allowed(module: str) -> bool:
    return module in STANDARD or any(module == pure or module.startswith(pure + ".") for pure in PURE_MODULES)


def test_the_rule_core_imports_nothing_that_does_io() -> None:
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {module}"
             for path in PURE_FILES for line, module in imported(path) if not allowed(module)]
    assert not wrong, "the rule core must do no I/O:\n" + "\n".join(wrong)


def test_the_check_sees_relative_imports() -> None:
    core = imported(PACKAGE / "rules" / "core.py")
    assert any(module == "terminal_gateway.vocabulary" for _, module in core)
    assert any(module == "terminal_gateway.rules.accruals" for _, module in core)  # from . import accruals

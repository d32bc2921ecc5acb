"""The layering rule (ARCHITECTURE.md): a tool imports core and third-party packages only, never
another tool; core never imports cli. Read from every module's imports with ast, so an import
inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"cli": "papertools.cli", "core": "papertools.core"}


def modules():
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            yield path, ".".join([package, *parts]), is_package


def imported(path: Path, name: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from package import submodule` imports the submodule
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def owner(module: str) -> str | None:
    """'core', 'cli.<tool>', or 'cli' (the root group and man-page generator); None: third party."""
    parts = module.split(".")
    if parts[0] != "papertools" or len(parts) < 2:
        return None
    if parts[1] == "core":
        return "core"
    if parts[1] == "cli":
        return "cli" if len(parts) < 3 or parts[2] in ("main", "manpage") else f"cli.{parts[2]}"
    return None


def violations() -> list[str]:
    bad = []
    for path, name, is_package in modules():
        mine = owner(name)
        for line, target in imported(path, name, is_package):
            theirs = owner(target)
            if theirs is None or theirs == mine:
                continue
            if mine == "core" and theirs != "core":
                bad.append(f"{path.relative_to(ROOT)}:{line}: core imports {target}")
            elif mine.startswith("cli.") and theirs != "core":
                bad.append(f"{path.relative_to(ROOT)}:{line}: tool {mine[4:]} imports {target}")
    return bad


def test_tools_import_only_core_and_core_never_imports_cli():
    assert violations() == []


@pytest.mark.parametrize("source, expected", [
    ("from papertools.cli.diffhist.history import x\n", "tool bench imports"),
    ("from ..diffhist import steps\n", "tool bench imports"),
])
def test_the_rule_catches_an_import_of_another_tool(tmp_path, source, expected):
    """The checker itself: a tool module importing another tool, absolutely or relatively."""
    path = tmp_path / "mod.py"
    path.write_text(source)
    found = [(line, target) for line, target in imported(path, "papertools.cli.bench.agents", False)]
    assert any(owner(t) == "cli.diffhist" for _, t in found), expected


def test_the_rule_catches_core_importing_cli(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from papertools.cli.main import cli\n")
    found = imported(path, "papertools.core.somewhere", False)
    assert [owner(t) for _, t in found] == ["cli"]

"""No module under include/ changes ``sys.path``: code is found on the path it is given (PYTHONPATH, the wheel)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

INCLUDE = Path(__file__).resolve().parents[2] / "include"
MUTATING_METHODS = {"insert", "append", "extend", "remove", "pop", "clear", "reverse", "sort", "__setitem__"}


def _sys_aliases(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Names bound to the ``sys`` module, and names bound to ``sys.path`` itself (``from sys import path``)."""
    modules, paths = {"sys"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.asname or alias.name for alias in node.names if alias.name == "sys"}
        elif isinstance(node, ast.ImportFrom) and node.module == "sys":
            paths |= {alias.asname or alias.name for alias in node.names if alias.name == "path"}
    return modules, paths


def sys_path_changes(source: str) -> list[int]:
    """Line numbers where ``source`` mutates ``sys.path`` or adds a site directory."""
    tree = ast.parse(source)
    modules, paths = _sys_aliases(tree)

    def is_sys_path(node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in paths
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        )

    def target_is_sys_path(target: ast.AST) -> bool:
        return is_sys_path(target) or (isinstance(target, ast.Subscript) and is_sys_path(target.value))

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            mutates = node.func.attr in MUTATING_METHODS and is_sys_path(node.func.value)
            adds_site = node.func.attr == "addsitedir"
            if mutates or adds_site:
                lines.append(node.lineno)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            if any(target_is_sys_path(target) for target in targets):
                lines.append(node.lineno)
    return sorted(lines)


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nsys.path.insert(0, 'x')",
        "import sys\nsys.path.append('x')",
        "import sys as system\nsystem.path.extend(['x'])",
        "from sys import path\npath.insert(0, 'x')",
        "import sys\nsys.path = ['x']",
        "import sys\nsys.path[:0] = ['x']",
        "import sys\nsys.path += ['x']",
        "import sys\ndel sys.path[0]",
        "import site\nsite.addsitedir('x')",
        "def f():\n    import sys\n    sys.path.insert(0, 'x')",
    ],
)
def test_the_scan_finds_each_way_of_changing_sys_path(source: str) -> None:
    assert sys_path_changes(source)


def test_the_scan_leaves_reads_of_sys_path_and_other_lists_alone() -> None:
    source = "import sys\nimport os\nprint(sys.path[0], list(sys.path))\nitems = []\nitems.insert(0, 1)\nos.path.join('a')"
    assert sys_path_changes(source) == []


def test_no_module_under_include_changes_sys_path() -> None:
    modules = sorted(INCLUDE.rglob("*.py"))
    assert len(modules) > 100  # the scan sees the whole tree

    offenders = {
        path.relative_to(INCLUDE).as_posix(): lines
        for path in modules
        if (lines := sys_path_changes(path.read_text(encoding="utf-8")))
    }

    assert offenders == {}

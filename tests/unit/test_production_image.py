"""The production image runs the aws environment without the local engines.

requirements.txt (the Astro image) leaves out pyspark, delta-spark, moto, Playwright and the infra
tooling. This imports every DAG file, the plugin and every module a DAG task imports, in a fresh
interpreter with ``PLATFORM_ENV=aws`` and those distributions made unimportable, so a task-time import
of a local-only package fails here rather than in production.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# Import names of what only `make run`/`make test` install (the local and infra dependency groups).
LOCAL_ONLY = ("pyspark", "delta", "moto", "playwright", "aws_cdk", "cdk_nag", "edp_local", "pytest")


def task_time_modules() -> list[str]:
    """Every ``edp`` or provider module the DAG files and plugins import, at top level or in a task."""
    modules: set[str] = set()
    for path in [*sorted((ROOT / "dags").glob("*.py")), *sorted((ROOT / "plugins").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module)
            elif isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
    return sorted(m for m in modules if m.split(".")[0] == "edp" or m.startswith("airflow.providers."))


def test_task_time_modules_are_found_in_the_dag_files() -> None:
    modules = task_time_modules()
    assert {"edp.batch.tasks", "edp.quality.operator", "edp.serving.operators"} <= set(modules)


def test_dags_and_their_task_modules_import_in_aws_mode_without_local_engines(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import importlib, importlib.abc, importlib.util, sys
        from pathlib import Path

        BLOCKED = {LOCAL_ONLY!r}

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"{{name}} is not in the production image", name=name)
                return None

        sys.meta_path.insert(0, Block())
        failures = []
        for module in {task_time_modules()!r}:
            try:
                importlib.import_module(module)
            except Exception as exc:
                failures.append(f"{{module}}: {{type(exc).__name__}}: {{exc}}")
        for path in sorted(Path("dags").glob("*.py")) + sorted(Path("plugins").glob("*.py")):
            spec = importlib.util.spec_from_file_location("image_check_" + path.stem, path)
            try:
                spec.loader.exec_module(importlib.util.module_from_spec(spec))
            except Exception as exc:
                failures.append(f"{{path}}: {{type(exc).__name__}}: {{exc}}")
        print("\\n".join(failures))
        sys.exit(1 if failures else 0)
        """
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PLATFORM_ENV": "aws",
        "PYTHONPATH": f"{ROOT / 'include'}:{ROOT / 'plugins'}",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PLATFORM_PROJECT_ROOT": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]


def _local_factories(tree: ast.Module) -> set[ast.AST]:
    """The function bodies the mapping builds ``local`` resources with: never run in the aws image."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Attribute) and key.attr == "LOCAL":
                    names |= {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
    return {
        inner
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef) and fn.name in names
        for inner in ast.walk(fn)
    }


def test_task_modules_import_no_local_engine_even_inside_functions() -> None:
    found = []
    for module in task_time_modules():
        if module.split(".")[0] != "edp":
            continue
        origin = ROOT / "include" / Path(*module.split("."))
        path = origin / "__init__.py" if origin.is_dir() else origin.with_suffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        local_only = _local_factories(tree) if module == "edp.resources" else set()
        for node in ast.walk(tree):
            if node in local_only:
                continue
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            found += [f"{module}:{node.lineno} {name}" for name in names if name.split(".")[0] in LOCAL_ONLY]
    assert found == []

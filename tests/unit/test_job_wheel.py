"""The job wheel: what ``uv build`` puts in it, what it declares, and that it works on its own."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from edp.spark_runtime.wheel import build_job_wheel, wheel_filename, wheel_project_dir

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
INCLUDE = ROOT / "include"
DIST_INFO = "edp-0.1.0.dist-info"
# What Glue 5 (with --datalake-formats delta) and the Databricks runtime provide to every job.
SPARK_RUNTIME_PROVIDES = {"pyspark", "delta", "boto3", "botocore"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_job_wheel(tmp_path_factory.mktemp("wheel-build"))


@pytest.fixture(scope="module")
def metadata(wheel: Path) -> dict[str, list[str]]:
    text = zipfile.ZipFile(wheel).read(f"{DIST_INFO}/METADATA").decode()
    message = Parser().parsestr(text)
    return {key: message.get_all(key) or [] for key in ("Name", "Version", "Requires-Dist")}


def _source_files(*paths: str) -> list[str]:
    """Files git tracks or would track (not ignored) under ``paths``."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def test_the_wheel_holds_every_source_file_of_edp_and_nothing_else(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {path.removeprefix("include/") for path in _source_files("include/edp")}

    assert wheel.name == wheel_filename() == "edp-0.1.0-py3-none-any.whl"
    assert {name for name in names if not name.startswith(DIST_INFO + "/")} == expected
    # The data files the jobs read through importlib.resources ship with the code.
    assert {
        "edp/contract/schemas/v1/envelope.json",
        "edp/contract/schemas/released.json",
        "edp/batch/seeds/geo_countries.csv",
        "edp/batch/seeds/product_catalog.csv",
    } <= names
    for excluded in ("edp_local/", "tests/", "benchmarks/", "spark/", "tools/", "lambda/", "sql/"):
        assert not [name for name in names if name.startswith(excluded)], excluded
    assert not [name for name in names if name.endswith(".pyc") or "__pycache__" in name]


def test_the_metadata_names_the_package_version_and_the_jobs_own_dependencies(
    metadata: dict[str, list[str]],
) -> None:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wheel_project = tomllib.loads((wheel_project_dir() / "pyproject.toml").read_text())["project"]

    assert metadata["Name"] == ["edp"]
    assert metadata["Version"] == [root["version"]]
    assert sorted(metadata["Requires-Dist"]) == sorted(wheel_project["dependencies"])
    # Each job dependency is one the platform's environment pins too, with the same specifier.
    assert set(metadata["Requires-Dist"]) <= set(root["dependencies"])


def _module_file(module: str) -> Path | None:
    path = INCLUDE.joinpath(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


MAPPING = INCLUDE / "edp" / "resources" / "__init__.py"


TASK_TIME_ONLY = "task-time only"  # the codebase's mark on imports that only Airflow tasks reach


def _import_names(nodes: Iterator[ast.AST], lines: list[str] | None = None) -> Iterator[str]:
    for node in nodes:
        if (
            lines
            and isinstance(node, ast.Import | ast.ImportFrom)
            and TASK_TIME_ONLY in lines[node.lineno - 1]
        ):
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _imports(path: Path) -> Iterator[str]:
    """Every absolute import in ``path``, inside functions too (the jobs import pyspark lazily), except
    those marked ``task-time only``: a method only an Airflow task calls (e.g. a CloudWatch client made
    through the Airflow connection) is never reached by a job.

    The environment mapping is the exception: its factories import a resource's module only when a
    caller asks for that resource, so only its module-level imports count here; the factories of the
    resources the jobs ask for are followed by :func:`_used_factory_imports`.
    """
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    if path == MAPPING:
        yield from _import_names(iter(tree.body))
    else:
        yield from _import_names(ast.walk(tree), text.splitlines())


def _resources_asked_for(path: Path) -> set[str]:
    """``key`` of every ``resources(...).key`` in ``path``."""
    return {
        node.attr
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "resources"
    }


def _used_factory_imports(keys: set[str]) -> Iterator[str]:
    """Imports inside the mapping's factories (both environments) for the resources in ``keys``."""
    tree = ast.parse(MAPPING.read_text(encoding="utf-8"))
    functions = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    factories: set[str] = set()
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "ResourceMap":
            for keyword in call.keywords:
                if keyword.arg in keys:
                    factories |= {n.id for n in ast.walk(keyword.value) if isinstance(n, ast.Name)}
    for name in sorted(factories & set(functions)):
        yield from _import_names(ast.walk(functions[name]))


def _third_party_imports_of_the_jobs() -> set[str]:
    """Top-level third-party modules the Spark entry scripts can reach through edp."""
    pending = sorted((INCLUDE / "spark").glob("*.py"))
    seen: set[Path] = set()
    third_party: set[str] = set()
    asked: set[str] = set()
    followed: set[str] = set()
    while pending:
        path = pending.pop()
        if path not in seen:
            seen.add(path)
            asked |= _resources_asked_for(path)
            modules = list(_imports(path))
        elif asked - followed:
            modules = list(_used_factory_imports(asked - followed))
            followed |= asked
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top == "edp":
                parts = module.split(".")
                pending += [f for i in range(1, len(parts) + 1) if (f := _module_file(".".join(parts[:i])))]
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
        if not pending and asked - followed:
            pending.append(MAPPING)
    return third_party


def test_every_third_party_module_a_job_imports_comes_from_the_runtime_or_the_wheels_requirements(
    metadata: dict[str, list[str]],
) -> None:
    required = {Requirement(line).name.replace("-", "_") for line in metadata["Requires-Dist"]}
    imported = _third_party_imports_of_the_jobs()

    assert imported - SPARK_RUNTIME_PROVIDES == required  # nothing missing, nothing declared in vain
    assert {"orjson", "fastjsonschema"} <= imported


CHECK_FROM_THE_WHEEL = """
import importlib.metadata, json
import edp
from edp.batch.seeds import geo_countries, product_catalog
from edp.contract.registry import event_schemas

print(json.dumps({
    "edp": edp.__file__,
    "schemas": sorted(event_schemas()),
    "countries": len(geo_countries().rows),
    "products": len(product_catalog().rows),
    "version": importlib.metadata.version("edp"),
    "requires": importlib.metadata.requires("edp"),
}))
"""


def test_the_wheel_alone_imports_and_reads_its_package_data(wheel: Path, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTHONPATH"] = str(wheel)  # zip import, as spark-submit --py-files gives it to the driver
    done = subprocess.run(
        [sys.executable, "-c", CHECK_FROM_THE_WHEEL],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    assert found["edp"] == f"{wheel}/edp/__init__.py"
    assert {"purchase", "page_view"} <= set(found["schemas"])
    assert found["countries"] > 0 and found["products"] > 0
    assert found["version"] == "0.1.0"
    assert sorted(found["requires"]) == sorted(["fastjsonschema>=2.20", "orjson>=3.13.0"])

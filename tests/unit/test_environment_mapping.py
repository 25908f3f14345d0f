"""Guards of the environment mapping: one place knows the environment, no import cycle, edp apart from
edp_local; and the mapping itself: every environment serves every concern."""

from __future__ import annotations

import ast
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

from edp.config import Environment, get_config
from edp.resources import RESOURCES, ResourceMap, resources

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
INCLUDE = ROOT / "include"
SCANNED = [INCLUDE, ROOT / "dags", ROOT / "plugins"]
MAPPING = INCLUDE / "edp" / "resources" / "__init__.py"
# The switch itself: PLATFORM_ENV is read, and each environment's default names are set, only here.
SWITCH = INCLUDE / "edp" / "config" / "settings.py"
ENV_VAR = "PLATFORM_ENV"
SNIFFED = {"on_databricks", "on_glue", "DATABRICKS_RUNTIME_VERSION", "--JOB_RUN_ID"}


def python_files() -> Iterator[Path]:
    for root in SCANNED:
        yield from sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _is_environment_member(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr in {e.name for e in Environment}
        and isinstance(node.value, ast.Name)
        and node.value.id == "Environment"
    )


def _names_env(node: ast.AST) -> bool:
    """``config.env``, ``cfg.env.value``: the environment itself, compared or looked up."""
    if isinstance(node, ast.Attribute) and node.attr == "value":
        node = node.value
    return isinstance(node, ast.Attribute) and node.attr == "env"


def _reads_platform_env(node: ast.AST) -> bool:
    """``os.environ[...]``/``.get(...)``/``os.getenv(...)``/``... in os.environ`` of PLATFORM_ENV."""

    def is_var(arg: ast.AST) -> bool:
        return (isinstance(arg, ast.Constant) and arg.value == ENV_VAR) or (
            isinstance(arg, ast.Name) and arg.id == "ENV_VAR"
        )

    if isinstance(node, ast.Subscript) and is_var(node.slice):
        return True
    if isinstance(node, ast.Call) and node.args and is_var(node.args[0]):
        func = node.func
        return isinstance(func, ast.Attribute) and func.attr in {"get", "getenv", "pop", "setdefault"}
    return isinstance(node, ast.Compare) and is_var(node.left)


def environment_branches(path: Path) -> list[str]:
    """Each place ``path`` asks which environment it runs in, as ``file:line: what``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Attribute) and node.attr == "is_local":
            what = "is_local"
        elif isinstance(node, ast.Compare) and any(
            _is_environment_member(side) or _names_env(side) for side in [node.left, *node.comparators]
        ):
            what = "compares the environment"
        elif isinstance(node, ast.Subscript) and _names_env(node.slice):
            what = "looks up by environment"
        elif isinstance(node, ast.Name | ast.Attribute) and (
            getattr(node, "id", None) in SNIFFED or getattr(node, "attr", None) in SNIFFED
        ):
            what = "sniffs the platform"
        elif isinstance(node, ast.Constant) and node.value in SNIFFED:
            what = "sniffs the platform"
        elif _reads_platform_env(node):
            what = f"reads {ENV_VAR}"
        if what:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {what}")
    return found


def test_no_module_outside_the_mapping_branches_on_the_environment() -> None:
    offenders = [
        hit for path in python_files() if path not in (MAPPING, SWITCH) for hit in environment_branches(path)
    ]
    assert offenders == [], "ask edp.resources for the resource instead:\n" + "\n".join(offenders)


def test_the_guard_sees_each_way_of_branching_on_the_environment(tmp_path: Path) -> None:
    sample = ROOT / "tests" / "unit" / "_branching_sample.py"
    source = "\n".join(
        [
            "import os",
            "if config.is_local: pass",
            "if config.env is Environment.AWS: pass",
            "if cfg.env.value == 'local': pass",
            "x = MAPPING[config.env]",
            "if on_databricks(): pass",
            "y = os.environ.get('PLATFORM_ENV')",
            "z = 'DATABRICKS_RUNTIME_VERSION' in os.environ",
        ]
    )
    sample.write_text(source)
    try:
        hits = environment_branches(sample)
    finally:
        sample.unlink()
    by_line = sorted((int(h.split(":")[1]), h.split(": ", 1)[1]) for h in hits)
    assert by_line == [
        (2, "is_local"),
        (3, "compares the environment"),
        (4, "compares the environment"),
        (5, "looks up by environment"),
        (6, "sniffs the platform"),
        (7, f"reads {ENV_VAR}"),
        (8, "sniffs the platform"),
    ]


# ---- imports -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def import_graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(INCLUDE))
    try:
        return grimp.build_graph("edp", "edp_local", exclude_type_checking_imports=True, cache_dir=None)
    finally:
        sys.path.remove(str(INCLUDE))


def import_edges(graph: grimp.ImportGraph, ignore_from: str) -> dict[str, set[str]]:
    """Every import, also those inside functions, except the mapping's own factory imports: it is the
    composition root, importing each resource lazily from the modules that ask it for one."""
    return {
        module: set(graph.find_modules_directly_imported_by(module)) if module != ignore_from else set()
        for module in graph.modules
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(edges.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            on_stack.difference_update(component)
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def test_there_is_no_import_cycle_in_include(import_graph: grimp.ImportGraph) -> None:
    assert cycles(import_edges(import_graph, ignore_from="edp.resources")) == []


def test_the_cycle_check_finds_a_cycle_through_an_import_inside_a_function(
    import_graph: grimp.ImportGraph,
) -> None:
    edges = import_edges(import_graph, ignore_from="edp.resources")
    edges["edp.config.settings"].add("edp.alerting.notifier")  # the notifier imports the config
    assert any("edp.config.settings" in c for c in cycles(edges))


def test_production_code_never_imports_the_local_stand_ins_except_from_the_mapping(
    import_graph: grimp.ImportGraph,
) -> None:
    offenders = sorted(
        (importer, imported)
        for imported in import_graph.find_children("edp_local") | {"edp_local"}
        for importer in import_graph.find_modules_that_directly_import(imported)
        if importer.split(".")[0] == "edp" and importer != "edp.resources"
    )
    # Descendants too: edp_local.runtime.supervisor, not only the top-level packages.
    deep = sorted(
        (importer, imported)
        for imported in import_graph.find_descendants("edp_local")
        for importer in import_graph.find_modules_that_directly_import(imported)
        if importer.split(".")[0] == "edp" and importer != "edp.resources"
    )
    assert offenders == [] and deep == []


def test_the_mapping_names_the_local_stand_ins_only_inside_its_factories() -> None:
    tree = ast.parse(MAPPING.read_text())
    top_level = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    modules = [n.module or "" for n in top_level if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in top_level if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if m.startswith("edp_local")]
    assert "edp_local" in MAPPING.read_text(), "the local streaming controller is reached through the mapping"


# ---- the mapping ---------------------------------------------------------------------------------
def test_every_environment_has_every_concern() -> None:
    concerns = {f.name for f in dataclasses.fields(ResourceMap)}
    assert set(RESOURCES) == set(Environment)
    assert concerns >= {
        "lake",
        "artifacts",
        "stream",
        "warehouse",
        "lake_query",
        "bi",
        "alerts",
        "metrics",
        "batch",
        "streaming",
        "components",
        "secrets",
        "state",
    }
    for mapping in RESOURCES.values():
        assert all(getattr(mapping, name).describe for name in concerns)


@pytest.mark.parametrize("env", list(Environment))
def test_every_resource_of_every_environment_builds_without_a_network_call(
    env: Environment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PLATFORM_ENV", env.value)
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("PLATFORM__BATCH_ENGINE", "glue")
    platform = resources(get_config())
    for field in dataclasses.fields(ResourceMap):
        assert getattr(platform, field.name) is not None, field.name
    assert platform.describe()["warehouse"] == (
        "DuckDB file" if env is Environment.LOCAL else "Redshift Serverless"
    )


def test_local_and_aws_resources_differ_where_the_platforms_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("PLATFORM_ENV", "local")
    local = resources(get_config())
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    aws = resources(get_config())

    assert local.artifacts.uri("quality") == str(tmp_path / "quality")
    assert aws.artifacts.uri("quality") == "s3://edp-artifacts/quality"
    assert local.lake.storage_options() is None
    assert local.secrets.fallback("X", "dev") == "dev" and aws.secrets.fallback("X", "dev") is None
    assert local.metrics.streaming_sink == "file" and aws.metrics.streaming_sink == "cloudwatch"
    assert local.batch.name == "local" and aws.batch.name == "databricks"
    assert local.state.location("incidents/x") == str(tmp_path / "incidents" / "x.json")
    assert aws.state.location("incidents/x") == "Airflow Variable 'platform_incident__x'"
    assert local.alerts.dead_letter_path == tmp_path / "slack" / "dead_letter.jsonl"
    assert aws.alerts.dead_letter_path is None and aws.alerts.webhook_url is None
    assert local.bi.ui_links() and aws.bi.ui_links() == []

"""The Astro project files agree with the lock and the platform config, and carry no secrets."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from edp.config import ConnectionIds, get_config

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_IMAGE = re.compile(
    r"^astrocrpublic\.azurecr\.io/runtime:"
    r"(?P<airflow>\d+\.\d+)-(?P<release>\d+)(?:-python-(?P<python>\d+\.\d+))?(?:-base)?$"
)
ASTRO_LAYOUT = [
    "dags",
    "plugins",
    "include/sql",
    "include/spark",
    "include/lambda",
    "great_expectations",
    "tests",
    "Dockerfile",
    "requirements.txt",
    "packages.txt",
    "airflow_settings.yaml",
    ".astro/config.yaml",
    "Makefile",
    "README.md",
]
# Formats of real credentials; a match in a committed example file is a leak.
SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}"),
    "Slack webhook": re.compile(r"hooks\.slack\.com/services/T[0-9A-Z]+/B[0-9A-Z]+/\w+"),
    "Databricks token": re.compile(r"\bdapi[0-9a-f]{32}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
SECRET_NAMES = re.compile(r"(PASSWORD|SECRET|TOKEN|ACCESS_KEY|API_KEY)", re.IGNORECASE)
JSON_PASSWORD = re.compile(r'"(?:password|token|secret)"\s*:\s*"([^"]*)"', re.IGNORECASE)
PLACEHOLDER = re.compile(r"^(|<[^<>]+>)$")
ASSIGNMENT = re.compile(r"^#?\s*(?P<key>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


@pytest.fixture(scope="module")
def lock() -> dict[str, Any]:
    with (ROOT / "uv.lock").open("rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def base_image() -> re.Match[str]:
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    image = next(line.split()[-1] for line in lines if line.upper().startswith("FROM "))
    match = RUNTIME_IMAGE.match(image)
    assert match, (
        f"Dockerfile base {image!r} is not an Astro Runtime 3.x image (runtime:<X.Y>-<N>[-python-X.Y])"
    )
    return match


def locked_version(lock: dict[str, Any], name: str) -> Version:
    return Version(next(p["version"] for p in lock["package"] if p["name"] == name))


def dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(item.split("=", 1) for item in shlex.split(line[4:]) if "=" in item)
    return env


def find_uv() -> str:
    if found := shutil.which("uv"):
        return found
    bootstrapped = ROOT / ".tools" / "bin" / "uv"
    if not bootstrapped.is_file():
        pytest.skip("uv is not installed (neither on PATH nor in .tools/bin): run `make setup`")
    return str(bootstrapped)


def secret_findings(text: str) -> list[str]:
    """Lines of an example env file that carry something other than a placeholder where a secret goes."""
    findings = [
        f"{what}: {m.group(0)[:12]}..." for what, rx in SECRET_PATTERNS.items() for m in rx.finditer(text)
    ]
    for line in text.splitlines():
        findings += [f"JSON secret {v!r}" for v in JSON_PASSWORD.findall(line) if not PLACEHOLDER.match(v)]
        assignment = ASSIGNMENT.match(line.strip())
        if assignment and SECRET_NAMES.search(assignment["key"]):
            value = assignment["value"].strip().strip("'\"")
            if not PLACEHOLDER.match(value):
                findings.append(f"{assignment['key']} has a value")
    return findings


def test_dockerfile_base_image_runs_the_airflow_minor_pinned_in_uv_lock(
    lock: dict[str, Any], base_image: re.Match[str]
) -> None:
    airflow = locked_version(lock, "apache-airflow")
    runtime = f"{base_image['airflow']}-{base_image['release']}"
    assert base_image["airflow"] == f"{airflow.major}.{airflow.minor}", (
        f"Astro Runtime {runtime} ships Airflow {base_image['airflow']}, but uv.lock pins {airflow}"
    )


def test_dockerfile_base_image_python_is_one_the_lock_is_resolved_for(
    lock: dict[str, Any], base_image: re.Match[str]
) -> None:
    assert base_image["python"], "name the Runtime's Python distribution (-python-3.X): its default is newer"
    assert Version(base_image["python"]) in SpecifierSet(lock["requires-python"])


def test_image_runs_the_aws_environment_with_include_on_the_python_path() -> None:
    env = dockerfile_env()
    assert env["PLATFORM_ENV"] == "aws"
    assert env["PLATFORM_PROJECT_ROOT"] == "/usr/local/airflow"
    assert "/usr/local/airflow/include" in env["PYTHONPATH"].split(":")


def test_requirements_txt_is_exactly_what_make_requirements_exports_from_the_lock(tmp_path: Path) -> None:
    recipe = re.search(r"^requirements:.*\n\t\$\(UV\) (export .*)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "Makefile has no `requirements` target running `$(UV) export ...`"
    args = shlex.split(recipe.group(1))
    output = args.index("-o")
    args[output + 1] = str(tmp_path / "requirements.txt")
    subprocess.run([find_uv(), *args], cwd=ROOT, check=True, capture_output=True)
    expected = (tmp_path / "requirements.txt").read_text(encoding="utf-8")
    assert (ROOT / "requirements.txt").read_text(encoding="utf-8") == expected, (
        "requirements.txt is stale: run `make requirements`"
    )


def test_packages_txt_installs_no_java_because_spark_runs_on_databricks_or_glue() -> None:
    lines = (ROOT / "packages.txt").read_text(encoding="utf-8").splitlines()
    packages = {line.strip() for line in lines if line.strip()}
    assert not {p for p in packages if "jdk" in p or "jre" in p or "java" in p}, packages
    assert "JAVA_HOME" not in dockerfile_env()


# The local engines and the infrastructure tooling: `make run`/`make test` install them, the image never.
NOT_IN_IMAGE = ("pyspark", "delta-spark", "moto", "playwright", "aws-cdk-lib", "cdk-nag", "pytest", "ruff")


@pytest.mark.parametrize("distribution", NOT_IN_IMAGE)
def test_requirements_txt_leaves_local_engines_and_tooling_out_of_the_image(distribution: str) -> None:
    pinned = {
        line.split("==", 1)[0].strip().lower()
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith(" ")
    }
    assert distribution not in pinned


@pytest.mark.parametrize("relative", ASTRO_LAYOUT)
def test_astro_project_layout_is_complete(relative: str) -> None:
    assert (ROOT / relative).exists(), f"{relative} is missing from the Astro project"


def test_astro_config_names_the_project() -> None:
    config = yaml.safe_load((ROOT / ".astro" / "config.yaml").read_text(encoding="utf-8"))
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", config["project"]["name"])


def test_dotenv_is_gitignored_and_not_committed() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, ".env must be listed in .gitignore"
    tracked = subprocess.run(
        ["git", "ls-files", "--", ".env"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert tracked.stdout == "", ".env is committed: remove it from the index and rotate what it held"


def test_env_example_has_no_values_that_look_like_secrets() -> None:
    assert secret_findings((ROOT / ".env.example").read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "leak",
    [
        "AWS_ACCESS_KEY_ID=" + "AKIA" + "Q" * 16,
        '# AIRFLOW_CONN_X=\'{"conn_type": "databricks", "password": "' + "dapi" + "0" * 32 + "\"}'",
        "SLACK_BOT_TOKEN=" + "xoxb-" + "1" * 12,
        "# DB_PASSWORD=hunter2",
        '# AIRFLOW_CONN_Y=\'{"password": "s3cr3t"}\'',
    ],
)
def test_secret_check_flags_credential_shaped_values(leak: str) -> None:
    assert secret_findings(leak), f"the secret check missed {leak!r}"


def test_env_example_documents_only_real_platform_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    documented = [
        m for line in lines if (m := ASSIGNMENT.match(line.strip())) and m["key"].startswith("PLATFORM")
    ]
    assert any(m["key"].startswith("PLATFORM__") for m in documented)
    for match in documented:
        monkeypatch.setenv(match["key"], match["value"])
    config = get_config()  # raises KeyError on a documented name that is not a setting
    for match in documented:
        if match["key"].startswith("PLATFORM__"):
            node: Any = config
            for part in match["key"].removeprefix("PLATFORM__").lower().split("__"):
                node = getattr(node, part)
            assert str(node) == match["value"], match["key"]


def test_airflow_settings_declares_every_platform_connection_without_secrets() -> None:
    settings = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text(encoding="utf-8"))["airflow"]
    connections = {c["conn_id"]: c for c in settings["connections"]}
    assert set(connections) == set(dataclasses.asdict(ConnectionIds()).values())
    assert all(not c.get("conn_password") for c in connections.values())
    variables = {v["variable_name"]: v["variable_value"] for v in settings["variables"]}
    assert json.loads(variables["platform_overrides"]) == {}

"""The Lambda zip builder: discovery, validation, bundling and reproducibility.

Tests marked ``unit`` build functions without dependencies (no uv, no network). Tests marked
``integration`` install a real wheel from PyPI with uv for the Lambda platform.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools import build_lambda
from tools.build_lambda import BuildError, FunctionSpec

HANDLER_SOURCE = """\
import jmespath

import demo_shared


def lambda_handler(event, context):
    return jmespath.search("greeting", {"greeting": demo_shared.GREETING})
"""

# aws-sdk extra pulls boto3 in: the builder must keep it out even when a dependency asks for it.
PINNED_REQUIREMENTS = "aws-lambda-powertools[aws-sdk]==3.37.0\njmespath==1.1.0\ntyping-extensions==4.16.0\n"


def write_function(root: Path, name: str = "demo", requirements: str | None = PINNED_REQUIREMENTS) -> Path:
    """A function dir with a handler package, build inputs, tests and caches that must not ship."""
    function_dir = root / "include" / "lambda" / name
    package = function_dir / "demo_fn"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text(HANDLER_SOURCE)
    (package / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"\x00junk")
    (function_dir / "tests").mkdir()
    (function_dir / "tests" / "test_handler.py").write_text("def test_nothing():\n    pass\n")
    (function_dir / "lambda.toml").write_text(
        'handler = "demo_fn.handler.lambda_handler"\n'
        'runtime = "python3.12"\n'
        'architecture = "x86_64"\n'
        'shared_packages = ["demo_shared"]\n'
    )
    if requirements is not None:
        (function_dir / "requirements.txt").write_text(requirements)
    return function_dir


@pytest.fixture
def source_root(tmp_path: Path) -> Path:
    """A project root with one function and one shared package under include/."""
    root = tmp_path / "project"
    shared = root / "include" / "demo_shared"
    (shared / "tests").mkdir(parents=True)
    (shared / "__init__.py").write_text('GREETING = "hello from the shared package"\n')
    (shared / "tests" / "test_shared.py").write_text("")
    write_function(root)
    return root


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def build_without_dependencies(spec: FunctionSpec, root: Path, out_dir: Path) -> build_lambda.BuildResult:
    # No requirements.txt means uv is never called, so any placeholder path will do.
    return build_lambda.build_function(spec, source_root=root, out_dir=out_dir, uv="uv-is-not-called")


@pytest.mark.unit
def test_functions_are_discovered_by_their_lambda_toml(source_root: Path) -> None:
    (source_root / "include" / "lambda" / "not_a_function").mkdir()
    specs = build_lambda.discover(source_root)
    assert [s.name for s in specs] == ["demo"]
    assert specs[0].handler == "demo_fn.handler.lambda_handler"
    assert specs[0].python_version == "3.12"
    assert specs[0].python_platform == "x86_64-manylinux2014"
    assert specs[0].shared_packages == ("demo_shared",)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('runtime = "nodejs20.x"', "runtime must look like"),
        ('architecture = "sparc"', "architecture must be one of"),
        ('handler = "lambda_handler"', "handler must look like"),
        ('shared_packages = "demo_shared"', "shared_packages must be a list"),
        ("memory = 512", "unknown keys ['memory']"),
    ],
)
def test_an_invalid_lambda_toml_is_rejected_with_the_reason(
    source_root: Path, line: str, message: str
) -> None:
    manifest = source_root / "include" / "lambda" / "demo" / "lambda.toml"
    key = line.split(" = ")[0]
    kept = [entry for entry in manifest.read_text().splitlines() if not entry.startswith(f"{key} =")]
    manifest.write_text("\n".join([*kept, line]) + "\n")
    with pytest.raises(BuildError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_lambda.load_spec(manifest.parent)


@pytest.mark.unit
def test_requirements_that_name_boto3_are_rejected_because_the_runtime_provides_it(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jmespath==1.1.0\nboto3==1.44.8\n")
    with pytest.raises(BuildError, match=r"requirements.txt:2: boto3 is provided by the Lambda runtime"):
        build_lambda.read_requirements(requirements)


@pytest.mark.unit
def test_a_function_without_dependencies_bundles_its_source_and_shared_package_only(
    source_root: Path, tmp_path: Path
) -> None:
    spec = build_lambda.load_spec(write_function(source_root, name="nodeps", requirements=None))
    result = build_without_dependencies(spec, source_root, tmp_path / "out")
    assert result.path == tmp_path / "out" / "nodeps.zip"
    assert sorted(zip_names(result.path)) == [
        "demo_fn/__init__.py",
        "demo_fn/handler.py",
        "demo_shared/__init__.py",
    ]
    assert result.size == result.path.stat().st_size


@pytest.mark.unit
def test_a_handler_that_does_not_exist_fails_the_build(source_root: Path, tmp_path: Path) -> None:
    function_dir = write_function(source_root, name="broken", requirements=None)
    manifest = function_dir / "lambda.toml"
    manifest.write_text(manifest.read_text().replace("lambda_handler", "handle"))
    with pytest.raises(BuildError, match=r"demo_fn/handler\.py defines no 'handle'"):
        build_without_dependencies(build_lambda.load_spec(function_dir), source_root, tmp_path / "out")


@pytest.mark.unit
def test_an_unknown_shared_package_is_a_clear_error(source_root: Path, tmp_path: Path) -> None:
    function_dir = write_function(source_root, name="orphan", requirements=None)
    manifest = function_dir / "lambda.toml"
    manifest.write_text(manifest.read_text().replace('"demo_shared"', '"no_such_package"'))
    with pytest.raises(BuildError, match="shared package 'no_such_package' not found"):
        build_without_dependencies(build_lambda.load_spec(function_dir), source_root, tmp_path / "out")


@pytest.fixture
def uv(source_root: Path) -> str:
    try:
        return build_lambda.find_uv(source_root)
    except BuildError as exc:
        pytest.skip(f"uv is needed to install Lambda dependencies: {exc}")


@pytest.fixture
def built_zip(source_root: Path, tmp_path: Path, uv: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """The demo function built through the CLI, as `make lambdas` runs it."""
    out_dir = tmp_path / "first"
    exit_code = build_lambda.main(
        ["--name", "demo", "--source-root", str(source_root), "--out-dir", str(out_dir)]
    )
    output = capsys.readouterr()
    assert exit_code == 0, output.err
    assert "demo:" in output.out and "MiB" in output.out
    return out_dir / "demo.zip"


@pytest.mark.integration
def test_zip_bundles_handler_dependencies_and_shared_package_but_not_the_aws_sdk(built_zip: Path) -> None:
    names = zip_names(built_zip)
    assert "demo_fn/handler.py" in names
    assert "demo_shared/__init__.py" in names
    assert "jmespath/__init__.py" in names
    assert "aws_lambda_powertools/__init__.py" in names
    assert "aws_lambda_powertools-3.37.0.dist-info/METADATA" in names
    top_level = {name.split("/")[0] for name in names}
    assert not top_level & {"boto3", "botocore", "s3transfer", "bin", "tests"}
    assert not any(name.startswith(("boto3-", "botocore-")) for name in top_level)
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", "/RECORD", "/INSTALLER"))]
    assert names == sorted(names)


@pytest.mark.integration
def test_building_twice_gives_byte_identical_zips(
    built_zip: Path, source_root: Path, tmp_path: Path, uv: str
) -> None:
    (spec,) = build_lambda.discover(source_root)
    again = build_lambda.build_function(spec, source_root=source_root, out_dir=tmp_path / "second", uv=uv)
    assert again.path.read_bytes() == built_zip.read_bytes()
    with zipfile.ZipFile(built_zip) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.integration
def test_the_bundle_alone_runs_the_handler_in_a_clean_interpreter(built_zip: Path, tmp_path: Path) -> None:
    extracted = tmp_path / "var-task"
    with zipfile.ZipFile(built_zip) as archive:
        archive.extractall(extracted)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from demo_fn.handler import lambda_handler; print(lambda_handler({}, None))"
    )
    # -I ignores PYTHONPATH and the user site, -S every site-packages: only the bundle can satisfy imports.
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(extracted)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "hello from the shared package"

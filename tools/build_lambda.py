"""Build each AWS Lambda function into a deterministic zip that holds only what that function needs.

A function is a directory ``include/lambda/<name>/`` with a ``lambda.toml``::

    handler = "edp.ingest.handler.lambda_handler"   # module path . function
    runtime = "python3.12"
    architecture = "x86_64"                         # or "arm64"
    shared_packages = ["event_contract", "platform_config"]   # vendored from include/

and an optional ``requirements.txt`` with its runtime dependencies only. boto3/botocore/s3transfer come
with every Lambda Python runtime and are never bundled. Every distribution that ends up in the zip must be
pinned, either with ``==`` in that requirements.txt or by the project's ``uv.lock``.

The zip holds the installed dependencies (Linux wheels for the declared runtime and architecture), the
declared shared packages and the function's own source. Entries are sorted and timestamped at a fixed
date, so the same inputs give a byte-identical zip and deploy tools see no change when nothing changed.
When the source root has a ``uv.lock``, it constrains the dependencies, so the zip carries the versions
the test suite ran against and requirements.txt may list bare names.

    python -m tools.build_lambda --all
    python -m tools.build_lambda --name ingest [--source-root DIR] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = Path("include") / "lambda"
SHARED_DIR = Path("include")
MANIFEST = "lambda.toml"
REQUIREMENTS = "requirements.txt"

# Every AWS Lambda Python runtime ships the AWS SDK; bundling it only adds ~20 MB and pins an old SDK.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
PLATFORMS = {"x86_64": "x86_64-manylinux2014", "arm64": "aarch64-manylinux2014"}
RUNTIME_PATTERN = re.compile(r"^python(3\.\d+)$")
HANDLER_PATTERN = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
MANIFEST_KEYS = {"handler", "runtime", "architecture", "shared_packages"}

# Never shipped, wherever they appear in a function or shared package.
JUNK_DIRS = frozenset({"__pycache__", "tests", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis"})
JUNK_FILE_PATTERNS = ("*.pyc", "*.pyo", "conftest.py", "test_*.py", "*_test.py")
# Installer bookkeeping in *.dist-info that differs between installs and means nothing inside Lambda.
DIST_INFO_JUNK = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # earliest date a zip entry can carry
ZIP_FILE_MODE = 0o100644  # regular file, rw-r--r--: Lambda only needs to read
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024  # Lambda's hard limit for a function and its layers
DIRECT_UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024


class BuildError(Exception):
    """A function cannot be built as declared; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as declared by its ``lambda.toml``."""

    name: str
    directory: Path
    handler: str
    runtime: str
    architecture: str
    shared_packages: tuple[str, ...] = ()

    @property
    def python_version(self) -> str:
        match = RUNTIME_PATTERN.match(self.runtime)
        assert match is not None  # validated in load_spec
        return match.group(1)

    @property
    def python_platform(self) -> str:
        return PLATFORMS[self.architecture]


@dataclasses.dataclass(frozen=True)
class BuildResult:
    name: str
    path: Path
    size: int
    unzipped_size: int
    files: int
    sha256: str


def load_spec(directory: Path) -> FunctionSpec:
    """Read and validate ``<directory>/lambda.toml``."""
    path = directory / MANIFEST
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"{path}: {exc}") from exc
    if unknown := sorted(set(data) - MANIFEST_KEYS):
        raise BuildError(f"{path}: unknown keys {unknown}; allowed: {sorted(MANIFEST_KEYS)}")
    if missing := sorted({"handler", "runtime", "architecture"} - set(data)):
        raise BuildError(f"{path}: missing keys {missing}")
    handler, runtime, architecture = data["handler"], data["runtime"], data["architecture"]
    shared = data.get("shared_packages", [])
    if not isinstance(handler, str) or not HANDLER_PATTERN.match(handler):
        raise BuildError(f"{path}: handler must look like 'package.module.function', got {handler!r}")
    if not isinstance(runtime, str) or not RUNTIME_PATTERN.match(runtime):
        raise BuildError(f"{path}: runtime must look like 'python3.12', got {runtime!r}")
    if architecture not in PLATFORMS:
        raise BuildError(f"{path}: architecture must be one of {sorted(PLATFORMS)}, got {architecture!r}")
    if not isinstance(shared, list) or not all(
        isinstance(p, str) and all(part.isidentifier() for part in p.split(".")) for p in shared
    ):
        raise BuildError(f"{path}: shared_packages must be a list of (dotted) package names, got {shared!r}")
    return FunctionSpec(
        name=directory.name,
        directory=directory,
        handler=handler,
        runtime=runtime,
        architecture=architecture,
        shared_packages=tuple(shared),
    )


def discover(source_root: Path) -> list[FunctionSpec]:
    """Every function under ``include/lambda``: a directory is a function when it has a lambda.toml."""
    base = source_root / FUNCTIONS_DIR
    if not base.is_dir():
        return []
    return [load_spec(d) for d in sorted(base.iterdir()) if (d / MANIFEST).is_file()]


def read_requirements(path: Path) -> list[Requirement]:
    """Parse a function's requirements.txt: plain requirements, no AWS SDK, no pip options."""
    if not path.is_file():
        return []
    requirements: list[Requirement] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise BuildError(f"{path}:{number}: pip options are not supported here: {line!r}")
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise BuildError(f"{path}:{number}: {exc}") from exc
        if canonicalize_name(requirement.name) in RUNTIME_PROVIDED:
            raise BuildError(
                f"{path}:{number}: {requirement.name} is provided by the Lambda runtime; remove it"
            )
        requirements.append(requirement)
    return requirements


def _is_pinned(requirement: Requirement) -> bool:
    specs = list(requirement.specifier)
    return len(specs) == 1 and specs[0].operator in {"==", "==="} and "*" not in specs[0].version


def pinned_names(path: Path) -> set[str]:
    """Distribution names pinned with '==' in a requirements or constraints file."""
    names: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if _is_pinned(requirement):
            names.add(canonicalize_name(requirement.name))
    return names


def find_uv(source_root: Path) -> str:
    """uv on PATH, else the copy `make` bootstraps into .tools/."""
    if found := shutil.which("uv"):
        return found
    for root in (source_root, REPO_ROOT):
        candidate = root / ".tools" / "bin" / "uv"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise BuildError("uv not found on PATH or in .tools/bin; run `make setup` first")


def _run(command: Sequence[str], what: str, cwd: Path | None = None) -> None:
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise BuildError(f"{what} failed:\n{completed.stderr.strip() or completed.stdout.strip()}")


def lock_constraints(source_root: Path, uv: str, workdir: Path) -> Path | None:
    """Export the project's uv.lock as a constraints file, or None when the root has no lock."""
    if not (source_root / "uv.lock").is_file():
        return None
    target = workdir / "lock-constraints.txt"
    command = [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--no-header"]
    _run([*command, "--no-annotate", "--quiet", "-o", str(target)], "uv export", cwd=source_root)
    return target


def install_dependencies(
    spec: FunctionSpec, staging: Path, uv: str, workdir: Path, constraints: Path | None
) -> None:
    """Install the function's requirements for the Lambda platform into the staging directory."""
    requirements = spec.directory / REQUIREMENTS
    if not read_requirements(requirements):
        return
    excludes = workdir / "runtime-provided.txt"
    excludes.write_text("\n".join(RUNTIME_PROVIDED) + "\n", encoding="utf-8")
    command = [
        uv, "pip", "install", "--quiet",
        "--target", str(staging),
        "--python-platform", spec.python_platform,
        "--python-version", spec.python_version,
        "--only-binary", ":all:",
        "--excludes", str(excludes),
        "-r", str(requirements),
    ]  # fmt: skip
    if constraints is not None:
        command += ["-c", str(constraints)]
    _run(command, f"installing dependencies of {spec.name}")
    _check_installed(spec, staging, requirements, constraints)


def installed_distributions(staging: Path) -> set[str]:
    return {
        canonicalize_name(d.name.removesuffix(".dist-info").rsplit("-", 1)[0])
        for d in staging.glob("*.dist-info")
    }


def _check_installed(spec: FunctionSpec, staging: Path, requirements: Path, constraints: Path | None) -> None:
    installed = installed_distributions(staging)
    if bundled_sdk := sorted(installed & set(RUNTIME_PROVIDED)):
        raise BuildError(f"{spec.name}: {bundled_sdk} ended up in the bundle; the runtime provides them")
    pinned = pinned_names(requirements) | (pinned_names(constraints) if constraints else set())
    if floating := sorted(installed - pinned):
        raise BuildError(
            f"{spec.name}: {floating} were installed but are pinned neither in {REQUIREMENTS} nor in uv.lock;"
            " pin them so the zip does not change whenever PyPI does"
        )


def strip_install_junk(staging: Path) -> None:
    """Drop what the installer leaves that Lambda never reads (scripts, lock file, RECORD, bytecode)."""
    for leftover in (staging / "bin", staging / ".lock"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        elif leftover.exists():
            leftover.unlink()
    for dist_info in staging.glob("*.dist-info"):
        for name in DIST_INFO_JUNK:
            (dist_info / name).unlink(missing_ok=True)
    for cache in sorted(staging.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)
    for compiled in [*staging.rglob("*.pyc"), *staging.rglob("*.pyo")]:
        compiled.unlink()


def _ignore_junk(directory: str, names: list[str]) -> set[str]:
    ignored = {n for n in names if n.startswith(".")}  # editor, VCS and tool droppings
    ignored |= {n for n in names if n in JUNK_DIRS and (Path(directory) / n).is_dir()}
    ignored |= set().union(*(fnmatch.filter(names, p) for p in JUNK_FILE_PATTERNS))
    return ignored


def _copy_entry(source: Path, destination: Path, what: str) -> None:
    if destination.exists():
        raise BuildError(f"{what}: {destination.name!r} collides with a dependency or another package")
    if source.is_dir():
        shutil.copytree(source, destination, ignore=_ignore_junk)
    else:
        shutil.copyfile(source, destination)


def copy_shared_packages(spec: FunctionSpec, staging: Path, source_root: Path) -> None:
    """Each package with its parent packages' ``__init__.py`` (``edp.ingest`` needs ``edp/__init__.py``)."""
    for package in spec.shared_packages:
        parts = package.split(".")
        source = source_root / SHARED_DIR / Path(*parts)
        if not (source / "__init__.py").is_file():
            raise BuildError(f"{spec.name}: shared package {package!r} not found at {source}")
        for depth in range(1, len(parts)):
            parent = Path(*parts[:depth]) / "__init__.py"
            if not (staging / parent).exists():
                (staging / parent).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source_root / SHARED_DIR / parent, staging / parent)
        _copy_entry(source, staging / Path(*parts), f"{spec.name}: shared package")


def copy_function_source(spec: FunctionSpec, staging: Path) -> None:
    """Everything in the function directory except build inputs, tests and caches."""
    entries = sorted(spec.directory.iterdir())
    skipped = {MANIFEST, REQUIREMENTS} | _ignore_junk(str(spec.directory), [e.name for e in entries])
    for entry in entries:
        if entry.name not in skipped:
            _copy_entry(entry, staging / entry.name, f"{spec.name}: source")


def check_handler(spec: FunctionSpec, staging: Path) -> None:
    """Fail the build, not the first invocation, when the handler does not exist."""
    *module_parts, function = spec.handler.split(".")
    module = staging.joinpath(*module_parts)
    candidates = [module.with_suffix(".py"), module / "__init__.py"]
    source = next((c for c in candidates if c.is_file()), None)
    if source is None:
        raise BuildError(f"{spec.name}: handler module {'.'.join(module_parts)!r} is not in the bundle")
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    if function not in _top_level_names(tree):
        raise BuildError(f"{spec.name}: {source.relative_to(staging)} defines no {function!r}")


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def write_zip(staging: Path, target: Path) -> tuple[int, int]:
    """Write a reproducible zip: sorted entries, fixed timestamps and modes. Returns (files, bytes in)."""
    files = sorted(
        (p for p in staging.rglob("*") if p.is_file()), key=lambda p: p.relative_to(staging).as_posix()
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    unzipped = 0
    with zipfile.ZipFile(partial, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(staging).as_posix(), date_time=ZIP_DATE)
            info.external_attr = ZIP_FILE_MODE << 16
            info.create_system = 3  # Unix, so the mode above is honoured
            data = path.read_bytes()
            unzipped += len(data)
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    os.replace(partial, target)
    return len(files), unzipped


def build_function(
    spec: FunctionSpec, *, source_root: Path, out_dir: Path, uv: str, constraints: Path | None = None
) -> BuildResult:
    """Stage dependencies, shared packages and source for one function, then zip them."""
    with tempfile.TemporaryDirectory(prefix=f"lambda-{spec.name}-") as tmp:
        workdir = Path(tmp)
        staging = workdir / "bundle"
        staging.mkdir()
        install_dependencies(spec, staging, uv, workdir, constraints)
        strip_install_junk(staging)
        copy_shared_packages(spec, staging, source_root)
        copy_function_source(spec, staging)
        check_handler(spec, staging)
        target = out_dir / f"{spec.name}.zip"
        files, unzipped = write_zip(staging, target)
    if unzipped > UNZIPPED_LIMIT_BYTES:
        target.unlink()
        raise BuildError(f"{spec.name}: {unzipped:,} bytes unzipped exceeds Lambda's 250 MiB limit")
    data = target.read_bytes()
    return BuildResult(
        name=spec.name,
        path=target,
        size=len(data),
        unzipped_size=unzipped,
        files=files,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def build(
    names: Iterable[str] | None, *, source_root: Path, out_dir: Path, use_lock: bool = True
) -> list[BuildResult]:
    """Build the named functions (all when ``names`` is None) and return what was written."""
    functions = discover(source_root)
    selected = functions if names is None else _select(functions, names)
    if not selected:
        raise BuildError(f"no function directories with a {MANIFEST} under {source_root / FUNCTIONS_DIR}")
    uv = find_uv(source_root)
    with tempfile.TemporaryDirectory(prefix="lambda-constraints-") as tmp:
        constraints = lock_constraints(source_root, uv, Path(tmp)) if use_lock else None
        return [
            build_function(spec, source_root=source_root, out_dir=out_dir, uv=uv, constraints=constraints)
            for spec in selected
        ]


def _select(functions: list[FunctionSpec], names: Iterable[str]) -> list[FunctionSpec]:
    names = list(names)
    by_name = {f.name: f for f in functions}
    if unknown := [n for n in names if n not in by_name]:
        known = ", ".join(sorted(by_name)) or "none"
        raise BuildError(f"no function with a {MANIFEST} named {unknown}; known: {known}")
    return [by_name[n] for n in dict.fromkeys(names)]


def _describe(result: BuildResult) -> str:
    try:
        shown = result.path.relative_to(Path.cwd())
    except ValueError:
        shown = result.path
    note = "  (over 50 MiB: deploy it through S3)" if result.size > DIRECT_UPLOAD_LIMIT_BYTES else ""
    return (
        f"{result.name}: {shown}  {result.size / 1024 / 1024:.2f} MiB ({result.size:,} bytes, "
        f"{result.files} files, {result.unzipped_size:,} bytes unzipped)  sha256={result.sha256}{note}"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.build_lambda", description="Build AWS Lambda zips."
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="build every function that has a lambda.toml")
    which.add_argument("--name", action="append", help="build this function (repeatable)")
    parser.add_argument("--source-root", type=Path, default=REPO_ROOT, help="project root (default: repo)")
    parser.add_argument("--out-dir", type=Path, help="where zips go (default: <source-root>/build/lambda)")
    parser.add_argument(
        "--no-lock", action="store_true", help="do not constrain dependencies with the project's uv.lock"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    source_root = args.source_root.resolve()
    out_dir = (args.out_dir or source_root / "build" / "lambda").resolve()
    try:
        results = build(
            None if args.all else args.name,
            source_root=source_root,
            out_dir=out_dir,
            use_lock=not args.no_lock,
        )
    except BuildError as exc:
        print(f"build_lambda: {exc}", file=sys.stderr)
        return 1
    for result in results:
        print(_describe(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load the Databricks bundle (``databricks.yml`` + ``resources/*.yml``) offline, resolve it for a target
and validate every job against the bundle schema.

The Databricks CLI (which ``databricks bundle validate`` needs) is a Go binary, not on PyPI. Offline, the
schema comes from ``databricks-bundles``: its ``Job`` models are generated from the CLI's bundle JSON
schema and refuse unknown fields, wrong types and missing required fields (``Job.from_dict``). This module
resolves ``${var.*}`` and ``${bundle.*}`` the way the CLI does for plain values, then validates each job;
``databricks bundle validate`` remains the check of record before a deploy (``make deploy`` runs it).

``python -m edp_infra.databricks_bundle --target prod --out build/databricks`` writes the resolved jobs.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from edp_infra.settings import REPO_ROOT

BUNDLE_FILE = "databricks.yml"
TOP_LEVEL_KEYS = frozenset(
    {"bundle", "include", "variables", "artifacts", "targets", "resources", "sync", "workspace",
     "permissions", "run_as", "presets", "experimental", "python", "scripts", "git"}
)  # fmt: skip
REFERENCE = re.compile(r"\$\{(var|bundle)\.([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_REFERENCE = re.compile(r"^\{\{secrets/([^/{}]+)/([^/{}]+)\}\}$")


class BundleError(ValueError):
    """The bundle does not load, resolve or validate; the message lists every problem."""


def load(root: Path = REPO_ROOT) -> dict[str, Any]:
    """``databricks.yml`` merged with every file its ``include`` globs match (resources only)."""
    bundle = yaml.safe_load((root / BUNDLE_FILE).read_text(encoding="utf-8"))
    if unknown := set(bundle) - TOP_LEVEL_KEYS:
        raise BundleError(f"{BUNDLE_FILE}: unknown top-level keys {sorted(unknown)}")
    resources: dict[str, dict[str, Any]] = copy.deepcopy(bundle.get("resources") or {})
    for pattern in bundle.get("include") or []:
        for path in sorted(root.glob(pattern)):
            included = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if set(included) - {"resources"}:
                raise BundleError(f"{path.name}: only 'resources' belongs in an included file")
            for kind, items in (included.get("resources") or {}).items():
                if duplicate := set(resources.get(kind, {})) & set(items):
                    raise BundleError(f"{path.name}: {kind} {sorted(duplicate)} defined twice")
                resources.setdefault(kind, {}).update(items)
    bundle["resources"] = resources
    return bundle


def variable_values(bundle: Mapping[str, Any], target: str, overrides: Mapping[str, str]) -> dict[str, Any]:
    """Defaults, then the target's ``variables``, then ``--var`` overrides; every variable must end set."""
    declared = bundle.get("variables") or {}
    targets = bundle.get("targets") or {}
    if target not in targets:
        raise BundleError(f"no target {target!r}; known: {sorted(targets)}")
    values = {name: spec.get("default") for name, spec in declared.items() if "default" in spec}
    values.update((targets[target] or {}).get("variables") or {})
    if unknown := set(overrides) - set(declared):
        raise BundleError(f"undeclared variables {sorted(unknown)}")
    values.update(overrides)
    if missing := sorted(set(declared) - set(values)):
        raise BundleError(
            f"variables without a value for target {target!r}: {missing} (pass --var name=value)"
        )
    return values


def resolve(
    bundle: Mapping[str, Any], target: str, overrides: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The bundle's resources with ``${var.x}``, ``${bundle.name}`` and ``${bundle.target}`` substituted."""
    values = variable_values(bundle, target, overrides or {})
    context = {"var": values, "bundle": {"name": bundle["bundle"]["name"], "target": target}}

    def sub(node: Any) -> Any:
        if isinstance(node, str):
            whole = REFERENCE.fullmatch(node)
            if whole:  # a whole-value reference keeps the variable's type (num_workers: 1, not "1")
                return _lookup(context, whole)
            return REFERENCE.sub(lambda m: str(_lookup(context, m)), node)
        if isinstance(node, Mapping):
            return {k: sub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [sub(v) for v in node]
        return node

    return sub(dict(bundle["resources"]))


def _lookup(context: Mapping[str, Mapping[str, Any]], match: re.Match[str]) -> Any:
    scope, name = match.groups()
    if name not in context[scope]:
        raise BundleError(f"${{{scope}.{name}}} is not defined")
    return context[scope][name]


def validate_jobs(resources: Mapping[str, Any]) -> dict[str, Any]:
    """Each job through the schema-generated ``databricks.bundles.jobs.Job``; returns the models by key."""
    from databricks.bundles.jobs import Job  # noqa: PLC0415 - the infra dependency group only

    jobs, problems = {}, []
    for key, job in (resources.get("jobs") or {}).items():
        try:
            jobs[key] = Job.from_dict(job)
        except (TypeError, ValueError) as exc:
            problems.append(f"jobs.{key}: {exc}")
    if problems:
        raise BundleError("; ".join(problems))
    return jobs


def secret_reference(value: str) -> tuple[str, str] | None:
    """``(scope, key)`` of a ``{{secrets/scope/key}}`` reference, else None."""
    match = SECRET_REFERENCE.match(value)
    return (match.group(1), match.group(2)) if match else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edp_infra.databricks_bundle", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--target", default="prod")
    parser.add_argument("--var", action="append", default=[], help="name=value, as for the Databricks CLI")
    parser.add_argument("--out", type=Path, help="directory for <target>.json (the resolved, validated jobs)")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.var)
    try:
        resources = resolve(load(), args.target, overrides)
        jobs = validate_jobs(resources)
    except BundleError as exc:
        print(f"databricks bundle: {exc}", file=sys.stderr)
        return 1
    rendered = json.dumps({"target": args.target, "resources": resources}, indent=2, sort_keys=True)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.target}.json").write_text(rendered + "\n", encoding="utf-8")
        print(
            f"bundle: {len(jobs)} jobs valid for target {args.target}: {args.out / (args.target + '.json')}"
        )
    else:
        print(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Backward-compatibility checks between two versions of the event contract.

A change is *breaking* when an event that the old contract accepted is rejected by the new one,
or when a consumer of stored data loses a field it could read: a removed event type or field, a
changed or narrowed type, a newly required field, removed enum values, tighter bounds, a changed
pattern or const, or ``additionalProperties`` turned off. Adding an optional field or an event type
is compatible.

Release rule enforced by :func:`release_problems` (and the unit test that calls it):

* any change to the schemas needs a ``CONTRACT_VERSION`` bump and a refreshed snapshot;
* a breaking change additionally needs a *major* bump, i.e. a new ``schemas/v<N+1>/`` directory;
* the one exception is a *security narrowing* listed in :data:`SECURITY_NARROWINGS` for the version
  being released: a tighter pattern, bound or enum on one field (never a removed, retyped or newly
  required field), with the reason it cannot wait for a major version. Columns and types stay as they
  are, so no table changes; events it newly rejects go to the quarantine with their reason.

``python -m edp.contract.compatibility check`` prints the problems; ``... release`` rewrites
``schemas/released.json`` after checking the rule.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edp.contract.registry import CONTRACT_VERSION, RELEASED_SNAPSHOT, event_schemas, major_dir

# (event type, path, kind of change) -> why it ships in a minor version; see the module docstring
SECURITY_NARROWINGS: dict[str, dict[tuple[str, str, str], str]] = {
    "1.1": {
        ("page_view", "properties.url", "changed pattern"): (
            "page URLs are http(s) only: a javascript:, data: or file: URL is never the address of a "
            "page view, and it is unsafe wherever the URL is rendered as a link"
        ),
    },
}
NARROWING_KINDS = frozenset({"changed pattern", "narrowed bound", "enum values removed", "enum added"})

# keyword -> True when a *smaller* new value narrows what is accepted
_UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")


@dataclasses.dataclass(frozen=True)
class Change:
    """One difference between two contract versions."""

    event_type: str
    path: str
    kind: str
    detail: str
    breaking: bool

    def __str__(self) -> str:
        flag = "BREAKING" if self.breaking else "compatible"
        return f"[{flag}] {self.event_type}:{self.path or '<root>'} {self.kind}: {self.detail}"


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    if declared is None:
        return set()  # const-only or untyped: compared through other keywords
    return {declared} if isinstance(declared, str) else set(declared)


def _compare_node(old: Mapping[str, Any], new: Mapping[str, Any], event_type: str, path: str) -> list[Change]:
    def change(kind: str, detail: str, breaking: bool = True) -> Change:
        return Change(event_type, path, kind, detail, breaking)

    changes: list[Change] = []
    old_types, new_types = _types(old), _types(new)
    if old_types != new_types:
        lost = old_types - new_types
        changes.append(change("changed type", f"{sorted(old_types)} -> {sorted(new_types)}", bool(lost)))
    if "const" in old and old.get("const") != new.get("const"):
        changes.append(change("changed const", f"{old['const']!r} -> {new.get('const')!r}"))
    if "enum" in old or "enum" in new:
        changes.extend(_compare_enum(old, new, change))
    changes.extend(_compare_bounds(old, new, change))
    if old.get("pattern") != new.get("pattern"):
        changes.append(change("changed pattern", f"{old.get('pattern')!r} -> {new.get('pattern')!r}"))
    if old.get("additionalProperties", True) is not False and new.get("additionalProperties", True) is False:
        changes.append(change("closed object", "additionalProperties is now false"))
    if "properties" in old or "properties" in new:
        changes.extend(_compare_properties(old, new, event_type, path))
    if isinstance(old.get("items"), Mapping) and isinstance(new.get("items"), Mapping):
        changes.extend(_compare_node(old["items"], new["items"], event_type, f"{path}[]"))
    return changes


def _compare_enum(old: Mapping[str, Any], new: Mapping[str, Any], change: Any) -> list[Change]:
    if "enum" not in new:
        return [change("enum removed", "any value now allowed", False)]
    if "enum" not in old:
        return [change("enum added", f"values restricted to {new['enum']}")]
    removed = [v for v in old["enum"] if v not in new["enum"]]
    added = [v for v in new["enum"] if v not in old["enum"]]
    found = []
    if removed:
        found.append(change("enum values removed", f"{removed}"))
    if added:
        found.append(change("enum values added", f"{added}", False))
    return found


def _compare_bounds(old: Mapping[str, Any], new: Mapping[str, Any], change: Any) -> list[Change]:
    found = []
    for keyword in (*_UPPER_BOUNDS, *_LOWER_BOUNDS):
        before, after = old.get(keyword), new.get(keyword)
        if before == after:
            continue
        upper = keyword in _UPPER_BOUNDS
        if before is None:
            narrowed = True
        elif after is None:
            narrowed = False
        else:
            narrowed = after < before if upper else after > before
        found.append(
            change(
                "narrowed bound" if narrowed else "widened bound", f"{keyword} {before} -> {after}", narrowed
            )
        )
    return found


def _compare_properties(
    old: Mapping[str, Any], new: Mapping[str, Any], event_type: str, path: str
) -> list[Change]:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    changes: list[Change] = []
    for name in old_props.keys() | new_props.keys():
        child = f"{path}.{name}" if path else name
        if name not in new_props:
            changes.append(Change(event_type, child, "removed field", "no longer in the schema", True))
        elif name not in old_props:
            required = name in new_required
            kind = "newly required field" if required else "added optional field"
            changes.append(Change(event_type, child, kind, "new in this version", required))
        else:
            if name in new_required and name not in old_required:
                changes.append(Change(event_type, child, "newly required field", "was optional", True))
            elif name in old_required and name not in new_required:
                changes.append(Change(event_type, child, "now optional", "was required", False))
            changes.extend(_compare_node(old_props[name], new_props[name], event_type, child))
    return sorted(changes, key=lambda c: c.path)


def compare(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> list[Change]:
    """Every difference between two ``{event_type: bundled schema}`` mappings."""
    changes: list[Change] = []
    for event_type in sorted(old.keys() | new.keys()):
        if event_type not in new:
            changes.append(Change(event_type, "", "removed event type", "no longer accepted", True))
        elif event_type not in old:
            changes.append(Change(event_type, "", "added event type", "new in this version", False))
        else:
            changes.extend(_compare_node(old[event_type], new[event_type], event_type, ""))
    return changes


def breaking_changes(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> list[Change]:
    """Only the changes that break producers or consumers of the old version."""
    return [c for c in compare(old, new) if c.breaking]


def _version_tuple(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def snapshot(version: str = CONTRACT_VERSION) -> dict[str, Any]:
    """The released-contract document: version plus every bundled event schema."""
    return {"contract_version": version, "schemas": event_schemas(version)}


def load_released(path: Path = RELEASED_SNAPSHOT) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def release_problems(
    released: Mapping[str, Any],
    current_version: str = CONTRACT_VERSION,
    current_schemas: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """Why the current contract may not ship against the released snapshot; empty when it may."""
    released_version = released["contract_version"]
    schemas = current_schemas if current_schemas is not None else event_schemas(current_version)
    changes = compare(released["schemas"], schemas)
    if _version_tuple(current_version) < _version_tuple(released_version):
        return [f"contract version {current_version} is older than the released {released_version}"]
    problems: list[str] = []
    same_major = major_dir(current_version) == major_dir(released_version)
    allowed = SECURITY_NARROWINGS.get(current_version, {}) if current_version != released_version else {}
    problems.extend(
        f"SECURITY_NARROWINGS[{current_version!r}] lists a {kind!r} on {event_type}:{path}; only "
        f"{sorted(NARROWING_KINDS)} may ship in a minor version"
        for event_type, path, kind in allowed
        if kind not in NARROWING_KINDS
    )
    breaking = [
        c
        for c in changes
        if c.breaking and not (c.kind in NARROWING_KINDS and (c.event_type, c.path, c.kind) in allowed)
    ]
    if breaking and same_major:
        problems.append(
            f"breaking changes need a major version bump "
            f"(new schemas/v{_version_tuple(released_version)[0] + 1}/):"
        )
        problems.extend(f"  {c}" for c in breaking)
    if changes and current_version == released_version:
        problems.append(
            f"the schemas changed but CONTRACT_VERSION is still {released_version}: bump it and run "
            "`python -m edp.contract.compatibility release`"
        )
        problems.extend(f"  {c}" for c in changes if not c.breaking)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edp.contract.compatibility", description=__doc__)
    parser.add_argument("command", choices=["check", "release"])
    args = parser.parse_args(argv)
    released = load_released() if RELEASED_SNAPSHOT.exists() else None
    problems = release_problems(released) if released else []
    for line in problems:
        print(line)
    if args.command == "release":
        if problems:
            print("refusing to release: fix the problems above first")
            return 1
        RELEASED_SNAPSHOT.write_text(
            json.dumps(snapshot(), indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        print(f"wrote {RELEASED_SNAPSHOT} for contract {CONTRACT_VERSION}")
        return 0
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

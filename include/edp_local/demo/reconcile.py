"""The demo's reconciliation: each layer against the one before it. Pure functions over plain figures.

Every function returns :class:`Check` objects (name, pass/fail, the expected and the actual figure),
so the report can print both numbers of a failed check. Nothing here reads files or talks to services:
the figures come from :mod:`edp_local.demo.lake_counts`, :mod:`edp_local.demo.serving_counts` and the
load generator's summary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence, Set
from decimal import Decimal
from typing import Any

SAMPLE_IDS = 3
QUALITY_LAYERS = ("bronze", "silver", "gold")
SUCCESS = "success"

Number = int | Decimal


@dataclasses.dataclass(frozen=True)
class Check:
    """One reconciliation: passed when ``actual`` is what ``expected`` says it must be."""

    name: str
    passed: bool
    expected: Any
    actual: Any
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "expected": _plain(self.expected),
            "actual": _plain(self.actual),
            "detail": self.detail,
        }


@dataclasses.dataclass(frozen=True)
class TableFigures:
    """A table's row count and the sum of its measure column (``None`` when the table is missing)."""

    rows: int
    measure: str
    total: Number


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _sample(ids: Iterable[str]) -> str:
    chosen = sorted(ids)[:SAMPLE_IDS]
    return ", ".join(chosen) + (" ..." if chosen else "")


def send_accounting(traffic: Mapping[str, Any]) -> list[Check]:
    """Every event sent got an answer: accepted, rejected, or reported as an in-request duplicate."""
    sent, accepted, rejected = int(traffic["sent"]), int(traffic["accepted"]), int(traffic["rejected"])
    in_request = int(traffic.get("duplicates_reported_by_api", 0))
    answered = accepted + rejected + in_request
    return [
        Check(
            "sent = accepted + rejected (+ in-request duplicates)",
            sent == answered,
            sent,
            answered,
            f"accepted {accepted} + rejected {rejected} + duplicates the API folded in one request {in_request}",
        ),
        Check(
            "every request got a final answer", traffic["failed_requests"] == 0, 0, traffic["failed_requests"]
        ),
        Check(
            "every valid event was accepted",
            traffic["valid_not_accepted"] == 0,
            0,
            traffic["valid_not_accepted"],
        ),
    ]


def silver_matches_expected(expected_ids: Set[str], silver_ids: Set[str], silver_rows: int) -> list[Check]:
    """Silver holds each accepted valid event exactly once, and nothing else."""
    missing, unexpected = expected_ids - silver_ids, silver_ids - expected_ids
    detail = []
    if missing:
        detail.append(f"{len(missing)} expected ids missing from silver: {_sample(missing)}")
    if unexpected:
        detail.append(f"{len(unexpected)} silver ids never sent as valid: {_sample(unexpected)}")
    return [
        Check(
            "silver rows = valid unique events accepted",
            silver_rows == len(expected_ids),
            len(expected_ids),
            silver_rows,
        ),
        Check(
            "silver event_ids = the expected id set",
            not missing and not unexpected,
            len(expected_ids),
            len(silver_ids & expected_ids),
            "; ".join(detail),
        ),
    ]


def bronze_holds_accepted(
    accepted: int, bronze_rows: int, bronze_ids: Set[str], expected_ids: Set[str]
) -> list[Check]:
    """Bronze is at-least-once: every accepted record (re-sends included), every expected id."""
    missing = expected_ids - bronze_ids
    return [
        Check(
            "bronze rows >= accepted events (at-least-once)",
            bronze_rows >= accepted,
            f">= {accepted}",
            bronze_rows,
        ),
        Check(
            "bronze holds every expected event_id",
            not missing,
            len(expected_ids),
            len(expected_ids) - len(missing),
            f"{len(missing)} missing: {_sample(missing)}" if missing else "",
        ),
    ]


def quarantine_holds_rejected(rejected: int, quarantined: int, with_reason: int) -> list[Check]:
    """Each event the API rejected is a line of the ingest quarantine, with the reason it was rejected."""
    return [
        Check("ingest quarantine holds every rejected event", quarantined == rejected, rejected, quarantined),
        Check(
            "every quarantined event carries a reason", with_reason == quarantined, quarantined, with_reason
        ),
    ]


def per_day_equal(name: str, expected: Mapping[str, Number], actual: Mapping[str, Number]) -> Check:
    """Per-``event_date`` figures agree (a day missing on one side counts as 0)."""
    days = sorted(set(expected) | set(actual))
    differing = [d for d in days if expected.get(d, 0) != actual.get(d, 0)]
    detail = ", ".join(f"{d}: {expected.get(d, 0)} vs {actual.get(d, 0)}" for d in differing[:5])
    return Check(
        name,
        not differing,
        sum(expected.values(), 0),
        sum(actual.values(), 0),
        f"{len(differing)} of {len(days)} days differ: {detail}" if differing else f"{len(days)} days",
    )


def gold_reconciles(pairs: Mapping[str, tuple[Mapping[str, Number], Mapping[str, Number]]]) -> list[Check]:
    """``{check name: (silver per day, gold per day)}`` -> one check each."""
    return [per_day_equal(f"gold vs silver: {name}", silver, gold) for name, (silver, gold) in pairs.items()]


def warehouse_matches_gold(
    gold: Mapping[str, TableFigures], warehouse: Mapping[str, TableFigures | None]
) -> list[Check]:
    """Each warehouse fact table has its gold table's rows and measure total; keyed by the gold name."""
    checks = []
    for name, figures in gold.items():
        loaded = warehouse.get(name)
        if loaded is None:
            checks.append(
                Check(f"warehouse vs {name}: table loaded", False, figures.rows, None, "no fact table")
            )
            continue
        checks.append(
            Check(f"warehouse vs {name}: rows", loaded.rows == figures.rows, figures.rows, loaded.rows)
        )
        checks.append(
            Check(
                f"warehouse vs {name}: sum({figures.measure})",
                loaded.total == figures.total,
                figures.total,
                loaded.total,
            )
        )
    return checks


def quality_passed(
    records: Sequence[Mapping[str, Any]], layers: Collection[str] = QUALITY_LAYERS
) -> list[Check]:
    """Quality gates ran for every layer and every suite of every run passed."""
    ran = {str(r.get("layer")) for r in records}
    missing = [layer for layer in layers if layer not in ran]
    suites = [s for r in records for s in r.get("suites", [])]
    failed = sorted({s.get("suite", "?") for s in suites if not s.get("success")})
    return [
        Check(
            "quality gates ran for every layer",
            not missing,
            list(layers),
            sorted(ran),
            f"no record for {', '.join(missing)}" if missing else "",
        ),
        Check(
            "every quality validation passed",
            bool(suites) and not failed,
            len(suites),
            sum(1 for s in suites if s.get("success")),
            f"failed suites: {', '.join(failed)}" if failed else "",
        ),
    ]


def dag_runs_succeeded(runs: Sequence[Mapping[str, Any]], dag_ids: Collection[str]) -> list[Check]:
    """Each DAG ran at least once and every run the demo triggered ended in success."""
    ran = {r["dag_id"] for r in runs}
    missing = sorted(set(dag_ids) - ran)
    unsuccessful = [f"{r['dag_id']} ({r.get('state')})" for r in runs if r.get("state") != SUCCESS]
    return [
        Check("every DAG ran", not missing, len(set(dag_ids)), len(ran & set(dag_ids)), ", ".join(missing)),
        Check(
            "every DAG run succeeded",
            bool(runs) and not unsuccessful,
            len(runs),
            len(runs) - len(unsuccessful),
            ", ".join(unsuccessful),
        ),
    ]


def failed(checks: Iterable[Check]) -> list[Check]:
    return [check for check in checks if not check.passed]

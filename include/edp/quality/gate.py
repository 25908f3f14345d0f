"""The quality gate: run a layer's checkpoints on the plan's frames, record the outcome, block on failure.

:func:`run_gate` validates every suite of a layer (bronze, silver, or gold with the reconciliation),
each through its committed GX checkpoint with the frame as the batch, then:

1. rebuilds the Data Docs site and publishes it to the artifacts storage (on AWS
   ``s3://<artifacts>/quality/data_docs/``; locally it is built in place);
2. writes the run's record (:mod:`edp.quality.records`), pass or fail;
3. on failure raises :class:`edp.alerting.failures.QualityGateFailed` through
   ``raise_quality_gate_alert``: the task fails without retries, everything downstream (export, COPY,
   MERGE, BI refresh) is skipped, and the platform's failure callback publishes one
   ``quality_gate_failed`` alert whose message and ``details`` name the failing expectations.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from edp.alerting.failures import raise_quality_gate_alert
from edp.config import PlatformConfig
from edp.quality.context import LOCAL_SITE, data_docs_dir, data_docs_index, open_context, published_data_docs
from edp.quality.frames import frame, suite_parameters
from edp.quality.records import RECORD_FORMAT, json_safe, record_store_for
from edp.quality.suites import Layer, SuiteSpec, describe, suites_of
from edp.serving.plan import LoadPlan

log = logging.getLogger(__name__)
SAMPLES = 5
_SKIPPED_KWARGS = ("batch_id",)


def _failure(result: Any) -> dict[str, Any]:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in _SKIPPED_KWARGS}
    details = result.result or {}
    samples = details.get("partial_unexpected_index_list") or details.get("partial_unexpected_list") or []
    failure: dict[str, Any] = {
        "expectation": describe(config.type, kwargs),
        "unexpected_count": details.get("unexpected_count"),
        "samples": json_safe(list(samples)[:SAMPLES]),
    }
    if "observed_value" in details:
        failure["observed_value"] = json_safe(details["observed_value"])
    exception = result.exception_info or {}
    if exception.get("raised_exception"):
        failure["error"] = str(exception.get("exception_message"))[:300]
    return failure


def summarise(spec: SuiteSpec, checkpoint_result: Any, rows: int, docs_url: str | None) -> dict[str, Any]:
    """A suite's outcome: evaluated/failed expectations, rows checked, Data Docs page."""
    results = [r for run in checkpoint_result.run_results.values() for r in run.results]
    failures = [_failure(r) for r in results if not r.success]
    return {
        "suite": spec.name,
        "table": spec.table,
        "success": bool(checkpoint_result.success),
        "rows": rows,
        "evaluated": len(results),
        "failed": failures,
        "data_docs_url": docs_url,
    }


def _docs_url(context: Any, identifier: Any, config: PlatformConfig) -> str | None:
    """The page's URL where the site is published (locally the site is built in place: unchanged)."""
    from edp.resources import resources  # noqa: PLC0415

    urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=LOCAL_SITE)
    url = urls[0].get("site_url") if urls else None
    if url is None:
        return None
    published = resources(config).artifacts.url(published_data_docs(config))
    return url.replace(data_docs_dir(config).resolve().as_uri(), published, 1)


def _publish_data_docs(config: PlatformConfig) -> None:
    from edp.resources import resources  # noqa: PLC0415

    resources(config).artifacts.publish_tree(data_docs_dir(config), published_data_docs(config))


def validate_layer(
    layer: Layer | str,
    plan: LoadPlan,
    config: PlatformConfig,
    *,
    options: Mapping[str, str] | None = None,
    min_bronze_rows: int = 1,
) -> list[dict[str, Any]]:
    """Run every checkpoint of ``layer`` on the plan's frames; one summary per suite (no raising)."""
    from great_expectations.core.run_identifier import RunIdentifier  # noqa: PLC0415

    context = open_context(config)
    parameters = suite_parameters(Layer(layer), plan, config, min_bronze_rows=min_bronze_rows)
    run_id = RunIdentifier(run_name=plan.load_id, run_time=datetime.now(tz=UTC))
    outcomes = []
    for spec in suites_of(layer):
        batch = frame(spec.name, plan, options)
        result = context.checkpoints.get(spec.name).run(
            batch_parameters={"dataframe": batch}, expectation_parameters=parameters, run_id=run_id
        )
        outcomes.append((spec, result, len(batch)))
        log.info("%s: %s on %d rows", spec.name, "passed" if result.success else "FAILED", len(batch))
    context.build_data_docs(site_names=[LOCAL_SITE])
    _publish_data_docs(config)
    return [
        summarise(spec, result, rows, _docs_url(context, next(iter(result.run_results)), config))
        for spec, result, rows in outcomes
    ]


def build_record(
    layer: Layer | str,
    plan: LoadPlan,
    suites: list[dict[str, Any]],
    config: PlatformConfig,
    started_at: datetime,
    run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "layer": str(Layer(layer)),
        "load_id": plan.load_id,
        "interval_start": plan.interval.start.isoformat(),
        "interval_end": plan.interval.end.isoformat(),
        "dates": [d.isoformat() for d in plan.affected],
        "success": all(s["success"] for s in suites),
        "suites": suites,
        "data_docs_url": data_docs_index(config),
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(tz=UTC).isoformat(),
        **{k: json_safe(v) for k, v in (run or {}).items()},
    }


def enforce(record: Mapping[str, Any]) -> None:
    """Raise the ``quality_gate_failed`` failure for a failed record (no-op when it passed)."""
    if record["success"]:
        return
    failed_suites = [s for s in record["suites"] if not s["success"]]
    several = len(failed_suites) > 1
    failed = [
        f"{s['suite']}: {f['expectation']}" if several else f["expectation"]
        for s in failed_suites
        for f in s["failed"]
    ]
    samples = [
        f"{f['expectation']}: {f['samples'][0]}"
        for s in failed_suites
        for f in s["failed"]
        if f.get("samples")
    ][:3]
    raise_quality_gate_alert(
        suite=", ".join(s["suite"] for s in failed_suites),
        table=", ".join(sorted({s["table"] for s in failed_suites})),
        failed_expectations=failed,
        evaluated=sum(s["evaluated"] for s in failed_suites),
        data_docs_url=failed_suites[0].get("data_docs_url") or record.get("data_docs_url"),
        details={
            "layer": record["layer"],
            "load_id": record["load_id"],
            "interval": f"{record['interval_start']} .. {record['interval_end']}",
            "record": record.get("record"),
            "samples": samples,
        },
    )


def run_gate(
    layer: Layer | str,
    plan: LoadPlan,
    config: PlatformConfig,
    *,
    options: Mapping[str, str] | None = None,
    min_bronze_rows: int = 1,
    run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate, record, and raise ``QualityGateFailed`` if any suite failed; the record otherwise."""
    started = datetime.now(tz=UTC)
    suites = validate_layer(layer, plan, config, options=options, min_bronze_rows=min_bronze_rows)
    record = build_record(layer, plan, suites, config, started, run)
    record["record"] = record_store_for(config).write(record)
    enforce(record)
    return record

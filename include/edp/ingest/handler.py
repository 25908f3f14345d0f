"""AWS Lambda entry point of the ingest API (API Gateway REST v1 and HTTP API v2 proxy events).

The contract (statuses, response body, Kinesis envelope, quarantine) is documented in
:mod:`edp.ingest`. Module import stays cheap (Powertools, orjson, the stdlib): boto3, the schema
validators and the User-Agent parser are created on first use and kept for the container's life.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from edp.ingest.http import parse_proxy_event
from edp.ingest.service import IngestService, Outcome
from edp.ingest.settings import load_settings

logger = Logger(service="ingest")
metrics = Metrics(namespace="EventDataPlatform", service="ingest")

_service: IngestService | None = None


def get_service() -> IngestService:
    """The container's service, built on first use from the environment and platform config."""
    global _service
    if _service is None:
        _service = IngestService(load_settings(), logger=logger)
    return _service


def reset_service(service: IngestService | None = None) -> None:
    """Replace (or drop, to rebuild from the environment) the container's service, e.g. after key rotation."""
    global _service
    _service = service


def _time_left(context: Any) -> Callable[[], float] | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return (lambda: remaining() / 1000.0) if callable(remaining) else None


def _record_metrics(outcome: Outcome) -> None:
    if outcome.source_app:
        metrics.add_dimension(name="source_app", value=outcome.source_app)
    metrics.add_metric(name="RequestStatus" + str(outcome.response.status), unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Accepted", unit=MetricUnit.Count, value=outcome.counts.get("accepted", 0))
    metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=outcome.counts.get("rejected", 0))
    metrics.add_metric(name="Duplicates", unit=MetricUnit.Count, value=outcome.counts.get("duplicate", 0))
    metrics.add_metric(name="Quarantined", unit=MetricUnit.Count, value=outcome.quarantined)
    metrics.add_metric(name="Throttled", unit=MetricUnit.Count, value=outcome.throttled_entries)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Validate, enrich and stream the request's events; returns an API Gateway proxy response."""
    request = parse_proxy_event(event if isinstance(event, dict) else {})
    outcome = get_service().handle(request, time_left=_time_left(context))
    _record_metrics(outcome)
    logger.info(
        "ingest request",
        extra={
            "status": outcome.response.status,
            "source_app": outcome.source_app,
            **outcome.counts,
            "quarantined": outcome.quarantined,
            "quarantine_location": outcome.quarantine_location,
        },
    )
    return outcome.response.to_proxy()

"""Ingest API: the Lambda behind API Gateway that validates, enriches and streams analytics events.

HTTP contract (public; the OpenAPI spec and the local gateway follow it)
------------------------------------------------------------------------
``POST /v1/events`` with ``Content-Type: application/json`` (``charset=utf-8`` optional) and the
API key in ``x-api-key``. The body is one event object or ``{"events": [...]}`` with 1..500 events
(:data:`edp.contract.MAX_BATCH_EVENTS`); at most 1 MiB per body and 32 KiB per serialised event.
``GET /v1/health`` needs no key (``{"status": "ok", "service": "edp-ingest"}``). The OpenAPI spec
(``include/lambda/ingest/openapi.yaml``) declares exactly these two (:data:`service.ROUTES`), its
request schemas generated from the event contract (``make openapi``).

==========  ===============================================================================
status      meaning
==========  ===============================================================================
200         every event accepted (in-batch duplicates of an accepted ``event_id`` included)
207         some accepted, some rejected; ``results`` says which and why
400         no event valid, or the body is empty / not UTF-8 / not JSON (NaN, Infinity, numbers
            past double range, lone surrogates, nesting deeper than 1,024) / wrong shape / a
            repeated ``events`` key (``duplicate_key``) / more than 500 events
401 / 403   ``x-api-key`` missing / not a known key
404         a path other than ``/v1/events`` and ``/v1/health``
405         a method the path does not declare; ``Allow`` lists the one it does
413         body over 1 MiB
415         content type is not ``application/json``
429         valid events could not be written because Kinesis stayed throttled after retries;
            they are quarantined for replay and the response carries ``Retry-After``.
            (Request-rate throttling itself is done by API Gateway usage plans / the local
            gateway, which answer 429 before this handler runs.)
503         valid events could not be written for another stream failure (quarantined too)
==========  ===============================================================================

Bad input never yields a 5xx: an event the pipeline cannot process for any reason is rejected on its
own (``event: could not be processed (...)``), so the rest of its batch still goes through. Every
response body, errors (404 and 405 included) too, has the same shape::

    {"accepted": n, "rejected": m, "duplicates": d, "request_id": "...",
     "results": [{"index": i, "event_id": "...", "status": "accepted"|"rejected"|"duplicate",
                  "reason": "...", "quarantined": true}],
     "error": {"code": "...", "message": "..."}}        # only on request-level errors

``reason`` appears on rejected and duplicate results, ``quarantined`` on rejected ones. Clients may
safely retry events rejected with a ``stream:`` reason: downstream deduplicates on ``event_id``.
If the quarantine itself cannot be written the invocation fails (a 5xx) rather than lose events.

Guarantees, and their limits:

* every event the API considered has one ``results`` entry; none is dropped without one;
* repeated JSON keys: inside an event the last value wins (RFC 8259 leaves it open, orjson keeps
  the last); a repeated top-level ``events`` key is 400 ``duplicate_key``, since keeping only the
  last array would drop the first one's events without a result;
* a repeated ``event_id`` within one request is accepted once (``duplicate``). Across requests the
  API does *not* deduplicate: a retry writes the event to the stream again, and silver keeps one row
  per ``event_id``. So a retry is safe, but bronze and the stream may hold an event twice;
* free text is stored with control characters (other than TAB, LF, CR) and U+2028/U+2029 replaced
  by U+FFFD (:mod:`edp.contract.text`); such events are accepted, never rejected for it;
* ``occurred_at`` within 30 days before to 24 hours after the receive time, and the 32 KiB event
  limit, are checked by the handler: the OpenAPI spec states them in descriptions and ``x-edp-*``
  keys, as no schema keyword can.

Kinesis record (what the streaming job parses; schema ``event_contract`` ``envelope.json``)
------------------------------------------------------------------------------------------
``{"event": <the client's event, unchanged except integral floats at integer fields>,
"meta": {"received_at": "2025-01-01T12:00:00.123Z", "request_id": "...", "source_app": "...",
"client_ip_hash": "<hex sha256(salt + ip)>"|null, "user_agent": {"browser_family", "browser_version",
"os_family", "os_version", "device_family", "device_brand", "device_model"}|null,
"api_version": "v1", "contract_version": "1.1"}}``. Partition key: ``user_id`` or ``anonymous_id``
or ``session_id``, so one user's events stay ordered on one shard (a retried entry can land a few
milliseconds after a later one; readers order by ``occurred_at``).

Quarantine: rejected events and events still unwritten after retries are stored as JSON Lines at
``<lake.quarantine>/ingest/ingest_date=YYYY-MM-DD/<request_id>.jsonl`` (local file or S3 object;
characters outside ``[A-Za-z0-9._-]`` in the request id become ``_``; lines are ASCII-escaped JSON),
one ``{"request_id", "received_at", "source_app", "index", "stage": "validation"|"stream",
"reason", "event_bytes", "event_sha256", "event"}`` per line: ``event`` is the event as decoded when its
compact ASCII JSON is at most 96 KiB, else ``null`` with ``"event_truncated": true`` and its first
4 KiB as ``event_prefix``; ``event_bytes`` and ``event_sha256`` describe that JSON either way.
Request-level rejections (bad JSON, auth, size) are not events and are only logged.

Configuration (environment): ``INGEST_API_KEYS`` JSON ``{key: app_name}`` (or
``INGEST_API_KEYS_SECRET_ID``, a Secrets Manager secret holding that JSON, read at cold start);
``INGEST_IP_SALT`` (or ``INGEST_IP_SALT_SECRET_ID``). With ``PLATFORM_ENV=local`` and nothing set, the
demo key ``local-demo-key`` maps to app ``demo-web`` and a fixed development salt is used. Stream
name, region, endpoint and the lake root come from :func:`edp.config.get_config`.

Gateways invoking :func:`edp.ingest.handler.lambda_handler` directly should pass the raw body
base64-encoded (``isBase64Encoded: true``) so invalid UTF-8 reaches the handler unchanged.
"""

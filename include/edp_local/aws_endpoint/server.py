"""moto's server, as the local Kinesis and SNS endpoint, with two fixes the local platform needs.

``python -m edp_local.aws_endpoint.server -H 127.0.0.1 -p 4566`` serves the same API as
``moto_server``. We write these few lines by hand because moto's Kinesis shard (5.x) has two
problems that matter here and no option to avoid them:

* ``Shard.put_record`` finds the last sequence number with ``list(self.records.keys())[-1]`` and
  ``Shard.get_records`` scans from the first record: both cost O(records on the shard), so ingest
  and reads slow down as the stream fills (quadratic over a demo run). We keep a sorted key list
  beside moto's dict and use it for O(1) appends and O(log n) reads.
* moto's own comment says ``put_record`` "is not safe for concurrency", and its server is
  threaded: two concurrent PutRecords could take the same sequence number and one record would be
  overwritten, i.e. lost. We serialise requests with one lock (moto is CPU-bound under the GIL,
  so this costs little) so the stream never loses a write.
"""

from __future__ import annotations

import argparse
import bisect
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

_KEYS = "_edp_sorted_keys"


def _sorted_keys(shard: Any) -> list[int]:
    """Sequence numbers of the shard in order, rebuilt if moto changed the records behind our back."""
    keys = shard.__dict__.get(_KEYS)
    if keys is None or len(keys) != len(shard.records):
        keys = sorted(shard.records)
        shard.__dict__[_KEYS] = keys
    return keys


def patch_kinesis_shards() -> None:
    from moto.kinesis import models  # noqa: PLC0415 - patched only when serving

    record_cls = models.Record

    def put_record(self: Any, partition_key: str, data: str, explicit_hash_key: str) -> str:
        keys = _sorted_keys(self)
        sequence_number = (keys[-1] if keys else 0) + 1
        self.records[sequence_number] = record_cls(partition_key, data, sequence_number, explicit_hash_key)
        keys.append(sequence_number)
        return str(sequence_number)

    def get_min_sequence_number(self: Any) -> int:
        keys = _sorted_keys(self)
        return keys[0] if keys else 0

    def get_max_sequence_number(self: Any) -> int:
        keys = _sorted_keys(self)
        return keys[-1] if keys else 0

    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
        keys = _sorted_keys(self)
        last = int(last_sequence_id)
        start = bisect.bisect_right(keys, last)
        chosen = keys[start:] if limit is None else keys[start : start + limit]
        if not chosen:
            return [], last, 0
        results = [self.records[k] for k in chosen]
        newest = self.records[keys[-1]]
        millis_behind_latest = int((newest.created_at - results[-1].created_at) * 1000)
        return results, chosen[-1], millis_behind_latest

    models.Shard.put_record = put_record
    models.Shard.get_min_sequence_number = get_min_sequence_number
    models.Shard.get_max_sequence_number = get_max_sequence_number
    models.Shard.get_records = get_records


class SerializedApp:
    """WSGI middleware running one request at a time through moto's (not thread-safe) backends."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="local_aws_server", description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple  # noqa: PLC0415

    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds some URLs from it
    patch_kinesis_shards()
    from edp_local.aws_endpoint.sns import patch_sns_http_delivery  # noqa: PLC0415

    patch_sns_http_delivery()  # async, retried HTTP delivery: a subscriber that is down loses nothing
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, SerializedApp(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()

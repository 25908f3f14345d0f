"""``python -m edp_local.load_generator --rate 200 --count 10000``: simulated app traffic against the ingest API.

Prints one JSON summary. Endpoint and API key default to the local gateway's port and demo key.
``--forever`` sends until SIGTERM or Ctrl-C instead, printing a one-line JSON progress summary every
``--progress-interval`` seconds (see :mod:`edp_local.load_generator.live`); ``--count`` is then ignored.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edp.config import get_config
from edp_local.gateway.keys import DEMO_API_KEY
from edp_local.load_generator.live import ProgressOptions, run_forever
from edp_local.load_generator.plan import PlanOptions
from edp_local.load_generator.runner import run_load
from edp_local.load_generator.sender import SendOptions


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    config = get_config()
    parser = argparse.ArgumentParser(prog="edp_local.load_generator", description=__doc__)
    parser.add_argument("--endpoint", default=f"http://127.0.0.1:{config.ports.gateway}", help="API base URL")
    parser.add_argument("--api-key", default=DEMO_API_KEY)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second (0 = unthrottled)")
    parser.add_argument("--count", type=int, default=10_000, help="events to generate (retries come on top)")
    parser.add_argument("--batch-size", type=int, default=50, help="events per request (1 = bare event)")
    parser.add_argument("--duplicate-fraction", type=float, default=0.02)
    parser.add_argument("--late-fraction", type=float, default=0.01)
    parser.add_argument("--out-of-order-fraction", type=float, default=0.05)
    parser.add_argument("--invalid-fraction", type=float, default=0.01)
    parser.add_argument("--concurrent-sessions", type=int, default=8)
    parser.add_argument("--max-in-flight", type=int, default=16, help="concurrent requests")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--expected-ids-file", type=Path, help="write the valid unique event ids, one a line")
    parser.add_argument("--forever", action="store_true", help="send until SIGTERM/Ctrl-C (ignores --count)")
    parser.add_argument(
        "--progress-interval", type=float, default=10.0, help="--forever: seconds between progress lines"
    )
    parser.add_argument("--progress-file", type=Path, help="--forever: keep the latest progress object here")
    args = parser.parse_args(argv)
    if not 1 <= args.batch_size <= 500:
        parser.error("--batch-size must be within 1..500 (the API's batch limit)")
    if args.forever and args.expected_ids_file is not None:
        parser.error("--expected-ids-file needs a bounded run: an endless one keeps no ids")
    if args.progress_interval <= 0:
        parser.error("--progress-interval must be > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = PlanOptions(
        count=None if args.forever else args.count,
        duplicate_fraction=args.duplicate_fraction,
        late_fraction=args.late_fraction,
        out_of_order_fraction=args.out_of_order_fraction,
        invalid_fraction=args.invalid_fraction,
        concurrent_sessions=args.concurrent_sessions,
    )
    send = SendOptions(
        endpoint=args.endpoint,
        api_key=args.api_key,
        rate=args.rate,
        batch_size=args.batch_size,
        max_in_flight=args.max_in_flight,
    )
    if args.forever:
        progress = ProgressOptions(interval_s=args.progress_interval, path=args.progress_file)
        run_forever(plan, send, progress, seed=args.seed)
        return 0
    result = run_load(plan, send, seed=args.seed, expected_ids_file=args.expected_ids_file)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if result["failed_requests"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m edp_local.gateway --host 127.0.0.1 --port 8090``: serve the ingest API locally."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from edp.config import get_config
from edp_local.gateway.server import DEFAULT_CONTAINERS, build_app


def main(argv: list[str] | None = None) -> int:
    config = get_config()
    parser = argparse.ArgumentParser(prog="edp_local.gateway", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=config.ports.gateway)
    parser.add_argument("--spec", help="OpenAPI document (default: include/lambda/ingest/openapi.yaml)")
    parser.add_argument("--function-dir", help="Lambda directory holding lambda.toml (default: ingest)")
    parser.add_argument(
        "--containers",
        type=int,
        default=DEFAULT_CONTAINERS,
        help="handler worker processes, each one invocation at a time like a Lambda container "
        "(0 = in the gateway process, one invocation at a time)",
    )
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = build_app(args.spec, args.function_dir, args.containers)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m edp_local.alerting slack-receiver|sns-bridge|redrive``: the local alert path's processes."""

from __future__ import annotations

import argparse
import json
import logging
import urllib.request

import uvicorn

from edp.config import get_config


def _serve(app, host: str, port: int, log_level: str) -> None:
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, server_header=False)


def main(argv: list[str] | None = None) -> int:
    config = get_config()
    parser = argparse.ArgumentParser(prog="edp_local.alerting", description=__doc__)
    parser.add_argument("--log-level", default="info")
    sub = parser.add_subparsers(dest="command", required=True)
    receiver = sub.add_parser("slack-receiver", help="the local Slack incoming-webhook stand-in")
    receiver.add_argument("--host", default="127.0.0.1")
    receiver.add_argument("--port", type=int, default=config.ports.slack)
    bridge = sub.add_parser("sns-bridge", help="SNS HTTP subscription -> the sns_to_slack handler")
    bridge.add_argument("--host", default="127.0.0.1")
    bridge.add_argument("--port", type=int, default=None)
    bridge.add_argument("--tick-s", type=float, default=30.0, help="scheduled invocations (storm summaries)")
    bridge.add_argument("--resubscribe-s", type=float, default=15.0, help="subscription re-check interval")
    bridge.add_argument("--retry-delays", default="1,2", help="async invocation retry delays, seconds")
    redrive = sub.add_parser("redrive", help="replay dead-lettered alerts through a running bridge")
    redrive.add_argument("--bridge-url", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from edp_local.alerting import locations  # noqa: PLC0415

    if args.command == "slack-receiver":
        from edp_local.alerting.slack_receiver import build_app  # noqa: PLC0415

        _serve(build_app(config.state_dir, config.project_root), args.host, args.port, args.log_level)
    elif args.command == "sns-bridge":
        from edp_local.alerting.runtime import build_bridge_app  # noqa: PLC0415 - loads the handler

        port = args.port or locations.bridge_port(config)
        delays = [float(x) for x in args.retry_delays.split(",") if x.strip()]
        app = build_bridge_app(
            config, port=port, retry_delays=delays, tick_s=args.tick_s, resubscribe_s=args.resubscribe_s
        )
        _serve(app, args.host, port, args.log_level)
    else:
        url = (args.bridge_url or locations.bridge_url(config)) + "/_control/redrive"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            print(json.dumps(json.load(response)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

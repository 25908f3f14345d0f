"""Assemble the gateway from the OpenAPI document, the function's ``lambda.toml`` and the key mapping."""

from __future__ import annotations

import json
import os
from pathlib import Path

from starlette.applications import Starlette

from edp.config import get_config
from edp_local.gateway.app import Gateway, create_app
from edp_local.gateway.keys import API_KEYS_ENV, api_key_mapping
from edp_local.gateway.lambda_runtime import FunctionConfig, ingest_function_dir, make_invoker
from edp_local.gateway.spec import load_spec

# Handler worker processes. One: on a 2-core laptop moto (the Kinesis stand-in) needs the other core and
# is the bottleneck (benchmarks/gateway_e2e.py); a second container only competes with it for CPU.
DEFAULT_CONTAINERS = 1


def build_app(
    spec_path: Path | str | None = None,
    function_dir: Path | str | None = None,
    containers: int = DEFAULT_CONTAINERS,
) -> Starlette:
    """The ASGI app; its start-up loads the handler in every container, so import errors surface early."""
    config = get_config()
    api_keys = api_key_mapping()
    # The handler reads the same mapping from its environment, as it does on AWS.
    os.environ[API_KEYS_ENV] = json.dumps(api_keys)
    spec = load_spec(spec_path)
    invoker = make_invoker(
        FunctionConfig.read(function_dir or ingest_function_dir()),
        containers=containers,
        region=config.stream.region,
        account_id=config.aws_account_id,
    )
    gateway = Gateway(spec, invoker, api_keys, account_id=config.aws_account_id)
    return create_app(gateway)

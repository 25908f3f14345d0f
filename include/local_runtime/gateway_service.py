"""The local API gateway: the ingest API's OpenAPI document served in front of the real handler."""

from __future__ import annotations

import sys

from local_gateway.keys import DEMO_API_KEY
from local_runtime.environment import venv_bin
from local_runtime.services import HttpHealthCheck, ServiceSpec
from platform_config import PlatformConfig


def gateway_url(config: PlatformConfig) -> str:
    return f"http://127.0.0.1:{config.ports.gateway}"


def gateway_service(config: PlatformConfig) -> ServiceSpec:
    url = gateway_url(config)
    python = venv_bin(config, "python")
    return ServiceSpec(
        name="gateway",
        command=(
            python if python != "python" else sys.executable,
            "-m",
            "local_gateway",
            "--host",
            "127.0.0.1",
            "--port",
            str(config.ports.gateway),
        ),
        port=config.ports.gateway,
        url=url,
        health=HttpHealthCheck(f"{url}/v1/health", predicate=lambda body: body.get("status") == "ok"),
        info={"api_key": DEMO_API_KEY, "events_endpoint": f"{url}/v1/events"},
        start_timeout_s=60.0,
    )

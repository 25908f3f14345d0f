"""The local API gateway: the ingest API's OpenAPI document served in front of the real handler."""

from __future__ import annotations

import sys

from edp.config import PlatformConfig
from edp_local.gateway.keys import DEMO_API_KEY
from edp_local.runtime.environment import venv_bin
from edp_local.runtime.services import HttpHealthCheck, ServiceSpec


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
            "edp_local.gateway",
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

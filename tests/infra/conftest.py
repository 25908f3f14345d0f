"""Synthesize the CDK app once per session (jsii starts Node: tens of seconds), offline.

The Lambda zips come from ``tools/build_lambda.py`` (from the uv cache; ``make synth`` builds them the
same way) into a session directory, so the tests never depend on a stale ``build/``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# jsii refuses to stay quiet on Node 20 (end of life) unless told which major version to accept.
JSII_QUIET = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "20",
}


@dataclasses.dataclass
class Synthesized:
    app: Any
    stacks: dict[str, Any]
    settings: Any
    outdir: Path

    def template_path(self, concern: str) -> Path:
        return self.outdir / f"{self.stacks[concern].stack_name}.template.json"

    def template_json(self, concern: str) -> dict[str, Any]:
        return json.loads(self.template_path(concern).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def lambda_zips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tools.build_lambda import build

    out = tmp_path_factory.mktemp("lambda")
    build(None, source_root=ROOT, out_dir=out)
    return out


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, lambda_zips: Path) -> Iterator[Synthesized]:
    for key, value in JSII_QUIET.items():
        os.environ.setdefault(key, value)
    from edp_infra.app import build_app, new_app
    from edp_infra.settings import InfraSettings

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir=str(outdir))
    settings = dataclasses.replace(InfraSettings.from_context({}), lambda_dir=lambda_zips)
    stacks = build_app(app, settings)
    app.synth()
    yield Synthesized(app=app, stacks=stacks, settings=settings, outdir=outdir)


@pytest.fixture(scope="session")
def templates(synthesized: Synthesized) -> dict[str, Any]:
    from aws_cdk.assertions import Template

    return {concern: Template.from_stack(stack) for concern, stack in synthesized.stacks.items()}

"""Test-session wiring shared by every tier.

Under ``pytest -n 2 --dist loadgroup`` (what ``make test`` runs), each test file is one xdist group, so
its module- and session-scoped fixtures (a Spark session, a DAG run, a synthesized CDK app) are built
on one worker only. The end-to-end files are one group: they share one running platform.

In a distributed run the longest groups are queued first (the shared platform, then the other tiers
that start services), and the many short unit files fill the gaps at the end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SHARED_PLATFORM_GROUP = "e2e-platform"
QUEUE_ORDER = ("e2e", "integration", "infra", "parity")  # then everything else, in collection order


def _tier(item: pytest.Item) -> str:
    return Path(str(item.path)).resolve().relative_to(TESTS).parts[0]


def _group(item: pytest.Item) -> str:
    if _tier(item) == "e2e":
        return SHARED_PLATFORM_GROUP
    return Path(str(item.path)).resolve().relative_to(TESTS).as_posix()


def _distributed(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput") or config.getoption("dist", "no") != "no"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    if _distributed(config):
        rank = {tier: i for i, tier in enumerate(QUEUE_ORDER)}
        items.sort(key=lambda item: rank.get(_tier(item), len(rank)))  # stable: files keep their order

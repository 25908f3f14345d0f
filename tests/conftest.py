"""Test-session wiring shared by every tier.

``make test`` runs ``pytest -n 2`` with :class:`FileScheduling`: each test file goes to one worker, so
its module- and session-scoped fixtures (a Spark session, a DAG run, a synthesized CDK app) are built
once; the end-to-end files go to one worker together, because they share one running platform.

In a distributed run the longest work is queued first (the shared platform, then the other tiers that
start services or Spark), and the many short unit files fill the gaps at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# An xdist worker's __main__ (execnet's) has neither __spec__ nor __file__, which pyspark.sql.connect
# takes for a doctest run and answers with sys.exit(0) on import; Great Expectations imports it.
# None, not a made-up path: multiprocessing's spawn re-runs a main module's __file__ in each child.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = None

TESTS = Path(__file__).resolve().parent
SHARED_PLATFORM_DIR = "tests/e2e/"
QUEUE_ORDER = ("e2e", "integration", "infra", "parity")  # then everything else, in collection order


def _tier(item: pytest.Item) -> str:
    return Path(str(item.path)).resolve().relative_to(TESTS).parts[0]


def _distributed(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput") or config.getoption("numprocesses", None) not in (None, 0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _distributed(config):
        rank = {tier: i for i, tier in enumerate(QUEUE_ORDER)}
        items.sort(key=lambda item: rank.get(_tier(item), len(rank)))  # stable: files keep their order


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    # xdist's own loadgroup would do, but its xdist_group marks are ignored under pytest 9 (xdist 3.8).
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        """One scope per test file, and one for every end-to-end file together."""

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return SHARED_PLATFORM_DIR if path.startswith(SHARED_PLATFORM_DIR) else path

    return FileScheduling(config, log)

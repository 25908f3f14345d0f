"""The Great Expectations file data context under ``great_expectations/``, opened for this platform.

The committed ``great_expectations.yml`` keeps run-time output out of the repository: validation
results and the Data Docs site live in the state dir, named by config variables this module sets before
GX reads the file:

| variable | local | aws |
| --- | --- | --- |
| ``EDP_GX_VALIDATIONS_DIR`` | ``<state dir>/quality/validations`` | same path on the worker (the records below are the durable copy) |
| ``EDP_GX_DATA_DOCS_DIR`` | ``<state dir>/quality/data_docs`` (a static site; open ``index.html``) | same, then published to ``s3://<artifacts>/quality/data_docs/`` |

GX's usage statistics are switched off (``analytics_enabled: false`` and ``GX_ANALYTICS_ENABLED``):
the platform never calls out to the internet.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from edp.config import PlatformConfig

GX_DIR_NAME = "great_expectations"
DATASOURCE = "lake_frames"
BATCH_DEFINITION = "interval"
LOCAL_SITE = "local_site"
VALIDATIONS_VAR = "EDP_GX_VALIDATIONS_DIR"
DATA_DOCS_VAR = "EDP_GX_DATA_DOCS_DIR"
DATA_DOCS_PREFIX = "quality/data_docs"


def gx_dir(config: PlatformConfig) -> Path:
    return config.project_root / GX_DIR_NAME


def quality_state_dir(config: PlatformConfig) -> Path:
    return config.state_dir / "quality"


def validations_dir(config: PlatformConfig) -> Path:
    return quality_state_dir(config) / "validations"


def data_docs_dir(config: PlatformConfig) -> Path:
    return quality_state_dir(config) / "data_docs"


def published_data_docs(config: PlatformConfig) -> str:
    """Where the Data Docs site is published in the environment's artifacts storage."""
    from edp.resources import resources  # noqa: PLC0415 - the mapping builds its storage lazily

    return resources(config).artifacts.uri(DATA_DOCS_PREFIX)


def data_docs_index(config: PlatformConfig) -> str:
    """Where people open the Data Docs: a file URL locally, the S3 location of the published site on AWS."""
    from edp.resources import resources  # noqa: PLC0415

    return resources(config).artifacts.url(f"{published_data_docs(config)}/index.html")


def context_variables(validations: Path, data_docs: Path) -> dict[str, str]:
    return {VALIDATIONS_VAR: str(validations), DATA_DOCS_VAR: str(data_docs), "GX_ANALYTICS_ENABLED": "false"}


def open_context(
    config: PlatformConfig,
    *,
    root: Path | None = None,
    validations: Path | None = None,
    data_docs: Path | None = None,
) -> Any:
    """The file data context at ``root`` (default ``great_expectations/``), writing into the state dir."""
    variables = context_variables(validations or validations_dir(config), data_docs or data_docs_dir(config))
    os.environ.update(variables)  # GX resolves ${VAR} in great_expectations.yml from the environment
    # GX logs every metric at INFO; task logs should show the gate's summary, not GX internals
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx  # noqa: PLC0415 - several seconds to import: task time only

    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # again: the import resets it
    return gx.get_context(mode="file", context_root_dir=str(root or gx_dir(config)))

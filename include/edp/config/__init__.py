"""One typed configuration for every layer: environment switch, connection ids, resource names.

DAGs, Spark jobs, the Lambda handlers and the local runtime all read resource names from here,
so the difference between ``local`` and ``aws`` is visible in one place.
"""

from edp.config.settings import (
    AthenaConfig,
    ConnectionIds,
    DatabricksConfig,
    Environment,
    GlueConfig,
    LakeConfig,
    LocalPorts,
    LocalRunConfig,
    PlatformConfig,
    QuickSightConfig,
    RedshiftConfig,
    SnsConfig,
    StreamConfig,
    get_config,
    get_env,
)

__all__ = [
    "AthenaConfig",
    "ConnectionIds",
    "DatabricksConfig",
    "Environment",
    "GlueConfig",
    "LakeConfig",
    "LocalPorts",
    "LocalRunConfig",
    "PlatformConfig",
    "QuickSightConfig",
    "RedshiftConfig",
    "SnsConfig",
    "StreamConfig",
    "get_config",
    "get_env",
]

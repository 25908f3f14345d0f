"""Kinesis as a Structured Streaming source on open-source Spark (``format("kinesis_local")``).

Typical use::

    from edp.stream.kinesis_source import register

    register(spark)
    events = (
        spark.readStream.format("kinesis_local")
        .option("streamName", cfg.stream.name)
        .option("region", cfg.stream.region)
        .option("endpointUrl", cfg.stream.endpoint_url)
        .load()
    )

See :mod:`edp.stream.kinesis_source.source` for the design, :mod:`edp.stream.kinesis_source.offsets` for the offset
format and :mod:`edp.stream.kinesis_source.metrics` for the ``metricsPath`` document.
"""

from edp.stream.kinesis_source.offsets import KinesisOffset
from edp.stream.kinesis_source.options import InitialPosition, KinesisSourceOptions
from edp.stream.kinesis_source.source import (
    FORMAT_NAME,
    SCHEMA,
    KinesisDataSource,
    KinesisStreamReader,
    register,
)

__all__ = [
    "FORMAT_NAME",
    "SCHEMA",
    "InitialPosition",
    "KinesisDataSource",
    "KinesisOffset",
    "KinesisSourceOptions",
    "KinesisStreamReader",
    "register",
]

"""Developer and release tooling that is not part of the Airflow image (e.g. the Lambda zip builder)."""

"""One stack per concern: lake, stream, secrets, alerts, ingest, warehouse, access (see ``app.py``)."""

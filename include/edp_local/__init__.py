"""The local stand-ins: what runs on a laptop in place of AWS and Databricks. Never in the production image."""

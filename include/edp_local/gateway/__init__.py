"""Local stand-in for the API Gateway REST API in front of the ingest Lambda.

Everything it enforces (routes, API key header, usage-plan throttle, content type, body limit) is read
from the same OpenAPI document that deploys the real API (``include/lambda/ingest/openapi.yaml``), and
each request is handed to the very handler the Lambda runtime would call, as a REST v1 proxy event.
"""

"""The local gateway as an ASGI application (Starlette): API Gateway's checks, then the real handler.

Order of checks, as API Gateway applies them to a key-protected method: route, API key (401 missing,
403 unknown), usage-plan throttle per key (429 + Retry-After), body size (413), media type (415). Only
then is the request turned into a REST proxy event and handed to the handler.

The handler is synchronous and mostly CPU-bound (JSON parsing and schema validation), with one
blocking PutRecords call. It never runs on the event loop: an :class:`~edp_local.gateway.lambda_runtime.Invoker`
runs it in worker processes ("containers", one invocation each at a time, as Lambda does) or on a
worker thread, so the loop keeps accepting connections and answering cheap requests (health,
401/403/429) while batches are processed.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from edp_local.gateway.lambda_runtime import Invoker
from edp_local.gateway.proxy_event import IncomingRequest, rest_proxy_event
from edp_local.gateway.spec import GatewaySpec, Route
from edp_local.gateway.throttle import KeyedThrottle

log = logging.getLogger("edp_local.gateway")


class _TooLarge(Exception):
    pass


class Gateway:
    """Request pipeline; kept apart from Starlette so its parts can be tested directly."""

    def __init__(
        self,
        spec: GatewaySpec,
        invoker: Invoker | None,
        api_keys: Mapping[str, str],
        *,
        account_id: str = "000000000000",
        throttle: KeyedThrottle | None = None,
    ) -> None:
        self.spec = spec
        self.invoker = invoker
        self.api_keys = dict(api_keys)
        self.account_id = account_id
        self.throttle = throttle or KeyedThrottle(spec.throttle_rate, spec.throttle_burst)

    # ---- gateway responses ---------------------------------------------------------------------
    def gateway_error(
        self, response_type: str, request_id: str, request: Request, message: str, **extra_headers: str
    ) -> Response:
        spec_response = self.spec.response(response_type)
        body, headers = spec_response.render(request_id, message, request.headers)
        headers.update(extra_headers)
        headers["x-amzn-RequestId"] = request_id
        headers["x-amzn-ErrorType"] = response_type
        return Response(
            body, status_code=spec_response.status, headers=headers, media_type="application/json"
        )

    # ---- the pipeline --------------------------------------------------------------------------
    async def __call__(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        route = self.spec.route(request.method, request.url.path)
        if route is None:
            return self.gateway_error("MISSING_AUTHENTICATION_TOKEN", request_id, request, "Not Found")
        if route.integration_type == "mock":
            body, headers = route.mock_response(request_id)
            return Response(
                body,
                status_code=route.mock_status,
                media_type="application/json",
                headers={**headers, "x-amzn-RequestId": request_id},
            )
        api_key = request.headers.get(self.spec.api_key_header)
        rejection = self._admission(route, request, request_id, api_key)
        if rejection is not None:
            return rejection
        try:
            body = await self._read_body(request)
        except _TooLarge:
            return self.gateway_error("REQUEST_TOO_LARGE", request_id, request, "Request Too Long")
        return await self._invoke(route, request, request_id, api_key, body)

    def _admission(
        self, route: Route, request: Request, request_id: str, api_key: str | None
    ) -> Response | None:
        """Every check that needs only the headers: key, throttle, declared size, media type."""
        if route.api_key_required:
            if not api_key:
                return self.gateway_error("BAD_REQUEST_PARAMETERS", request_id, request, "Missing API key")
            if api_key not in self.api_keys:
                return self.gateway_error("INVALID_API_KEY", request_id, request, "Forbidden")
            decision = self.throttle.check(api_key)
            if not decision.allowed:
                return self.gateway_error(
                    "THROTTLED",
                    request_id,
                    request,
                    "Too Many Requests",
                    **{"Retry-After": str(decision.retry_after_s)},
                )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.spec.max_body_bytes:
            return self.gateway_error("REQUEST_TOO_LARGE", request_id, request, "Request Too Long")
        if route.media_types:
            media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media_type not in route.media_types:
                return self.gateway_error(
                    "UNSUPPORTED_MEDIA_TYPE", request_id, request, "Unsupported Media Type"
                )
        return None

    async def _read_body(self, request: Request) -> bytes:
        """The body, stopping as soon as it passes the limit (chunked bodies declare no length)."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.spec.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def _invoke(
        self, route: Route, request: Request, request_id: str, api_key: str | None, body: bytes
    ) -> Response:
        if self.invoker is None:
            return self.gateway_error("DEFAULT_5XX", request_id, request, "Internal server error")
        client = request.client
        incoming = IncomingRequest(
            method=request.method,
            path=request.url.path,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            query=list(request.query_params.multi_items()),
            body=body,
            source_ip=client.host if client else "127.0.0.1",
            host=request.headers.get("host", "127.0.0.1"),
            protocol=f"HTTP/{request.scope.get('http_version', '1.1')}",
        )
        event = rest_proxy_event(
            incoming,
            resource=route.path,
            request_id=request_id,
            api_key=api_key,
            account_id=self.account_id,
        )
        result: Any = None
        with anyio.move_on_after(route.timeout_s) as scope:
            try:
                result = await self.invoker.invoke(event)
            except Exception:  # the handler crashed: API Gateway answers 502 and logs it
                log.exception("handler raised for request %s", request_id)
                return self.gateway_error("DEFAULT_5XX", request_id, request, "Internal server error")
        if scope.cancelled_caught:
            return self.gateway_error(
                "INTEGRATION_TIMEOUT", request_id, request, "Endpoint request timed out"
            )
        return self._proxy_response(result, request, request_id)

    def _proxy_response(self, result: Any, request: Request, request_id: str) -> Response:
        """Turn the handler's ``{statusCode, headers, body}`` into the HTTP response, as API Gateway does."""
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            log.error("malformed Lambda proxy response for request %s: %r", request_id, result)
            return self.gateway_error("DEFAULT_5XX", request_id, request, "Internal server error")
        body = result.get("body") or ""
        content = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers: list[tuple[bytes, bytes]] = []
        for name, value in (result.get("headers") or {}).items():
            headers.append((name.lower().encode(), str(value).encode()))
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((name.lower().encode(), str(value).encode()) for value in values)
        headers.append((b"x-amzn-requestid", request_id.encode()))
        response = Response(content, status_code=result["statusCode"])
        response.raw_headers = [h for h in response.raw_headers if h[0] == b"content-length"] + headers
        return response


class _Endpoint:
    """Every method of every path goes to the gateway, which answers 404/405 from the spec.

    An ASGI class rather than a function endpoint: Starlette limits function routes to listed
    methods and answers the rest (TRACE, CONNECT, ...) itself, in plain text.
    """

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        response = await self.gateway(Request(scope, receive))
        await response(scope, receive, send)


def create_app(gateway: Gateway) -> Starlette:

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if gateway.invoker is not None:
            await gateway.invoker.start()
        try:
            yield
        finally:
            if gateway.invoker is not None:
                gateway.invoker.close()

    app = Starlette(routes=[StarletteRoute("/{path:path}", _Endpoint(gateway))], lifespan=lifespan)
    app.state.gateway = gateway
    return app

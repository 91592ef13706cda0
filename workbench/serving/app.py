"""The scoring contract as one ASGI app, shared by Ray Serve replicas and packaged images.

Routes (relative to the deployment's prefix): POST /invocations, GET /ping, /health,
/version, /metadata. Anything a client sends wrong is a 4xx with a JSON message; the
model's own failures are the only 500s.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from workbench.core.deployments import RequestRecord
from workbench.core.errors import first_line
from workbench.core.version import __version__
from workbench.serving.errors import (
    BadRequest,
    PayloadTooLarge,
    RequestTimeout,
    ScoringError,
    Unauthorized,
)
from workbench.serving.hosts import LOOPBACK_HOSTS, HostCheck
from workbench.serving.payload import parse_body
from workbench.serving.signature import Columns, InputSchema

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# Takes a served request's record and, while it runs, the shadow version's prediction.
RequestSink = Callable[[RequestRecord, "asyncio.Future[Any] | None"], None]


@dataclass(frozen=True)
class Scored:
    """Predictions and the model version that made them (plus a shadow's, still running)."""

    predictions: list[Any]
    version: int
    shadow: asyncio.Future[Any] | None = None


class Scorer(Protocol):
    """What the app scores with: a local model, or a Serve replica's batched router."""

    @property
    def schema(self) -> InputSchema:
        """The inputs requests are validated against."""
        ...

    def metadata(self) -> dict[str, Any]: ...

    def healthy(self) -> bool: ...

    async def score(self, columns: Columns) -> Scored: ...


@dataclass(frozen=True)
class AppOptions:
    """Limits and policies of one endpoint."""

    token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    timeout_s: float = 30.0
    on_request: RequestSink | None = None
    sample_rate: float = 1.0
    allowed_hosts: tuple[str, ...] | None = LOOPBACK_HOSTS


def make_app(scorer: Scorer, options: AppOptions) -> Starlette:
    """The ASGI app for `scorer` under `options`."""
    expected = f"Bearer {options.token}".encode() if options.token else None

    def authorize(request: Request) -> None:
        if expected is None:
            return
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise Unauthorized("missing or wrong bearer token; send 'Authorization: Bearer TOKEN'")

    async def invocations(request: Request) -> Response:
        started = time.perf_counter()
        request_id = client_request_id(request.headers.get("x-request-id"))
        answer = _Answer(options, started, request_id)
        columns: Columns | None = None
        try:
            authorize(request)
            body = await _read_body(request, options.max_body_bytes)
            parsed = parse_body(body, request.headers.get("content-type", ""), scorer.schema.names)
            columns = scorer.schema.validate(parsed)
            try:
                scored = await asyncio.wait_for(scorer.score(columns), options.timeout_s)
            except TimeoutError:
                raise RequestTimeout(f"no prediction within {options.timeout_s:g} s") from None
        except ScoringError as error:
            answer.record(error.status, None, columns, {"error": error.message})
            return JSONResponse(error.body(), error.status, headers=answer.headers)
        except Exception as error:  # the model failed, not the client: the one 500
            message = first_line(error)[:500]
            version = getattr(error, "version", None)  # ModelFailed knows which version
            answer.record(500, version, columns, {"error": message})
            failure = {"error_code": "INTERNAL_ERROR", "message": message}
            return JSONResponse(failure, 500, headers=answer.headers)
        answer.record(200, scored.version, columns, scored.predictions, scored.shadow)
        headers = {**answer.headers, "x-workbench-model-version": str(scored.version)}
        return JSONResponse({"predictions": scored.predictions}, headers=headers)

    async def ping(request: Request) -> Response:
        if scorer.healthy():
            return PlainTextResponse("\n")
        return JSONResponse({"error_code": "UNHEALTHY", "message": "model not ready"}, 503)

    async def version(request: Request) -> Response:
        meta = scorer.metadata()
        return PlainTextResponse(f"workbench {__version__}; {meta['name']}:{meta['version']}")

    async def metadata(request: Request) -> Response:
        try:
            authorize(request)
        except ScoringError as error:
            return JSONResponse(error.body(), status_code=error.status)
        return JSONResponse(scorer.metadata())

    routes = [
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/metadata", metadata, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={404: _not_found, 405: _not_allowed},
        middleware=[Middleware(HostCheck, allowed=options.allowed_hosts)],
    )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(f"body of {int(declared)} bytes is over the {limit}-byte limit")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"body is over the {limit}-byte limit")
            chunks.append(chunk)
    except ClientDisconnect:
        raise BadRequest("the client disconnected before sending the whole body") from None
    return b"".join(chunks)


def client_request_id(given: str | None) -> str:
    """The client's `x-request-id` if it is a safe id (1-64 of [A-Za-z0-9_.:-]), else a new one."""
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


@dataclass(frozen=True)
class _Answer:
    """One request's id and clock: its response headers, and its record for the sink."""

    options: AppOptions
    started: float
    request_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"x-request-id": self.request_id}

    def record(
        self,
        status: int,
        version: int | None,
        columns: Columns | None,
        outputs: Any,
        shadow: asyncio.Future[Any] | None = None,
    ) -> None:
        """Hand the request to the sink (sampling, batching and storage are the sink's job).

        An answered request keeps its columns and predictions by reference: the sink turns
        them into `request_rows` off the request path.
        """
        options = self.options
        if options.on_request is None or random.random() >= options.sample_rate:
            return
        inputs = {k: v.tolist() for k, v in columns.items()} if columns is not None else None
        answered = status == 200
        record = RequestRecord(
            request_id=self.request_id,
            ts=datetime.now(UTC).replace(tzinfo=None),
            model_version=version,
            status_code=status,
            latency_ms=(time.perf_counter() - self.started) * 1000.0,
            inputs=json.dumps(inputs),
            outputs=json.dumps(outputs),
            columns=columns if answered else None,
            predictions=outputs if answered else None,
        )
        options.on_request(record, shadow)


async def _not_found(request: Request, exc: Exception) -> Response:
    body = {"error_code": "ENDPOINT_NOT_FOUND", "message": f"no route {request.url.path}; "
            "routes: /invocations, /ping, /health, /version, /metadata"}  # fmt: skip
    return JSONResponse(body, status_code=404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    body = {"error_code": "METHOD_NOT_ALLOWED",
            "message": f"{request.method} is not allowed on {request.url.path}"}  # fmt: skip
    return JSONResponse(body, status_code=405)

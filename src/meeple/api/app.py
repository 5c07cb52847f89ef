"""The api tier's ASGI application: :func:`create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.responses import Response

from meeple import __version__
from meeple.api.context import ApiContext
from meeple.api.middleware import BodyLimit, RateLimit, RequestLog
from meeple.api.problems import ApiError, Problem, from_error, problem_doc, problem_response
from meeple.api.query import reject_unknown_query
from meeple.api.routes import auth, games, health, me, operator, players, wallet
from meeple.auth.errors import AuthError, LoginThrottled
from meeple.obs import metrics
from meeple.settings import Settings
from meeple.store.database import Store

log = logging.getLogger(__name__)

HEALTH_PATHS = ("/healthz", "/readyz")

# The HTTP status of each auth error; anything unlisted is a 400.
AUTH_STATUS: dict[str, int] = {
    "invalid_token": 401,
    "token_expired": 401,
    "invalid_credentials": 401,
    "invalid_refresh_token": 401,
    "refresh_token_expired": 401,
    "refresh_token_reused": 401,
    "session_revoked": 401,
    "invalid_username": 422,
    "weak_password": 422,
    "username_taken": 409,
    "player_not_found": 404,
    "too_many_attempts": 429,
}

HTTP_CODES: dict[int, str] = {
    400: "malformed_body",  # FastAPI's only own 400: a body it cannot even parse
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The api application. Without ``store``, the lifespan opens (and migrates) the
    configured one and closes it on shutdown; a given store is left open."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        the_store = store or await Store.open(settings.effective_database_url)
        try:
            app.state.ctx = ApiContext.build(settings, the_store)
            log.info("api ready", extra={"store": the_store.dialect})
            yield
        finally:
            if own:
                await the_store.close()

    app = FastAPI(
        title="meeple api",
        version=__version__,
        description="Accounts, sessions, profiles, game history and wallets. "
        "Errors are RFC 9457 problem objects with a stable `code`.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
    )
    for module in (health, auth, me, players, games, wallet, operator):
        app.include_router(module.router)
    _install_error_handlers(app)
    # Added innermost first: RequestLog ends up outermost.
    app.add_middleware(BodyLimit)
    app.add_middleware(
        RateLimit,
        rate=settings.api_rate_limit_per_s,
        burst=settings.api_rate_limit_burst,
        exempt=(*HEALTH_PATHS, "/metrics"),
    )
    app.add_middleware(RequestLog, untraced=(*HEALTH_PATHS, "/metrics"))
    app.add_route("/metrics", metrics.endpoint, include_in_schema=False)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return from_error(exc)

    async def on_auth_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthError)
        status = AUTH_STATUS.get(exc.code, 400)
        headers: dict[str, str] = {}
        if isinstance(exc, LoginThrottled):
            headers["Retry-After"] = str(exc.retry_after)
        elif status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return problem_response(status, exc.code, exc.message, headers=headers)

    async def on_http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            detail = "no such resource"
        elif exc.status_code == 400:
            detail = "the request body could not be parsed"
        return problem_response(exc.status_code, code, detail, headers=exc.headers)

    async def on_validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        # Never echo the input back: it may be a password.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem_response(
            422,
            "validation_error",
            "the request does not match the schema",
            extra={"errors": errors},
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(AuthError, on_auth_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error response described as a problem."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema()
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = problem_doc(422)
            responses.setdefault("400", problem_doc(400))  # unknown_parameter, bad JSON
            if method in ("post", "put", "patch"):
                responses.setdefault("413", problem_doc(413))
            if path not in HEALTH_PATHS:
                responses.setdefault("429", problem_doc(429))
            responses.setdefault("500", problem_doc(500))
    app.openapi_schema = schema
    return schema

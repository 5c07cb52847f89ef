"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the api returns, including FastAPI's validation errors, Starlette's
404/405 and unexpected failures, is a problem object with ``type``, ``title``,
``status``, ``detail`` and a stable machine-readable ``code`` (docs/api.md lists
them). ``type`` is ``urn:meeple:problem:<code>``: a URI that names the problem
without pretending to be a web page.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem object with meeple's ``code`` extension."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI of the problem type: urn:meeple:problem:<code>.")
    title: str = Field(description="Short summary of the problem type (the HTTP reason).")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, for a human.")
    code: str = Field(description="Stable machine-readable error code.")


class ApiError(Exception):
    """Raised by route code to answer with a problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_body(
    status: int, code: str, detail: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON object of a problem."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": f"urn:meeple:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra or {})
    return body


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """A complete ``application/problem+json`` response."""
    return Response(
        orjson.dumps(problem_body(status, code, detail, extra)),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_JSON,
    )


def from_error(error: ApiError) -> Response:
    """The response for an :class:`ApiError`."""
    return problem_response(
        error.status, error.code, error.detail, headers=error.headers, extra=error.extra
    )


def openapi_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: these error statuses, documented as problems."""
    return {status: problem_doc(status) for status in statuses}


def problem_doc(status: int) -> dict[str, Any]:
    """The OpenAPI response object of an error status."""
    try:
        description = HTTPStatus(status).phrase
    except ValueError:
        description = "Error"
    doc: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status == 429:
        doc["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "required": True,
                "schema": {"type": "integer"},
            }
        }
    return doc

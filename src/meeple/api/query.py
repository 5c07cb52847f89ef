"""Unknown query parameters are refused, not ignored.

FastAPI drops query parameters an operation does not declare, so a typo
(``?limt=10``) silently gets the default. The api answers 400 ``unknown_parameter``
instead, naming them; the allowed names come from the matched route's own
declaration (its dependencies included), computed once per route.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from meeple.api.problems import ApiError

_allowed: dict[int, frozenset[str]] = {}


def _names(route: APIRoute) -> frozenset[str]:
    names = _allowed.get(id(route))
    if names is None:
        names = _allowed[id(route)] = frozenset(_query_names(route.dependant))
    return names


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def reject_unknown_query(request: Request) -> None:
    """App-wide dependency: 400 ``unknown_parameter`` for an undeclared query key."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    allowed = _names(route)
    unknown = sorted({key for key in request.query_params if key not in allowed})
    if unknown:
        shown = ", ".join(repr(key[:40]) for key in unknown[:5])
        expected = ", ".join(sorted(allowed)) or "none"
        raise ApiError(
            400, "unknown_parameter", f"unknown query parameter {shown}; expected: {expected}"
        )

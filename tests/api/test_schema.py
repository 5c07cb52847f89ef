"""Property-based: schemathesis against the running server's own OpenAPI document.

Every operation, authenticated with real tokens, must answer without a 5xx and with a
status, content type, headers and body that its document declares.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Account, ApiServer, login, make_operator, register, start_server

EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server of its own: generated logins must not throttle the other tests."""
    server = start_server(
        tmp_path_factory.mktemp("fuzzed"),
        {"MEEPLE_LOGIN_MAX_FAILURES": "1000", "MEEPLE_API_RATE_LIMIT_PER_S": "0"},
    )
    try:
        yield server
    finally:
        assert server.stop() == 0, server.logs()


@pytest.fixture(scope="module")
def tokens(fuzzed: ApiServer) -> dict[str, Account]:
    """A player (with some money moved) and an operator."""
    make_operator(fuzzed, "fuzz_operator")
    with fuzzed.client() as client:
        player = register(client, "fuzz_player")
        boss = login(client, "fuzz_operator")
        response = client.post(
            "/api/v1/operator/players/fuzz_player/deposit",
            json={"amount": 1000},
            headers={**boss.auth, "idempotency-key": "seed"},
        )
        assert response.status_code == 201
    return {"player": player, "operator": boss}


def _headers(path: str, tokens: dict[str, Account]) -> dict[str, str]:
    if path.startswith("/api/v1/operator/"):
        return tokens["operator"].auth
    if path == "/api/v1/auth/logout":  # a logout would end the shared session
        return {}
    return tokens["player"].auth


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms(
    fuzzed: ApiServer, tokens: dict[str, Account], mode: GenerationMode
) -> None:
    # Driven by hand rather than with schema.parametrize(): schemathesis' pytest
    # integration does not run under pytest 9 (it reads the removed Node._nodeid).
    schema = schemathesis.openapi.from_url(f"{fuzzed.base_url}/api/openapi.json")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=fuzzed.base_url, headers=_headers(case.path, tokens), checks=CHECKS
            )

        try:
            run()
        except Unsatisfiable:
            # Nothing to make invalid in an operation without parameters or body.
            if mode is GenerationMode.POSITIVE:
                raise
        except Exception as exc:  # collect all operations' failures, then report them
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:3000]
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())

"""Property-based: schemathesis against the running server's own OpenAPI document.

Every operation, authenticated with real tokens, must answer without a 5xx and with a
status, content type, headers and body that its document declares.
"""

from __future__ import annotations

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

from tests.api.conftest import (
    Account,
    ApiServer,
    login,
    make_operator,
    register,
    unique_address,
    unique_name,
)

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
def tokens(api: ApiServer) -> dict[str, Account]:
    """A player (with some money moved) and an operator."""
    operator_name, player_name = unique_name("fuzz_op"), unique_name("fuzz")
    make_operator(api, operator_name)
    with api.client() as client:
        player = register(client, player_name)
        boss = login(client, operator_name)
        response = client.post(
            f"/api/v1/operator/players/{player_name}/deposit",
            json={"amount": 1000},
            headers={**boss.auth, "idempotency-key": "seed"},
        )
        assert response.status_code == 201
    return {"player": player, "operator": boss}


def _headers(path: str, tokens: dict[str, Account], address: str) -> dict[str, str]:
    # An address of its own: generated failed logins must not throttle other tests.
    headers = {"x-forwarded-for": address}
    if path.startswith("/api/v1/operator/"):
        return {**headers, **tokens["operator"].auth}
    if path == "/api/v1/auth/logout":  # a logout would end the session the others use
        return headers
    return {**headers, **tokens["player"].auth}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms(
    api: ApiServer, tokens: dict[str, Account], mode: GenerationMode
) -> None:
    # Driven by hand rather than with schema.parametrize(): schemathesis' pytest
    # integration does not run under pytest 9 (it reads the removed Node._nodeid).
    schema = schemathesis.openapi.from_url(f"{api.base_url}/api/openapi.json")
    failures: dict[str, str] = {}
    address = unique_address()
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
                base_url=api.base_url,
                headers=_headers(case.path, tokens, address),
                checks=CHECKS,
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

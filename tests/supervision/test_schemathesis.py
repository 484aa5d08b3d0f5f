"""Property-based fuzzing of the deposit API from its own OpenAPI schema: never a 5xx.

Schemathesis generates requests for every operation (valid and invalid); the check is that
the server answers each with something other than a server error.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error


def test_no_generated_request_makes_the_server_fail(server, lenders) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case) -> None:
            case.call_and_validate(checks=[not_a_server_error], timeout=30)

        fuzz()

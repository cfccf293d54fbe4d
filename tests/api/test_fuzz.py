"""Schema-driven fuzzing of every operation in every service's OpenAPI (schemathesis), on throwaway
instances started from environment variables (tests/api/conftest.py).

Each operation gets requests that fit its schema and requests that do not, from a role the authorisation
matrix allows on it (the instances and their data exist for the run only, so destructive operations are
fuzzed too), half of them naming the objects seeded for the run. Every answer must be no 5xx, a status the
OpenAPI documents, with a documented content type, body and headers; an accepted re-score must also end
`done`. Bounded and reproducible: `EXAMPLES` per operation, derandomized, no example database. To dig
deeper locally: `CALLQA_FUZZ_EXAMPLES=200` and/or `CALLQA_FUZZ_SEED=<n>` (a random run of its own).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import load_all_checks, not_a_server_error

from callqa.auth import Role
from tests.api.helpers import Instance, key_headers
from tests.authz_matrix import PUBLIC, SERVICES

load_all_checks()
from schemathesis.specs.openapi.checks import (  # noqa: E402 - registered by load_all_checks()
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.timeout(300)

EXAMPLES = int(os.environ.get("CALLQA_FUZZ_EXAMPLES", "20"))
SEED = os.environ.get("CALLQA_FUZZ_SEED")
# Not positive_data_acceptance: the services refuse schema-valid but meaningless input with 422 on purpose
# (a scorecard document is checked by the scorer, metadata is a JSON string in a form field, text may not
# carry control characters), which no JSON Schema here can say. Not negative_data_rejection: query strings
# are text, and a timestamp filter accepting `-27708202` (seconds since 1970) is no schema violation.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
_schemas: dict[str, Any] = {}


def schema_of(instance: Instance) -> Any:
    if instance.name not in _schemas:
        _schemas[instance.name] = schemathesis.openapi.from_url(f"{instance.url}/openapi.json")
    return _schemas[instance.name]


def operations() -> list[Any]:
    return [
        pytest.param(service, endpoint, id=f"{service} {endpoint}")
        for service, spec in SERVICES.items()
        for endpoint in spec.endpoints
    ]


def rescore_finishes(instance: Instance, headers: dict[str, str], case: Case, answer: Any) -> None:
    """An accepted re-score job ends `done`: its filters are as valid as the request was."""
    if answer.status_code != 202:
        return
    job = answer.json()["id"]
    deadline = time.monotonic() + 30
    while (state := instance.http.get(f"/v1/rescore-jobs/{job}", headers=headers).json())["status"] not in (
        "done",
        "failed",
    ):
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    assert state["status"] == "done", f"the re-score job of {case.body!r} ended {state}"


@pytest.mark.parametrize(("service", "endpoint"), operations())
def test_fuzz(instances: Callable[[str], Instance], service: str, endpoint: str) -> None:
    instance = instances(service)
    method, path = endpoint.split(" ", 1)
    operation = schema_of(instance)[path][method]
    roles = SERVICES[service].endpoints[endpoint]
    role = st.just(None) if roles == PUBLIC else st.sampled_from(sorted(roles | {Role.admin}))
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, who=role, seeded=st.booleans())
    def fuzz(case: Case, who: Role | None, seeded: bool) -> None:
        if seeded:  # name the objects made for the run
            for name in case.path_parameters or {}:
                if name in instance.seeds:
                    case.path_parameters[name] = instance.seeds[name]
        headers = key_headers(who) if who else {}
        answer = case.call_and_validate(base_url=instance.url, headers=headers, checks=CHECKS)
        if endpoint == "POST /v1/scorecards/{scorecard_id}/rescore":
            rescore_finishes(instance, headers, case, answer)

    (seed(int(SEED))(fuzz) if SEED else fuzz)()

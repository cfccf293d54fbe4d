"""The authorisation matrix: every endpoint of every service (as its OpenAPI lists them) × every role
(by API key and by JWT) × no or bad credentials, against `tests/authz_matrix.py`, on running instances
configured from environment variables with a key for every role.

No credentials or bad ones -> 401; a role the table refuses -> 403; a role it allows -> anything but
401/403. Requests name objects that do not exist (and carry no valid body), so an allowed call answers
404 or 422 and changes nothing (but the audit log).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from callqa.auth import Role
from tests.api.helpers import Instance, bearer_headers, key_headers
from tests.authz_matrix import KNOWN_DEVIATIONS, PUBLIC, SERVICES, allowed, render_markdown

pytestmark = pytest.mark.timeout(300)

README = Path(__file__).resolve().parents[2] / "README.md"
MISSING = "no-such-object"
# Required query parameters, so a request gets past validation where the role is allowed.
REQUIRED_QUERY = {"purpose": "authz-matrix", "reason": "authz matrix"}


def request(client: httpx.Client, endpoint: str, headers: dict[str, str]) -> httpx.Response:
    method, path = endpoint.split(" ", 1)
    url = re.sub(r"\{version\}", "1", path)
    url = re.sub(r"\{[a-z_]+\}", MISSING, url)
    kwargs: dict[str, Any] = {"headers": headers, "params": REQUIRED_QUERY if "{" in path else {}}
    if method in ("POST", "PUT"):
        kwargs["json"] = {}
    return client.request(method, url, **kwargs)


def cases() -> list[Any]:
    params = []
    for service, spec in SERVICES.items():
        for endpoint in spec.endpoints:
            for who in [*Role, "nobody", "impostor"]:
                marks = []
                deviation = KNOWN_DEVIATIONS.get((service, endpoint))
                if deviation and who in deviation[0]:
                    marks.append(pytest.mark.xfail(reason=deviation[1], strict=False))
                label = who.value if isinstance(who, Role) else who
                params.append(pytest.param(service, endpoint, who, id=f"{service} {endpoint} {label}", marks=marks))
    return params


BAD_CREDENTIALS: dict[str, dict[str, str]] = {
    "unknown API key": {"X-API-Key": "key-nobody-knows"},
    "token signed with another secret": bearer_headers(Role.admin, secret="not-the-secret-" + "z" * 32),
    "expired token": bearer_headers(Role.admin, ttl=timedelta(minutes=-5)),
    "not a JWT": {"Authorization": "Bearer not.a.jwt"},
    "unknown key beside a valid token": {"X-API-Key": "key-nobody-knows"} | bearer_headers(Role.admin),
}


@pytest.mark.parametrize(("service", "endpoint", "who"), cases())
def test_authorisation_matrix(
    instances: Callable[[str], Instance], service: str, endpoint: str, who: Role | str
) -> None:
    client = instances(service).http
    public = SERVICES[service].endpoints[endpoint] == PUBLIC
    if who == "nobody":
        assert_status(
            request(client, endpoint, {}), "not 401/403" if public else 401, f"{endpoint} without credentials"
        )
    elif who == "impostor":
        for what, headers in BAD_CREDENTIALS.items():
            assert_status(
                request(client, endpoint, headers), "not 401/403" if public else 401, f"{endpoint} with {what}"
            )
    else:
        assert isinstance(who, Role)
        expected = "not 401/403" if allowed(service, endpoint, who) else 403
        for how, headers in (("API key", key_headers(who)), ("JWT", bearer_headers(who))):
            assert_status(request(client, endpoint, headers), expected, f"{endpoint} as {who.value} by {how}")


def assert_status(answer: httpx.Response, expected: int | str, what: str) -> None:
    if expected == "not 401/403":
        assert answer.status_code not in (401, 403), f"{what}: {answer.status_code} {answer.text}"
        return
    assert answer.status_code == expected, f"{what}: expected {expected}, got {answer.status_code} {answer.text}"
    assert answer.headers["content-type"].startswith("application/problem+json"), what
    if expected == 401:
        assert answer.headers.get("www-authenticate", "").startswith("Bearer"), f"{what}: WWW-Authenticate"


@pytest.mark.parametrize("service", list(SERVICES))
def test_the_matrix_lists_every_endpoint_of_the_openapi(instances: Callable[[str], Instance], service: str) -> None:
    document = instances(service).http.get("/openapi.json").json()
    documented = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    assert documented == set(SERVICES[service].endpoints), "tests/authz_matrix.py and the OpenAPI differ"


def test_the_readme_shows_the_matrix() -> None:
    assert render_markdown() in README.read_text(), (
        "README.md's 'Who may call what' table is stale: paste tests.authz_matrix.render_markdown()"
    )

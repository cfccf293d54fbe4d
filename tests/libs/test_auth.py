"""API keys, JWT roles, 401 vs 403, problem details, health endpoints."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import jwt
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from callqa.auth import Authenticator, AuthError, Principal, Role, require_roles
from callqa.http import FieldError, ProblemError
from callqa.service import build_app
from callqa.settings import AuthSettings, Environment, ServiceSettings

AUTH = AuthSettings(
    api_keys=SecretStr("k-platform=pbx-1:ingest;k-audit=audit-bot:auditor"), jwt_secret=SecretStr("s" * 32)
)


class Body(BaseModel):
    name: str


def make_app(ready: bool = True) -> FastAPI:
    router = APIRouter()

    @router.post("/recordings")
    def post(_: Annotated[Principal, Depends(require_roles(Role.ingest))], body: Body) -> dict[str, str]:
        return {"ok": body.name}

    @router.get("/held")
    def held() -> None:
        raise ProblemError(
            409, "Recording under legal hold", "erasure refused", errors=[FieldError(field="id", message="held")]
        )

    settings = ServiceSettings(auth=AUTH)
    return build_app(settings, title="t", description="d", routers=[router], checks={"db": lambda: ready})


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app())


def token(*roles: Role, ttl: timedelta = timedelta(minutes=5)) -> dict[str, str]:
    return {"Authorization": f"Bearer {Authenticator(AUTH).issue_token('alice', roles, ttl)}"}


def test_api_key_with_the_role_is_served(client: TestClient) -> None:
    response = client.post("/recordings", json={"name": "x"}, headers={"X-API-Key": "k-platform"})
    assert response.status_code == 200


def test_missing_or_unknown_credentials_get_401(client: TestClient) -> None:
    for headers in (
        {},
        {"X-API-Key": "wrong"},
        {"Authorization": "Bearer not-a-jwt"},
        token(Role.ingest, ttl=timedelta(seconds=-1)),
    ):
        response = client.post("/recordings", json={"name": "x"}, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_role_gets_403_and_admin_passes(client: TestClient) -> None:
    assert client.post("/recordings", json={"name": "x"}, headers={"X-API-Key": "k-audit"}).status_code == 403
    assert client.post("/recordings", json={"name": "x"}, headers=token(Role.agent)).status_code == 403
    assert client.post("/recordings", json={"name": "x"}, headers=token(Role.admin)).status_code == 200


def test_token_signed_with_another_secret_is_rejected(client: TestClient) -> None:
    forged = Authenticator(AuthSettings(jwt_secret=SecretStr("x" * 32))).issue_token("mallory", [Role.admin])
    assert (
        client.post("/recordings", json={"name": "x"}, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    )


def test_validation_errors_are_problem_details_with_field_paths(client: TestClient) -> None:
    response = client.post("/recordings", json={"nom": "x"}, headers={"X-API-Key": "k-platform"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Invalid request"
    assert problem["errors"][0]["field"] == "name"


def test_problem_error_becomes_rfc9457(client: TestClient) -> None:
    response = client.get("/held")
    assert response.status_code == 409
    assert response.json() == {
        "type": "about:blank",
        "title": "Recording under legal hold",
        "status": 409,
        "detail": "erasure refused",
        "instance": "/held",
        "errors": [{"field": "id", "message": "held"}],
    }


def test_health_readiness_and_metrics() -> None:
    assert TestClient(make_app()).get("/healthz").json()["status"] == "ok"
    assert TestClient(make_app()).get("/readyz").status_code == 200
    not_ready = TestClient(make_app(ready=False)).get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"] == {"db": False}
    metrics = TestClient(make_app()).get("/metrics")
    assert metrics.status_code == 200
    assert "python_info" in metrics.text


def test_malformed_api_key_configuration_fails_fast() -> None:
    with pytest.raises(ValueError, match="KEY=subject"):
        Authenticator(AuthSettings(api_keys=SecretStr("just-a-key")))


def test_production_refuses_development_defaults() -> None:
    with pytest.raises(ValidationError, match="jwt_secret") as error:
        ServiceSettings(environment=Environment.production)
    assert "database_url" in str(error.value)
    assert "s3.secret_key" in str(error.value)
    ServiceSettings(environment=Environment.development)  # fine locally


class ExampleSettings(ServiceSettings):
    """A service's settings as each service declares them: the base fields under its own prefix."""

    model_config = SettingsConfigDict(env_prefix="CALLQA_EXAMPLE_", env_nested_delimiter="__", extra="ignore")


def test_settings_read_nested_env_with_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLQA_EXAMPLE_KAFKA__BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("CALLQA_EXAMPLE_HTTP_PORT", "9999")
    monkeypatch.setenv("CALLQA_OTHER_HTTP_PORT", "1")  # another service's prefix: not ours
    settings = ExampleSettings()
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.http_port == 9999


def test_groups_claim_is_optional_and_must_be_a_list_of_names() -> None:
    authenticator = Authenticator(AUTH)
    anyone = authenticator.from_token(authenticator.issue_token("alice", [Role.supervisor]))
    assert anyone.groups is None and anyone.may_see("billing")
    limited = authenticator.from_token(authenticator.issue_token("bob", [Role.supervisor], groups=["billing"]))
    assert limited.groups == frozenset({"billing"}) and not limited.may_see("broadband")
    assert authenticator.from_api_key("k-audit").groups is None  # API keys are unchanged: every group
    claims = {"sub": "eve", "roles": ["supervisor"], "groups": "billing", "aud": AUTH.jwt_audience, "exp": 2**31}
    with pytest.raises(AuthError, match="groups"):
        authenticator.from_token(jwt.encode(claims, AUTH.jwt_secret.get_secret_value(), algorithm="HS256"))

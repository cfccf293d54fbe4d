"""Settings of the console; every variable is prefixed `CALLQA_CONSOLE_`."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from callqa.settings import Environment, ServiceSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class Upstreams(BaseModel):
    """Where the other services' APIs are (the console calls them with the signed-in user's identity)."""

    ingest: str = "http://127.0.0.1:8001"
    scorer: str = "http://127.0.0.1:8003"
    coaching: str = "http://127.0.0.1:8004"
    reporting: str = "http://127.0.0.1:8005"
    timeout_s: float = Field(30.0, gt=0)


class OidcSettings(BaseModel):
    """Production sign-in: an OpenID Connect provider's ID tokens, their roles mapped to callqa's."""

    issuer: str | None = None
    audience: str | None = None
    jwks_url: str | None = None
    subject_claim: str = Field("sub", description="the claim that names the user (agents: their agent id)")
    roles_claim: str = Field("roles", description="a list claim; dotted for nested claims (realm_access.roles)")
    role_map: dict[str, str] = Field(
        default_factory=dict, description='provider role -> callqa role, e.g. {"qa-team": "qa_analyst"}'
    )
    # The authorization code flow (the console as the provider's client); without it, ID tokens can still be
    # posted to /login/oidc by a proxy in front.
    authorization_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr = SecretStr("")
    redirect_url: str | None = Field(None, description="this console's /login/oidc/callback as the provider knows it")
    scope: str = "openid profile"

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.audience and self.jwks_url)

    @property
    def code_flow(self) -> bool:
        return self.enabled and bool(self.authorization_url and self.token_url and self.client_id and self.redirect_url)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CALLQA_CONSOLE_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "console"
    http_port: int = 8006
    database_url: str = "sqlite:///.callqa/console.db"
    consumer_group: str = "console"
    upstreams: Upstreams = Field(default_factory=Upstreams)
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    local_users: bool = Field(True, description="sign-in with the console's own users (hashed passwords)")
    session_hours: float = Field(10.0, gt=0, le=24 * 30)
    cookie_secure: bool = Field(False, description="Secure cookies (HTTPS only); on in production")
    token_ttl_s: int = Field(300, ge=30, le=3600, description="life of the token the console sends upstream")

    @model_validator(mode="after")
    def _production_cookies(self) -> Self:
        if self.environment is Environment.production and not self.cookie_secure:
            raise ValueError("unsafe production settings: cookie_secure must be true (serve the console over HTTPS)")
        return self

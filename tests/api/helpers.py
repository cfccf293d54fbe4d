"""The API instances as the tests see them: one key and one token per role, a running instance with its seeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from pydantic import SecretStr

from callqa.auth import Authenticator, Role
from callqa.settings import AuthSettings
from callqa_stack import servers

JWT_SECRET = "fuzz-" + "x" * 40
AGENT_SUBJECT = "agent-fuzz"  # the agent key's subject: owns the seeded recording and evaluation


def subject_of(role: Role) -> str:
    return AGENT_SUBJECT if role is Role.agent else f"{role.value}-fuzz"


def api_key(role: Role) -> str:
    return f"key-{role.value}"


def api_keys() -> str:
    """`…_AUTH__API_KEYS` with one key per role: `key-<role>=<subject>:<role>`."""
    return ";".join(f"{api_key(role)}={subject_of(role)}:{role.value}" for role in Role)


def key_headers(role: Role) -> dict[str, str]:
    return {"X-API-Key": api_key(role)}


def bearer_headers(role: Role, secret: str = JWT_SECRET, ttl: timedelta = timedelta(minutes=30)) -> dict[str, str]:
    token = Authenticator(AuthSettings(jwt_secret=SecretStr(secret))).issue_token(subject_of(role), [role], ttl)
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Instance:
    name: str
    url: str
    env: dict[str, str]
    server: servers.Server
    seeds: dict[str, str] = field(default_factory=dict)  # e.g. recording_id, evaluation_id of data made for the run
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30)

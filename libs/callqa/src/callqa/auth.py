"""Authentication (API keys or JWT bearer tokens) and role checks for every API.

Machines (the telephony platform) usually hold an API key sent as `X-API-Key`; people come
through an identity provider that issues JWTs with a `roles` claim. Both resolve to a
`Principal`. 401 = who are you?, 403 = you may not.

A token may also carry a `groups` claim: the ACD groups whose figures the person may see (a
supervisor of two groups). Without it (and for API keys) every group is allowed, as before;
services that show per-group data check `Principal.may_see`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from jwt.types import Options

from callqa.http import ProblemError
from callqa.settings import AuthSettings


class Role(StrEnum):
    ingest = "ingest"  # telephony platforms posting recordings
    qa_analyst = "qa_analyst"
    supervisor = "supervisor"
    agent = "agent"
    trainer = "trainer"
    auditor = "auditor"
    admin = "admin"  # implicitly holds every role


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    groups: frozenset[str] | None = None  # the groups it may see; None: every group

    def has_any(self, roles: Iterable[Role]) -> bool:
        return Role.admin in self.roles or bool(self.roles & set(roles))

    def may_see(self, group: str) -> bool:
        return self.groups is None or group in self.groups


class AuthError(Exception):
    pass


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    known = {r.value for r in Role}
    return frozenset(Role(n) for n in names if n in known)


class Authenticator:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._keys: dict[str, Principal] = {}
        for entry in filter(None, (e.strip() for e in settings.api_keys.get_secret_value().split(";"))):
            key, _, who = entry.partition("=")
            subject, _, roles = who.partition(":")
            if not key or not subject:
                raise ValueError("auth.api_keys entries look like 'KEY=subject:role1,role2'")
            self._keys[_digest(key.strip())] = Principal(subject.strip(), parse_roles(roles.split(",")))

    def from_api_key(self, key: str) -> Principal:
        digest = _digest(key)
        for known, principal in self._keys.items():
            if hmac.compare_digest(known, digest):
                return principal
        raise AuthError("unknown API key")

    def from_token(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.settings.jwt_secret.get_secret_value(),
                algorithms=[self.settings.jwt_algorithm],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["sub", "exp"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        roles = claims.get("roles", [])
        if not isinstance(roles, list):
            raise AuthError("invalid token: 'roles' must be a list")
        groups = claims.get("groups")
        if groups is not None and (not isinstance(groups, list) or not all(isinstance(g, str) for g in groups)):
            raise AuthError("invalid token: 'groups' must be a list of group names")
        return Principal(
            str(claims["sub"]),
            parse_roles(str(r) for r in roles),
            frozenset(groups) if groups is not None else None,
        )

    def claimed(self, api_key: str | None, token: str | None) -> tuple[str, frozenset[Role]]:
        """Who a caller is or says it is, for the audit record of a refused request; never the secret.

        Valid credentials: the principal. A token whose signature checks out but that is expired or
        meant for another audience: its subject, no roles. A token with a bad signature: its subject
        marked `unverified:` (anyone can write one). Anything else: `anonymous`.
        """
        try:
            if api_key:
                principal = self.from_api_key(api_key)
                return principal.subject, principal.roles
            if token:
                principal = self.from_token(token)
                return principal.subject, principal.roles
        except AuthError:
            pass
        if not token:
            return "anonymous", frozenset()
        secret = self.settings.jwt_secret.get_secret_value()
        relaxed: Options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False}
        try:
            claims = jwt.decode(token, secret, algorithms=[self.settings.jwt_algorithm], options=relaxed)
            prefix = ""
        except jwt.PyJWTError:
            try:
                claims = jwt.decode(token, options={"verify_signature": False})
            except jwt.PyJWTError:
                return "anonymous", frozenset()
            prefix = "unverified:"
        subject = claims.get("sub") if isinstance(claims, dict) else None
        if not isinstance(subject, str) or not subject:
            return "anonymous", frozenset()
        printable = "".join(ch if ch.isprintable() else "\ufffd" for ch in subject)
        return (prefix + printable)[:200], frozenset()

    def issue_token(
        self,
        subject: str,
        roles: Iterable[Role | str],
        ttl: timedelta = timedelta(hours=1),
        groups: Iterable[str] | None = None,
    ) -> str:
        """For development, tests and the demo; production tokens come from the identity provider."""
        now = datetime.now(UTC)
        claims: dict[str, object] = {
            "sub": subject,
            "roles": [str(r) for r in roles],
            "aud": self.settings.jwt_audience,
            "iat": now,
            "exp": now + ttl,
        }
        if groups is not None:
            claims["groups"] = sorted(groups)
        if self.settings.jwt_issuer:
            claims["iss"] = self.settings.jwt_issuer
        return jwt.encode(claims, self.settings.jwt_secret.get_secret_value(), algorithm=self.settings.jwt_algorithm)


_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key of a machine client")
_bearer = HTTPBearer(auto_error=False, description="JWT with a `roles` claim")

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="callqa"'}


def authenticate(
    request: Request,
    api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    try:
        if api_key:
            return authenticator.from_api_key(api_key)
        if bearer:
            return authenticator.from_token(bearer.credentials)
    except AuthError as exc:
        raise ProblemError(401, "Unauthorized", str(exc), headers=UNAUTHORIZED_HEADERS) from exc
    raise ProblemError(401, "Unauthorized", "send an X-API-Key header or a Bearer token", headers=UNAUTHORIZED_HEADERS)


def claimed_caller(request: Request) -> tuple[str, frozenset[Role]]:
    """`Authenticator.claimed` for the credentials `request` carries."""
    authenticator: Authenticator = request.app.state.authenticator
    api_key = request.headers.get("X-API-Key")
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return authenticator.claimed(api_key, credentials.strip() if scheme.lower() == "bearer" else None)


def require_roles(*roles: Role) -> Callable[..., Principal]:
    """Dependency: the caller must hold one of `roles` (or admin)."""

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.has_any(roles):
            wanted = ", ".join(sorted(r.value for r in roles))
            raise ProblemError(403, "Forbidden", f"this action needs one of the roles: {wanted}")
        return principal

    return check

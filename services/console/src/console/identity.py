"""Who is signed in: local users with argon2-hashed passwords, OpenID Connect ID tokens mapped to callqa's roles,
and the sessions a browser holds (a random cookie token; the table keeps its SHA-256 and a CSRF token)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import col, delete, select

from callqa.auth import Role, parse_roles
from callqa.db import Database
from console.config import OidcSettings
from console.tables import LocalUser, UserSession

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps unknown names as slow as wrong passwords.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class SignInRefused(Exception):
    pass


@dataclass(frozen=True)
class User:
    subject: str
    roles: frozenset[Role]
    csrf: str = ""
    via: str = "local"

    def has_any(self, *roles: Role) -> bool:
        return Role.admin in self.roles or bool(self.roles & set(roles))

    @property
    def is_staff(self) -> bool:
        return self.has_any(Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def role_names(roles: frozenset[Role]) -> str:
    return ",".join(sorted(r.value for r in roles))


class Users:
    """The console's local users (development, small sites)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, username: str, password: str, roles: list[str]) -> None:
        parsed = parse_roles(roles)
        if not username or len(parsed) != len(set(roles)):
            raise ValueError(f"a user needs a name and known roles ({', '.join(r.value for r in Role)})")
        with self.db.session() as session:
            user = session.get(LocalUser, username)
            if user is None:
                user = LocalUser(username=username, password_hash="", roles="")
                session.add(user)
            user.password_hash = _hasher.hash(password)
            user.roles = role_names(parsed)

    def exists(self, username: str) -> bool:
        with self.db.session() as session:
            return session.get(LocalUser, username) is not None

    def verify(self, username: str, password: str) -> User:
        with self.db.session() as session:
            user = session.get(LocalUser, username)
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError) as exc:
            raise SignInRefused("wrong user name or password") from exc
        if user is None:
            raise SignInRefused("wrong user name or password")
        return User(user.username, parse_roles(user.roles.split(",")))


class OidcVerifier:
    """Checks an OpenID Connect ID token (signature by the provider's JWKS, issuer, audience, expiry) and maps
    its roles claim to callqa's roles."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None

    def verify(self, token: str, nonce: str | None = None) -> User:
        if self._jwks is None:
            raise SignInRefused("OpenID Connect sign-in is not configured")
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256", "ES256", "PS256", "EdDSA"],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise SignInRefused(f"invalid ID token: {exc}") from exc
        if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInRefused("invalid ID token: the nonce is not the one this sign-in sent")
        value: Any = claims
        for part in self.settings.roles_claim.split("."):
            value = value.get(part, []) if isinstance(value, dict) else []
        names = [str(v) for v in value] if isinstance(value, list) else []
        mapped = [self.settings.role_map.get(n, n) for n in names]
        subject = claims.get(self.settings.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise SignInRefused(f"the ID token has no '{self.settings.subject_claim}'")
        roles = parse_roles(mapped)
        if not roles:
            raise SignInRefused("the ID token grants no callqa role")
        return User(subject, roles, via="oidc")


class Sessions:
    def __init__(self, db: Database, lifetime: timedelta) -> None:
        self.db = db
        self.lifetime = lifetime

    def open(self, user: User) -> str:
        """A new session (a fresh token on every sign-in: no fixation); the cookie gets the token."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.db.session() as session:
            session.exec(delete(UserSession).where(col(UserSession.expires_at) < now))
            session.add(
                UserSession(
                    id=_digest(token),
                    subject=user.subject,
                    roles=role_names(user.roles),
                    csrf=secrets.token_urlsafe(24),
                    via=user.via,
                    created_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        return token

    def user(self, token: str) -> User | None:
        with self.db.session() as session:
            row = session.exec(select(UserSession).where(UserSession.id == _digest(token))).first()
        if row is None or row.expires_at < datetime.now(UTC):
            return None
        return User(row.subject, parse_roles(row.roles.split(",")), row.csrf, row.via)

    def close(self, token: str) -> None:
        with self.db.session() as session:
            session.exec(delete(UserSession).where(col(UserSession.id) == _digest(token)))

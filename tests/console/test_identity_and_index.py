"""The console's own parts without a browser: local users (argon2), sessions, OpenID Connect ID tokens mapped to
roles, the language choice, and the call index kept from events (order-tolerant, purge erases the words)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from console import handlers
from console.calls import CallFilter, CallIndex
from console.config import MIGRATIONS_DIR, OidcSettings, Settings
from console.i18n import pick_language
from console.identity import OidcVerifier, Sessions, SignInRefused, User, Users
from console.main import create_app
from console.tables import LocalUser
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr

from callqa.auth import Role
from callqa.db import Database
from callqa.events import TranscriptReady
from callqa_stack import factories


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'console.db'}")
    database.migrate(MIGRATIONS_DIR)
    yield database
    database.dispose()


def test_local_users_are_kept_with_argon2_hashes_and_verified(db: Database) -> None:
    users = Users(db)
    users.add("lin", "a long password", ["qa_analyst", "trainer"])
    with db.session() as session:
        stored = session.get(LocalUser, "lin")
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert "a long password" not in stored.password_hash
    assert users.verify("lin", "a long password").roles == {Role.qa_analyst, Role.trainer}
    with pytest.raises(SignInRefused):
        users.verify("lin", "wrong")
    with pytest.raises(SignInRefused):
        users.verify("nobody", "a long password")
    with pytest.raises(ValueError, match="known roles"):
        users.add("wu", "a long password", ["emperor"])


def test_sessions_open_close_and_expire(db: Database) -> None:
    sessions = Sessions(db, timedelta(hours=1))
    token = sessions.open(User("lin", frozenset({Role.supervisor})))
    user = sessions.user(token)
    assert user is not None and user.subject == "lin" and user.roles == {Role.supervisor} and len(user.csrf) > 20
    assert sessions.user(token + "x") is None
    sessions.close(token)
    assert sessions.user(token) is None
    expired = Sessions(db, timedelta(seconds=-1)).open(User("wu", frozenset({Role.agent})))
    assert sessions.user(expired) is None


TOKEN_ENDPOINT: dict[str, str] = {}  # what the fake provider's token endpoint answers ("id_token"), what it got


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    """An OpenID Connect provider's JWKS endpoint (and a token endpoint answering `TOKEN_ENDPOINT`), on a free port."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1", "use": "sig", "alg": "RS256"}
    body = json.dumps({"keys": [jwk]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            TOKEN_ENDPOINT["request"] = self.rfile.read(int(self.headers["Content-Length"])).decode()
            TOKEN_ENDPOINT["authorization"] = self.headers.get("Authorization", "")
            answer = json.dumps({"id_token": TOKEN_ENDPOINT["id_token"], "token_type": "Bearer"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks", key
    server.shutdown()


def id_token(key: rsa.RSAPrivateKey, **claims: object) -> str:
    now = datetime.now(UTC)
    base = {
        "iss": "https://idp.test",
        "aud": "callqa-console",
        "sub": "u-1",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return jwt.encode(base | claims, key, algorithm="RS256", headers={"kid": "k1"})


def test_oidc_id_tokens_are_verified_and_their_roles_mapped(provider: tuple[str, rsa.RSAPrivateKey]) -> None:
    url, key = provider
    settings = OidcSettings(
        issuer="https://idp.test",
        audience="callqa-console",
        jwks_url=url,
        subject_claim="preferred_username",
        roles_claim="realm_access.roles",
        role_map={"qa-team": "qa_analyst"},
    )
    verifier = OidcVerifier(settings)
    user = verifier.verify(
        id_token(key, preferred_username="lin", realm_access={"roles": ["qa-team", "supervisor", "offline"]})
    )
    assert user.subject == "lin" and user.roles == {Role.qa_analyst, Role.supervisor} and user.via == "oidc"
    with pytest.raises(SignInRefused, match=r"(?i)audience"):
        verifier.verify(
            id_token(key, aud="someone-else", preferred_username="lin", realm_access={"roles": ["qa-team"]})
        )
    with pytest.raises(SignInRefused, match="no callqa role"):
        verifier.verify(id_token(key, preferred_username="lin", realm_access={"roles": ["offline"]}))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SignInRefused, match="invalid"):
        verifier.verify(id_token(other, preferred_username="lin", realm_access={"roles": ["qa-team"]}))


def test_the_language_comes_from_the_switch_then_the_browser() -> None:
    assert pick_language(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert pick_language(None, "en-GB,en;q=0.9") == "en"
    assert pick_language("en", "zh-CN") == "en"
    assert pick_language(None, None) == "en"


def test_the_call_index_is_order_tolerant_searchable_and_purged(db: Database) -> None:
    index = CallIndex(db)
    scored = factories.evaluation_scored(agent_id="agent-7", failed=("closing",))
    rid = scored.recording_id
    handlers.on_evaluation_scored(scored, index=index)  # before the recording's own events
    stored = factories.recording_stored(rid, agent_id="agent-7", tags=["complaint"]).payload
    handlers.on_recording_stored(stored, index=index)
    document = {
        "model": {"id": "whisper", "version": "1"},
        "language": "en",
        "turns": [
            {"id": "t0", "role": "agent", "begin_ms": 0, "end_ms": 900, "text": "Thank you for calling"},
            {"id": "t1", "role": "customer", "begin_ms": 1000, "end_ms": 2000, "text": "I want a refund"},
        ],
    }
    ready = factories.recording_stored(rid).payload.model_dump() | {
        "language": "en",
        "model_version": "whisper@1",
        "transcript_key": "t/x.json",
        "document": document,
    }
    handlers.on_transcript_ready(TranscriptReady.model_validate(ready), index=index, store=None)  # type: ignore[arg-type]
    other = factories.evaluation_scored(agent_id="agent-9", failed=())
    handlers.on_evaluation_scored(other, index=index)

    def ids(**where: object) -> set[str]:
        found, _ = index.search(CallFilter(**where))  # type: ignore[arg-type]
        return {f.call.recording_id for f in found}

    assert ids() == {rid, other.recording_id}
    assert ids(words="A REFUND") == {rid}
    assert ids(failed_item="closing") == {rid}
    assert ids(passed=True) == {other.recording_id}
    assert ids(score_min=90) == {other.recording_id}
    assert ids(score_max=90, agent_id="agent-7") == {rid}
    assert ids(tag="complaint") == {rid}
    assert ids(tag="compl") == set()
    found, _ = index.search(CallFilter(words="refund"))
    assert found[0].snippet is not None and "refund" in found[0].snippet
    handlers.on_recording_purged(factories.recording_purged(rid).payload, index=index)
    assert ids(words="refund") == set()
    entry = index.get(rid)
    assert entry is not None and entry.document is None and entry.text == ""
    handlers.on_transcript_ready(TranscriptReady.model_validate(ready), index=index, store=None)  # type: ignore[arg-type]
    assert ids(words="refund") == set(), "a transcript arriving after the purge keeps nothing"


def test_the_authorization_code_flow_signs_a_user_in(
    provider: tuple[str, rsa.RSAPrivateKey], tmp_path: Path, db: Database
) -> None:
    url, key = provider
    base = url.rsplit("/", 1)[0]
    oidc = OidcSettings(
        issuer="https://idp.test",
        audience="callqa-console",
        jwks_url=url,
        authorization_url="https://idp.test/authorize",
        token_url=f"{base}/token",
        client_id="callqa-console",
        client_secret=SecretStr("client-secret"),
        redirect_url="http://console.test/login/oidc/callback",
    )
    app = create_app(Settings(database_url=str(db.url), oidc=oidc, auth={"jwt_secret": "s" * 40}))
    client = TestClient(app)
    assert 'href="/login/oidc"' in client.get("/login").text
    start = client.get("/login/oidc", follow_redirects=False)
    assert start.status_code == 303
    sent = parse_qs(urlsplit(start.headers["location"]).query)
    assert sent["client_id"] == ["callqa-console"] and sent["response_type"] == ["code"]
    TOKEN_ENDPOINT["id_token"] = id_token(key, sub="agent-7", roles=["agent"], nonce=sent["nonce"][0])
    forged = client.get(
        "/login/oidc/callback", params={"code": "c-1", "state": "not-the-state"}, follow_redirects=False
    )
    assert forged.status_code == 403
    done = client.get("/login/oidc/callback", params={"code": "c-1", "state": sent["state"][0]}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/me"
    assert "code=c-1" in TOKEN_ENDPOINT["request"] and TOKEN_ENDPOINT["authorization"].startswith("Basic ")
    token = client.cookies.get("callqa_session")
    assert token is not None
    user = app.state.sessions.user(token)
    assert user.subject == "agent-7" and user.roles == {Role.agent} and user.via == "oidc"
    # A replayed ID token from another sign-in (its nonce) is refused.
    again = client.get("/login/oidc", follow_redirects=False)
    state = parse_qs(urlsplit(again.headers["location"]).query)["state"][0]
    replay = client.get("/login/oidc/callback", params={"code": "c-2", "state": state}, follow_redirects=False)
    assert replay.status_code == 401

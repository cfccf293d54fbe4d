"""Sign-in (local users; OpenID Connect ID tokens), sign-out, the language switch and the home page of each role."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from typing import Annotated
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from console.identity import SignInRefused, User
from console.web import LANG_COOKIE, SESSION_COOKIE, PageRefused, SignedIn, optional_user, render, see_other

router = APIRouter(include_in_schema=False)
PRE_COOKIE = "callqa_signin"  # double-submit token of the sign-in form (no session yet to hold one)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def _set_session(request: Request, response: Response, user: User) -> None:
    token = request.app.state.sessions.open(user)
    secure = request.app.state.settings.cookie_secure
    hours = request.app.state.settings.session_hours
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(hours * 3600), httponly=True, samesite="lax", secure=secure, path="/"
    )
    response.delete_cookie(PRE_COOKIE, path="/")


@router.get("/")
def home(request: Request) -> Response:
    user = optional_user(request)
    if user is None:
        return see_other("/login")
    return see_other("/calls" if user.is_staff else "/me")


@router.get("/login")
def login_page(request: Request, next: str = "/", failed: bool = False) -> Response:
    token = secrets.token_urlsafe(24)
    settings = request.app.state.settings
    response = render(
        request,
        "login.html",
        None,
        401 if failed else 200,
        next=_safe_next(next),
        pre=token,
        failed=failed,
        local=settings.local_users,
        sso=settings.oidc.code_flow,
    )
    response.set_cookie(PRE_COOKIE, token, httponly=True, samesite="strict", secure=settings.cookie_secure, path="/")
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    pre: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    if not request.app.state.settings.local_users:
        raise PageRefused(403, "error.403", "local users are turned off; sign in with your organisation")
    cookie = request.cookies.get(PRE_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, pre):
        raise PageRefused(403, "error.csrf")
    try:
        user = request.app.state.users.verify(username.strip(), password)
    except SignInRefused:
        return see_other(f"/login?failed=1&next={_safe_next(next)}")
    target = _safe_next(next)
    response = see_other(target if target != "/" else ("/calls" if user.is_staff else "/me"))
    _set_session(request, response, user)
    return response


@router.post("/login/oidc")
def login_oidc(request: Request, id_token: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    """An ID token from the organisation's OpenID Connect provider (posted by its sign-in flow or a proxy in front,
    or as `Authorization: Bearer`): verified against the provider's JWKS, roles mapped, a session opened."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    token = bearer.strip() if scheme.lower() == "bearer" else id_token
    try:
        user = request.app.state.oidc.verify(token)
    except SignInRefused as exc:
        raise PageRefused(401, "signin.refused", str(exc)) from exc
    response = see_other("/calls" if user.is_staff else "/me")
    _set_session(request, response, user)
    return response


OIDC_COOKIE = "callqa_oidc"


@router.get("/login/oidc")
def oidc_start(request: Request) -> Response:
    """The authorization code flow: off to the provider, with a state and a nonce this browser keeps."""
    oidc = request.app.state.settings.oidc
    if not oidc.code_flow:
        raise PageRefused(404, "error.404", "OpenID Connect sign-in is not configured")
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": oidc.client_id,
            "redirect_uri": oidc.redirect_url,
            "scope": oidc.scope,
            "state": state,
            "nonce": nonce,
        }
    )
    response = see_other(f"{oidc.authorization_url}?{query}")
    secure = request.app.state.settings.cookie_secure
    # Lax: the provider sends the browser back with a top-level GET.
    response.set_cookie(OIDC_COOKIE, f"{state}.{nonce}", max_age=600, httponly=True, samesite="lax", secure=secure)
    return response


@router.get("/login/oidc/callback")
async def oidc_callback(request: Request, code: str = "", state: str = "") -> Response:
    oidc = request.app.state.settings.oidc
    kept_state, _, nonce = request.cookies.get(OIDC_COOKIE, "").partition(".")
    if not oidc.code_flow or not code or not kept_state or not hmac.compare_digest(kept_state, state):
        raise PageRefused(403, "error.csrf", "the sign-in did not start here, or took too long")
    async with httpx.AsyncClient(timeout=15) as client:
        answer = await client.post(
            oidc.token_url,
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": oidc.redirect_url},
            auth=(oidc.client_id, oidc.client_secret.get_secret_value()),
        )
    token = answer.json().get("id_token") if answer.status_code == 200 else None
    if not isinstance(token, str):
        raise PageRefused(401, "signin.refused", f"the provider gave no ID token ({answer.status_code})")
    try:
        user = await asyncio.to_thread(request.app.state.oidc.verify, token, nonce)
    except SignInRefused as exc:
        raise PageRefused(401, "signin.refused", str(exc)) from exc
    response = see_other("/calls" if user.is_staff else "/me")
    _set_session(request, response, user)
    response.delete_cookie(OIDC_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, user: SignedIn, csrf: Annotated[str, Form()] = "") -> Response:
    if not hmac.compare_digest(user.csrf, csrf):
        raise PageRefused(403, "error.csrf")
    request.app.state.sessions.close(request.cookies.get(SESSION_COOKIE, ""))
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{lang}")
def switch_language(request: Request, lang: str, next: str = "/") -> Response:
    response = see_other(_safe_next(next))
    if lang in ("en", "zh"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response

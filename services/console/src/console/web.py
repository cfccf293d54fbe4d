"""What every page shares: the signed-in user (session cookie), CSRF checks on state-changing forms, the
language, rendering a template, and the errors a page answers with (HTML, not problem JSON)."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from callqa.auth import Role
from console.i18n import pick_language, translate
from console.identity import Sessions, User
from console.upstream import Upstream, UpstreamError

SESSION_COOKIE = "callqa_session"
LANG_COOKIE = "callqa_lang"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class NeedsSignIn(Exception):
    pass


class PageRefused(Exception):
    def __init__(self, status: int, message_key: str, detail: str | None = None) -> None:
        super().__init__(message_key)
        self.status, self.message_key, self.detail = status, message_key, detail


def language(request: Request) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def optional_user(request: Request) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    sessions: Sessions = request.app.state.sessions
    return sessions.user(token)


def signed_in(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise NeedsSignIn
    return user


SignedIn = Annotated[User, Depends(signed_in)]


def staff(user: SignedIn) -> User:
    if not user.is_staff:
        raise PageRefused(403, "error.403")
    return user


def reviewers(user: SignedIn) -> User:
    if not user.has_any(Role.qa_analyst, Role.supervisor):
        raise PageRefused(403, "error.403")
    return user


def agents(user: SignedIn) -> User:
    if not user.has_any(Role.agent):
        raise PageRefused(403, "error.403")
    return user


Staff = Annotated[User, Depends(staff)]
Reviewer = Annotated[User, Depends(reviewers)]
AgentUser = Annotated[User, Depends(agents)]


def checked(user: SignedIn, csrf: Annotated[str, Form()] = "") -> User:
    """For state-changing forms: the session's CSRF token must come back in the form."""
    if not user.csrf or not hmac.compare_digest(user.csrf, csrf):
        raise PageRefused(403, "error.csrf")
    return user


Checked = Annotated[User, Depends(checked)]


def upstream(request: Request) -> Upstream:
    service: Upstream = request.app.state.upstream
    return service


UpstreamDep = Annotated[Upstream, Depends(upstream)]


def render(request: Request, template: str, user: User | None, status: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    return templates.TemplateResponse(
        request,
        template,
        {"user": user, "lang": lang, "t": lambda key: translate(lang, key), **context},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def install_page_errors(app: Any) -> None:
    async def sign_in_first(request: Request, _: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return see_other(f"/login?next={quote(target)}")

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        user = optional_user(request)
        return render(request, "error.html", user, exc.status, message_key=exc.message_key, detail=exc.detail)

    async def upstream_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UpstreamError)
        user = optional_user(request)
        key = {403: "error.403", 404: "error.404"}.get(exc.status, "error.title")
        status = exc.status if exc.status in (403, 404, 409, 422) else 502
        return render(request, "error.html", user, status, message_key=key, detail=str(exc))

    app.add_exception_handler(NeedsSignIn, sign_in_first)
    app.add_exception_handler(PageRefused, refused)
    app.add_exception_handler(UpstreamError, upstream_refused)

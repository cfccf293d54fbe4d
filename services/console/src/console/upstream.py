"""The other services' APIs, called with the signed-in user's identity: a short-lived JWT naming the user and
their roles, signed with the secret the services share (never an admin key)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx

from callqa.auth import Authenticator
from console.config import Upstreams
from console.identity import User


class UpstreamError(Exception):
    """A service answered with an error; its problem document is kept for the page to show."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        self.status = status
        self.problem = problem

    @property
    def field_errors(self) -> list[dict[str, str]]:
        errors = self.problem.get("errors") or []
        return [e for e in errors if isinstance(e, dict)]


class Upstream:
    def __init__(self, urls: Upstreams, authenticator: Authenticator, token_ttl_s: int) -> None:
        self.urls = urls
        self.authenticator = authenticator
        self.token_ttl = timedelta(seconds=token_ttl_s)
        self.client = httpx.AsyncClient(timeout=urls.timeout_s)

    def headers(self, user: User) -> dict[str, str]:
        token = self.authenticator.issue_token(user.subject, user.roles, ttl=self.token_ttl)
        return {"Authorization": f"Bearer {token}"}

    def url(self, service: str, path: str) -> str:
        base: str = getattr(self.urls, service)
        return base.rstrip("/") + path

    async def call(
        self,
        user: User,
        method: str,
        service: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        response = await self.client.request(
            method,
            self.url(service, path),
            params=clean,
            json=json,
            headers={**self.headers(user), **(headers or {})},
        )
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.text[:300]}
            raise UpstreamError(response.status_code, problem if isinstance(problem, dict) else {})
        return response

    async def get(self, user: User, service: str, path: str, **params: Any) -> Any:
        return (await self.call(user, "GET", service, path, params=params)).json()

    async def send(self, user: User, method: str, service: str, path: str, body: Any = None, **kw: Any) -> Any:
        response = await self.call(user, method, service, path, json=body, **kw)
        return response.json() if response.content else None

    @asynccontextmanager
    async def stream(
        self, user: User, service: str, path: str, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> AsyncIterator[httpx.Response]:
        request = self.client.build_request(
            "GET", self.url(service, path), params=params, headers={**self.headers(user), **headers}
        )
        response = await self.client.send(request, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def close(self) -> None:
        await self.client.aclose()

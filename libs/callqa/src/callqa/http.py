"""HTTP conventions every API follows: RFC 9457 problem details and offset pagination."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Annotated, Any, Generic, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)
T = TypeVar("T")


def no_control_characters(value: str) -> str:
    """Refuse control characters (NUL included, which PostgreSQL cannot store) and lone surrogates."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise ValueError(f"must not contain control characters (found U+{ord(ch):04X})")
    return value


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# Text a client sends that ends up stored, logged or compared in SQL.
PlainText = Annotated[str, AfterValidator(no_control_characters)]
# The same, and something must be there: ids, names, reasons.
NonBlankText = Annotated[str, AfterValidator(no_control_characters), AfterValidator(not_blank)]


class FieldError(BaseModel):
    field: str = Field(description="path of the offending field, e.g. 'metadata.consent.status'")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise from anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            type=type_, title=title, status=status, detail=detail, errors=list(errors) if errors else None
        )
        self.headers = headers or {}


def problem_response(problem: Problem, request: Request, headers: dict[str, str] | None = None) -> JSONResponse:
    problem.instance = problem.instance or str(request.url.path)
    return JSONResponse(
        problem.model_dump(exclude_none=True), status_code=problem.status, media_type=PROBLEM_JSON, headers=headers
    )


@dataclass(frozen=True)
class ErrorAnswer:
    """How a domain error answers over HTTP. Each service lists its errors in one table of these
    (`build_app(errors=...)`); the domain code raises plain exceptions and knows nothing of HTTP.

    An exception may refine its answer with its own `status`, `title`, `detail` or `errors` attributes
    (e.g. audio refused as too large, unsupported or undecodable).
    """

    status: int
    title: str
    field: str | None = None  # the request field at fault, named in the problem's `errors`
    headers: Mapping[str, str] = dataclass_field(default_factory=dict)

    def respond(self, request: Request, exc: Exception) -> JSONResponse:
        detail = getattr(exc, "detail", None) or (str(exc.args[0]) if exc.args else None)
        title = getattr(exc, "title", None) or self.title
        errors = getattr(exc, "errors", None)
        if errors is None and self.field:
            errors = [FieldError(field=self.field, message=detail or title)]
        status = getattr(exc, "status", None) or self.status
        problem = Problem(title=title, status=status, detail=detail, errors=errors)
        return problem_response(problem, request, dict(self.headers) or None)


def install_error_answers(app: FastAPI, answers: Mapping[type[Exception], ErrorAnswer]) -> None:
    for error, answer in answers.items():

        async def respond(request: Request, exc: Exception, answer: ErrorAnswer = answer) -> JSONResponse:
            return answer.respond(request, exc)

        app.add_exception_handler(error, respond)


def field_path(loc: Sequence[int | str]) -> str:
    # FastAPI prefixes the source ("body", "query"); the client knows the field by the rest.
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else list(map(str, loc))
    return ".".join(parts) or "request"


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.problem.model_copy(), request, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [FieldError(field=field_path(e["loc"]), message=e["msg"]) for e in exc.errors()]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return problem_response(Problem(title="Invalid request", status=422, detail=detail, errors=errors), request)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        title = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        return problem_response(Problem(title=title, status=exc.status_code), request, dict(exc.headers or {}))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(Problem(title="Internal server error", status=500), request)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": text}
    for status, text in {
        401: "Missing or invalid credentials",
        403: "Authenticated but lacking the required role",
        422: "Invalid request; `errors` names each field at fault",
    }.items()
}


# The largest integer any API takes (offsets, versions): a PostgreSQL INTEGER, and far beyond any real
# page or version. Unbounded, 2**63 overflowed the database driver and answered 500, not 422.
MAX_INT = 2**31 - 1


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: int = Query(50, ge=1, le=500, description="page size"),
    offset: int = Query(0, ge=0, le=MAX_INT, description="items to skip"),
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page, null on the last page")

    @classmethod
    def of(cls, items: list[T], total: int, params: PageParams) -> Page[T]:
        following = params.offset + len(items)
        return cls(
            items=items,
            total=total,
            limit=params.limit,
            offset=params.offset,
            next_offset=following if following < total else None,
        )

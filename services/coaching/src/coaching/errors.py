"""Domain errors; `main.py` maps each to its HTTP answer (callqa.http.ErrorAnswer)."""

from __future__ import annotations

from coaching.appeals import AppealRefused
from coaching.quota import NoObservedCalls
from coaching.scoring import InvalidDecision, ItemNotInScorecard

__all__ = [
    "AppealRefused",
    "Invalid",
    "InvalidDecision",
    "ItemNotInScorecard",
    "NoObservedCalls",
    "NotFound",
    "NotYours",
    "RevisionRequired",
    "StaleRevision",
    "WrongState",
]


class NotFound(KeyError):
    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident!r} not found")
        self.detail = f"{what} {ident!r} not found"


class NotYours(PermissionError):
    """The caller holds the role but not this object (another agent's evaluation, another's review)."""


class WrongState(Exception):
    """The transition is not allowed from the object's state (409, naming both)."""


class StaleRevision(Exception):
    """If-Match names an older revision than the stored one (409)."""

    def __init__(self, expected: int, given: str, what: str = "review") -> None:
        super().__init__(f"the {what} is at revision {expected}, the request was based on {given}")


class RevisionRequired(Exception):
    """A change to a review or a plan without If-Match (428)."""


def etag_of(revision: int) -> str:
    return f'"{revision}"'


def check_revision(revision: int, if_match: str | None, what: str) -> None:
    """Optimistic concurrency: the change must be based on the stored revision (the ETag sent back as If-Match)."""
    if if_match is None:
        raise RevisionRequired(f"send If-Match with the {what}'s ETag (its revision)")
    given = if_match.strip().removeprefix("W/").strip('"')
    if given != str(revision):
        raise StaleRevision(revision, if_match, what)


class Invalid(ValueError):
    """A request that is well-formed but not acceptable (422, naming the field when one is at fault)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.errors = [{"field": field, "message": message}]

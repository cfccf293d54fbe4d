"""build_app's OpenAPI says what the problem handlers answer: every error is a Problem document, and the
answers a route gives by its shape (404 for a path or a body naming an object, 400 for an unparsable body, 416 for a
Range header) are documented whether or not the route lists them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header

from callqa.http import PROBLEM_JSON, PROBLEM_RESPONSES
from callqa.service import build_app
from callqa.settings import ServiceSettings

router = APIRouter(prefix="/things", responses=PROBLEM_RESPONSES)


@router.get("/{thing_id}", responses={410: {"description": "gone"}})
def get_thing(thing_id: str, range_header: Annotated[str | None, Header(alias="Range")] = None) -> dict[str, str]:
    return {"id": thing_id}


@router.post("")
def post_thing(thing: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    return thing


def test_error_answers_are_problem_documents_and_shaped_answers_are_documented() -> None:
    document = build_app(ServiceSettings(), title="t", description="", routers=[router]).openapi()
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    get = document["paths"]["/things/{thing_id}"]["get"]["responses"]
    post = document["paths"]["/things"]["post"]["responses"]
    assert {"401", "403", "404", "410", "416", "422"} <= set(get) and "400" not in get
    assert {"400", "401", "403", "404", "422"} <= set(post) and "416" not in set(post)  # a body may name an object
    for responses in (get, post):
        for status, response in responses.items():
            assert (response.get("content") == problem) == (status[0] == "4"), status
    readyz = document["paths"]["/readyz"]["get"]["responses"]["503"]
    assert readyz["content"] == {"application/json": {}}, "readiness answers its own JSON, not a problem"

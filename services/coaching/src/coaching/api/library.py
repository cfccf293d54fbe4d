"""/v1/library-items, /v1/learning-assignments, /v1/learning-records, /v1/faq: the training library (seed 001)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from callqa.events import utcnow
from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, page_params
from coaching.api.deps import Agent, Curator, LibraryDep, Reader, Teacher, problems
from coaching.library import Clip
from coaching.schemas import (
    FaqOut,
    LearningAssignmentIn,
    LearningAssignmentOut,
    LearningRecordIn,
    LearningRecordOut,
    LibraryItemFields,
    LibraryItemIn,
    LibraryItemOut,
)

items = APIRouter(prefix="/v1/library-items", tags=["library"], responses=PROBLEM_RESPONSES)
learning = APIRouter(prefix="/v1/learning-assignments", tags=["library"], responses=PROBLEM_RESPONSES)
records = APIRouter(prefix="/v1/learning-records", tags=["library"], responses=PROBLEM_RESPONSES)
faq = APIRouter(prefix="/v1/faq", tags=["library"], responses=PROBLEM_RESPONSES)
ItemId = Annotated[str, Path(max_length=36)]


@items.post("", response_model=LibraryItemOut, status_code=201, summary="Curate a call as exemplary or problem")
def create_item(body: LibraryItemIn, principal: Curator, library: LibraryDep) -> LibraryItemOut:
    fields = {name: value for name, value in body.model_dump().items() if value is not None}
    return LibraryItemOut.of(library.create(principal, fields))


@items.get("", response_model=Page[LibraryItemOut], summary="Library items (agents: those assigned to them)")
def list_items(
    principal: Reader,
    library: LibraryDep,
    page: Annotated[PageParams, Depends(page_params)],
    kind: Literal["exemplary", "problem"] | None = None,
) -> Page[LibraryItemOut]:
    rows, total = library.search(principal, kind=kind, limit=page.limit, offset=page.offset)
    return Page[LibraryItemOut].of([LibraryItemOut.of(i) for i in rows], total, page)


@items.get("/{item_id}", response_model=LibraryItemOut, summary="One library item")
def get_item(item_id: ItemId, principal: Reader, library: LibraryDep) -> LibraryItemOut:
    return LibraryItemOut.of(library.get(principal, item_id))


@items.put("/{item_id}", response_model=LibraryItemOut, summary="Edit a library item")
def edit_item(item_id: ItemId, body: LibraryItemFields, principal: Curator, library: LibraryDep) -> LibraryItemOut:
    fields = {name: value for name, value in body.model_dump(exclude_unset=True).items() if value is not None}
    return LibraryItemOut.of(library.edit(principal, item_id, fields))


@items.get(
    "/{item_id}/breakpoints/{index}/audio",
    summary="A breakpoint's range of the redacted audio: `prompt` (up to the pause) or `reply` (the model reply)",
    response_class=Response,
    responses={
        200: {
            "content": {"audio/wav": {}, "application/json": {}},
            "description": "the clip, or {url} for delivery=url",
        },
        **problems(409),
    },
)
def breakpoint_audio(
    item_id: ItemId,
    index: Annotated[int, Path(ge=0, le=99)],
    principal: Reader,
    library: LibraryDep,
    part: Literal["prompt", "reply"] = "prompt",
    delivery: Literal["stream", "url"] = "stream",
) -> Response:
    found = library.audio(principal, item_id, index, part, delivery)
    if isinstance(found, Clip):
        return Response(found.body, media_type=found.media_type)
    return Response(json.dumps({"url": found}), media_type="application/json")


@learning.post(
    "", response_model=list[LearningAssignmentOut], status_code=201, summary="Assign a library item to agents"
)
def assign(body: LearningAssignmentIn, principal: Teacher, library: LibraryDep) -> list[LearningAssignmentOut]:
    made = library.assign(principal, body.library_item_id, list(body.agent_ids), body.plan_id, body.due_at)
    return [LearningAssignmentOut.of(a) for a in made]


@learning.get("", response_model=Page[LearningAssignmentOut], summary="Learning assignments (agents: their own)")
def list_assignments(
    principal: Reader,
    library: LibraryDep,
    page: Annotated[PageParams, Depends(page_params)],
    agent_id: Annotated[PlainText | None, Query(max_length=100)] = None,
) -> Page[LearningAssignmentOut]:
    rows, total = library.assignments(principal, agent_id=agent_id, limit=page.limit, offset=page.offset)
    return Page[LearningAssignmentOut].of([LearningAssignmentOut.of(a) for a in rows], total, page)


@learning.post(
    "/{assignment_id}/complete",
    response_model=LearningAssignmentOut,
    summary="The agent has studied it",
    responses=problems(409),
)
def complete(
    assignment_id: Annotated[str, Path(max_length=36)], principal: Agent, library: LibraryDep
) -> LearningAssignmentOut:
    return LearningAssignmentOut.of(library.complete(principal, assignment_id))


@records.post("", response_model=LearningRecordOut, status_code=201, summary="An agent's learning record")
def write_record(body: LearningRecordIn, principal: Agent, library: LibraryDep) -> LearningRecordOut:
    fields = body.model_dump()
    fields["day"] = fields["day"] or utcnow().date()
    return LearningRecordOut.of(library.record(principal, fields))


@records.get("", response_model=Page[LearningRecordOut], summary="Learning records (agents: their own)")
def list_records(
    principal: Reader,
    library: LibraryDep,
    page: Annotated[PageParams, Depends(page_params)],
    agent_id: Annotated[PlainText | None, Query(max_length=100)] = None,
    plan_id: Annotated[PlainText | None, Query(max_length=36)] = None,
) -> Page[LearningRecordOut]:
    rows, total = library.records(principal, agent_id=agent_id, plan_id=plan_id, limit=page.limit, offset=page.offset)
    return Page[LearningRecordOut].of([LearningRecordOut.of(r) for r in rows], total, page)


@records.get("/{record_id}", response_model=LearningRecordOut, summary="One learning record")
def get_record(
    record_id: Annotated[str, Path(max_length=36)], principal: Reader, library: LibraryDep
) -> LearningRecordOut:
    return LearningRecordOut.of(library.get_record(principal, record_id))


@faq.get(
    "",
    response_model=FaqOut,
    summary="What customers ask first, grouped, with the best answers (stored; `computed_at`, `stale`)",
)
def get_faq(
    _: Reader,
    library: LibraryDep,
    min_calls: Annotated[int, Query(ge=1, le=10_000)] = 2,
) -> FaqOut:
    return FaqOut.of(*library.faq(min_calls=min_calls))


@faq.post("/refresh", response_model=FaqOut, summary="Recompute the FAQ now (else the periodic task does when due)")
def refresh_faq(
    _: Teacher,
    library: LibraryDep,
    min_calls: Annotated[int, Query(ge=1, le=10_000)] = 2,
) -> FaqOut:
    library.refresh_faq(force=True)
    return FaqOut.of(*library.faq(min_calls=min_calls))

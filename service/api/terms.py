"""Offices and their terms: who held a post over which valid time (domain.offices)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
from pydantic import ConfigDict, Field

from service.api.deps import Reading, Writing
from service.api.errors import actor_not_found, problems
from service.api.schemas import ActorId, DateTimeParam, RequestModel, RetractionIn, SourceIn
from service.views import term_retraction_view, term_view

router = APIRouter(tags=["offices"])
REPLAYED = "Already recorded with the same content: the stored term, nothing stored"


class TermIn(RequestModel):
    """`person` held the office over valid time [from, to); `to` absent or null: still holds it."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=False,
        json_schema_extra={
            "examples": [
                {
                    "person": "andrei-belousov",
                    "from": "2024-05-14",
                    "to": None,
                    "sources": [
                        {
                            "name": "Kremlin: decree appointing the Minister of Defence",
                            "url": None,
                            "published_at": "2024-05-14",
                        }
                    ],
                }
            ]
        },
    )

    id: UUID | None = Field(default=None, description="chosen by the client: retries are safe")
    person: ActorId
    start: str = Field(alias="from", max_length=40, description="an ISO date or UTC datetime")
    end: str | None = Field(
        default=None, alias="to", max_length=40, description="an ISO date or UTC datetime"
    )
    sources: list[SourceIn] = Field(
        default_factory=list, max_length=100, description="who reported the term"
    )


@router.post(
    "/v1/actors/{actor_id}/terms",
    status_code=201,
    responses=problems(
        400,
        401,
        403,
        404,
        409,
        413,
        422,
        others={200: {"description": REPLAYED}},
    ),
    summary="Record a term: who held an office, from when to when",
)
def record_term(
    actor_id: Annotated[ActorId, Path(description="the office")],
    body: TermIn,
    backchannel: Writing,
    response: Response,
) -> dict[str, Any]:
    """201 with the stored term; the same id and content again is 200; other content 409;
    a term overlapping another unretracted term of the office is 409 naming it."""
    data = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
    written = backchannel.record_term(actor_id, data)
    if not written.created:
        response.status_code = 200
    return term_view(written.term, written.retraction)


@router.get(
    "/v1/actors/{actor_id}/terms",
    responses=problems(401, 404, 422, 503),
    summary="An office's holders, or the offices a person held",
)
def list_terms(
    actor_id: Annotated[str, Path(max_length=300)],
    reader: Reading,
    known_at: Annotated[
        DateTimeParam | None, Query(description="as the record stood then (default: now)")
    ] = None,
) -> dict[str, Any]:
    """Ordered by `from`; retracted terms are included and marked `retracted` as of
    `known_at`."""
    with reader.view() as view:
        actor = view.actor(actor_id)
        if actor is None:
            raise actor_not_found(actor_id, view.profiles())
        at = known_at or reader.now()
        found = view.terms(actor.profile.id, at)
    return {"items": [term_view(t, r) for t, r in found], "next_cursor": None}


@router.post(
    "/v1/terms/{term_id}/retract",
    status_code=201,
    responses=problems(400, 401, 403, 404, 409, 413, 422),
    summary="Retract a term",
)
def retract_term(term_id: UUID, body: RetractionIn, backchannel: Writing) -> dict[str, Any]:
    """201 with the retraction; unknown id 404; already retracted 409."""
    done = backchannel.retract_term(term_id, body.reason)
    return term_retraction_view(done.retraction, done.term)

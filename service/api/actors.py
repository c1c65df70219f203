"""Actors: register, list and find (by any alias), change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from domain.actors import ActorKind
from service.api.deps import Reading, Writing
from service.api.errors import actor_not_found, problems
from service.api.pages import Paging, paginate
from service.api.schemas import ActorChange, ActorId, ActorIn, ActorOut, ActorPage
from service.views import actor_view

router = APIRouter(prefix="/v1/actors", tags=["actors"])

ActorName = Annotated[
    str, Path(max_length=300, description="the actor's id, or any of its names or aliases")
]


@router.post(
    "",
    status_code=201,
    response_model=ActorOut,
    responses=problems(
        400,
        401,
        403,
        409,
        413,
        422,
        others={200: {"model": ActorOut, "description": "Already registered, identically"}},
    ),
    summary="Register an actor",
)
def register_actor(body: ActorIn, backchannel: Writing, response: Response) -> dict[str, Any]:
    """201 when new; the same id again is 200 with the same content, 409 with other content."""
    written = backchannel.register_actor(body.model_dump(mode="json", exclude_unset=True))
    if written.created:
        response.headers["Location"] = f"/v1/actors/{written.actor.id}"
    else:
        response.status_code = 200
    return actor_view(written.actor, written.position)


@router.get("", response_model=ActorPage, responses=problems(401, 422, 503), summary="List actors")
def list_actors(
    reader: Reading,
    paging: Paging,
    q: Annotated[
        str | None,
        Query(max_length=300, description="part of an id, name or alias; case and accents ignored"),
    ] = None,
    country: Annotated[str | None, Query(max_length=2, description="ISO 3166-1 alpha-2")] = None,
    kind: ActorKind | None = None,
) -> dict[str, Any]:
    """Actors matching every filter given, by id."""
    with reader.view() as view:
        found = view.actors(
            q=q,
            country=country,
            kind=kind.value if kind else None,
            after=paging.after("actors"),
            limit=paging.limit + 1,
        )
    page, cursor = paginate(found, listing="actors", key=lambda a: a.profile.id, request=paging)
    return {"items": [actor_view(a.profile, a.position) for a in page], "next_cursor": cursor}


@router.get(
    "/{actor_id}",
    response_model=ActorOut,
    responses=problems(401, 404, 422, 503),
    summary="One actor, by id or alias",
)
def get_actor(actor_id: ActorName, reader: Reading) -> dict[str, Any]:
    """The actor with this id, or else the one this name or alias (folded) belongs to."""
    with reader.view() as view:
        actor = view.actor(actor_id)
        if actor is None:
            raise actor_not_found(actor_id, view.profiles())
        return actor_view(actor.profile, actor.position)


@router.patch(
    "/{actor_id}",
    response_model=ActorOut,
    responses=problems(400, 401, 403, 404, 409, 413, 422),
    summary="Rename an actor, change its role, sector or Wikidata id, add aliases",
)
def change_actor(
    actor_id: Annotated[ActorId, Path()], body: ActorChange, backchannel: Writing
) -> dict[str, Any]:
    """Appends one event per actual change; `position` is the log position after them."""
    written = backchannel.update_actor(
        actor_id,
        name=body.name,
        role=body.role,
        sector=body.sector,
        wikidata=body.wikidata,
        aliases=body.aliases,
    )
    return actor_view(written.actor, written.position)

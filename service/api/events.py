"""Contact events: append one or a batch (idempotently), read them, retract them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from starlette.convertors import Convertor, register_url_convertor

from domain.errors import NotFound
from domain.events import EventType, channel_id
from infra.readmodel import event_key
from service.api.deps import Metrics, Reading, Writing
from service.api.errors import problems
from service.api.files import EventsFormat, attachment, every_event, file_responses, lookup
from service.api.pages import Paging, paginate
from service.api.schemas import (
    BatchIn,
    BatchOut,
    DateTimeParam,
    EndParam,
    EventIn,
    EventOut,
    EventPage,
    RetractionIn,
    RetractionOut,
    StartParam,
)
from service.exports import events_csv, events_jsonl, plover_lines
from service.queries import ReadModel
from service.views import event_view, retraction_event_view

router = APIRouter(prefix="/v1/events", tags=["events"])


class EventIdConvertor(Convertor[str]):
    """An event id in a path: a UUID in either case, so `/v1/events/batch` is never one."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("event_id", EventIdConvertor())

REPLAYED = "Already recorded with the same content: the stored event, nothing stored"


def events_page(
    view: ReadModel, paging: Paging, known_at: datetime, listing: str, **filters: Any
) -> dict[str, Any]:
    """A page of events as the log stood at `known_at`, each marked if retracted by then."""
    after = paging.after_key(listing, 2)
    found = view.events(
        known_at=known_at,
        after=(after[0], after[1]) if after is not None else None,
        limit=paging.limit + 1,
        **filters,
    )
    page, cursor = paginate(
        found,
        listing=listing,
        key=lambda item: event_key(item[0]),
        request=paging,
        pins={"known_at": known_at},
    )
    items = [event_view(contact, retraction) for contact, retraction in page]
    return {"items": items, "next_cursor": cursor}


@router.post(
    "",
    status_code=201,
    response_model=EventOut,
    responses=problems(
        400,
        401,
        403,
        409,
        413,
        422,
        others={
            201: {"headers": {"Location": {"schema": {"type": "string"}, "required": True}}},
            200: {"model": EventOut, "description": REPLAYED},
        },
    ),
    summary="Append one event",
)
async def record_event(
    body: EventIn, backchannel: Writing, metrics: Metrics, response: Response
) -> dict[str, Any]:
    """201 with the stored event and its Location; 200 for a replay; 409 for an id reused."""
    written = await backchannel.record_fact_async(body.fact())
    if written.created:
        metrics.appended([written.contact.type.value])
        response.headers["Location"] = f"/v1/events/{written.contact.id}"
    else:
        response.status_code = 200
    return event_view(written.contact, written.retraction)


@router.post(
    "/batch",
    status_code=201,
    response_model=BatchOut,
    responses=problems(
        400,
        401,
        403,
        409,
        413,
        422,
        others={200: {"model": BatchOut, "description": "Every event was a replay"}},
    ),
    summary="Append up to 1000 events, atomically",
)
def record_batch(
    body: BatchIn, backchannel: Writing, metrics: Metrics, response: Response
) -> dict[str, Any]:
    """All stored or none; a broken item is named by its index in `errors[].loc`."""
    written = backchannel.record_facts([event.fact() for event in body.events])
    created = [w for w in written if w.created]
    metrics.appended(w.contact.type.value for w in created)
    if not created:
        response.status_code = 200
    return {
        "events": [event_view(w.contact, w.retraction) for w in written],
        "created": len(created),
        "position": max(w.position for w in written),
    }


@router.get(
    "",
    response_model=EventPage,
    responses=problems(401, 422, 503, others=file_responses("csv", "jsonl")),
    summary="List events, by occurred_at then position",
    description="Events recorded by `known_at` matching every filter. With `format`, every "
    "matching event (not paginated) as a file, streamed, with `Content-Disposition: "
    "attachment`: `csv` (one row each), `jsonl` (this shape, one per line) or `plover` "
    "(PLOVER records, one JSON object per line; retracted events, statements and hotline "
    "tests left out).",
)
def list_events(
    reader: Reading,
    paging: Paging,
    channel: Annotated[
        str | None,
        Query(max_length=300, description="a channel id, `a~b` (actors in either order)"),
    ] = None,
    actor: Annotated[
        str | None, Query(max_length=300, description="an actor on either side (id or alias)")
    ] = None,
    type: Annotated[
        list[EventType] | None, Query(description="one or more types (repeat the parameter)")
    ] = None,
    occurred_from: Annotated[StartParam | None, Query(description="a date means its start")] = None,
    occurred_to: Annotated[EndParam | None, Query(description="a date means its end")] = None,
    known_at: Annotated[
        DateTimeParam | None,
        Query(
            description="read the log as it stood then: later events are left out (default: now)"
        ),
    ] = None,
    format_: Annotated[
        EventsFormat | None, Query(alias="format", description="a file instead of a page")
    ] = None,
) -> Any:
    """Events recorded by `known_at` matching every filter; `retracted` is set on those
    retracted by then (they no longer count toward any status)."""
    with reader.view() as view:
        known = paging.pinned("known_at", known_at, reader.now())
        filters: dict[str, Any] = {
            "channel": _channel(view, channel) if channel is not None else None,
            "actor": view.id_of(actor) if actor is not None else None,
            "types": type or (),
            "occurred_from": occurred_from,
            "occurred_to": occurred_to,
        }
        if format_ is not None:
            every = every_event(view, known, **filters)
            if format_ is EventsFormat.CSV:
                return attachment(events_csv(every), "csv", "events")
            if format_ is EventsFormat.JSONL:
                return attachment(events_jsonl(every), "jsonl", "events")
            return attachment(plover_lines(every, lookup(view)), "plover", "events")
        return events_page(view, paging, known, "events", **filters)


@router.get(
    "/{event_id:event_id}",
    response_model=EventOut,
    responses=problems(401, 404, 422, 503),
    summary="One event, with its retraction if it was retracted",
)
def get_event(event_id: UUID, reader: Reading) -> dict[str, Any]:
    """The stored event; `retracted` is `{at, reason, by_event}` or null."""
    with reader.view() as view:
        found = view.event(event_id)
    if found is None:
        raise NotFound(f"no event {event_id}")
    return event_view(*found)


@router.post(
    "/{event_id:event_id}/retract",
    status_code=201,
    response_model=RetractionOut,
    responses=problems(400, 401, 403, 404, 409, 413, 422),
    summary="Retract an event",
)
def retract_event(event_id: UUID, body: RetractionIn, backchannel: Writing) -> dict[str, Any]:
    """From now on the event no longer counts; reads with an earlier `known_at` still see it."""
    written = backchannel.retract(event_id, body.reason)
    return retraction_event_view(written.retraction, written.contact)


def _channel(view: ReadModel, text: str) -> str:
    first, tilde, second = text.partition("~")
    if not tilde:
        return text  # matches no channel: the list is empty
    return channel_id(view.id_of(first), view.id_of(second))

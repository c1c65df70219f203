"""Channels: every channel's status, one channel's status, its timeline and its events.

Actors in a path may be given by id or by any name or alias (case and accents
ignored), in either order. The status rule itself lives in domain/status.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.exceptions import RequestValidationError

from domain.countries import country_pair
from domain.events import channel_id
from domain.status import Status
from service.api.deps import Reading
from service.api.errors import NOT_FOUND, ApiProblem, actor_not_found, problems
from service.api.events import events_page
from service.api.files import (
    BoardFormat,
    NetworkFormat,
    TimelineFormat,
    attachment,
    every_event,
    file_responses,
)
from service.api.pages import Paging, paginate
from service.api.readiness import LAG_HEADER, POSITION_HEADER
from service.api.schemas import (
    DateTimeParam,
    EndParam,
    EventPage,
    StartParam,
    StatusOut,
    StatusPage,
    TimelineOut,
)
from service.exports import channels_csv, gexf, network, network_json, timelinejs
from service.queries import ReadModel
from service.views import interval_view, status_view, timestamp

router = APIRouter(prefix="/v1/channels", tags=["channels"])

# What the projected reads (the board, a status, a timeline) say about their freshness.
PROJECTED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Read from the channel read model, which follows the log",
        "headers": {
            POSITION_HEADER: {
                "description": "the log position the read model had processed when this was "
                "read: the answer holds every event up to it",
                "schema": {"type": "integer", "minimum": 0},
            },
            LAG_HEADER: {
                "description": "events in the log not yet in the read model (head minus "
                "position): 0 for an up-to-date answer",
                "schema": {"type": "integer", "minimum": 0},
            },
        },
    }
}
FILE = (
    " With `format`, every matching row (not paginated) as a file, streamed, with "
    "`Content-Disposition: attachment`."
)


def _with_files(*formats: str) -> dict[int | str, dict[str, Any]]:
    """PROJECTED's 200, which may also be one of these files."""
    return {200: {**PROJECTED[200], **file_responses(*formats)[200]}}


LAGGING = (
    " Projected: the answer carries `X-Backchannel-Position` and `X-Backchannel-Lag`; while "
    "the read model is still catching up with the log after the service started, it is a "
    "503 (Retry-After, `position`, `lag`) instead, unless `min_position` is reached."
)

ActorA = Annotated[str, Path(max_length=300, description="one actor: id, name or alias")]
ActorB = Annotated[str, Path(max_length=300, description="the other actor: id, name or alias")]
AsOf = Annotated[
    EndParam | None,
    Query(description="valid time to judge at; a date means its end, UTC (default: now)"),
]
KnownAt = Annotated[
    DateTimeParam | None,
    Query(description="read the record as it was at this transaction time (default: now)"),
]
Countries = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z]{2},[A-Za-z]{2}$",
        description="only channels between an actor of one country and an actor of the "
        "other: two ISO 3166-1 alpha-2 codes, comma-separated (`RU,US`)",
    ),
]


class ChannelKind(StrEnum):
    """Which channels a list holds instead of the board's."""

    OFFICE = "office"


Kind = Annotated[
    ChannelKind | None,
    Query(
        description="`office`: instead of the board, every pair of offices (two actors of "
        "kind `office`) with at least one event under the office rule at (`as_of`, "
        "`known_at`): events recorded between the two offices, and events between their "
        "holders while their terms held them (retracted terms no longer count). Absent: the "
        "board, the channels with at least one event recorded between their own two actors, "
        "so office channels never repeat facts in it. Not with `countries`, whose pairs "
        "leave office channels out.",
    ),
]


@router.get(
    "",
    response_model=StatusPage,
    responses=problems(401, 422, 503, others=_with_files("csv")),
    summary="Every channel with at least one event, with its status",
    description="Statuses at (`as_of`, `known_at`), by channel id; filtered by status, actor "
    "and country pair (`countries`: the channels `/v1/countries` counts for that pair, office "
    "channels left out). `kind=office`: the pairs of offices instead, with the same filters "
    "but `countries`, in the same status objects."
    + LAGGING
    + FILE
    + " `csv`: one row per channel, the status object's fields (maps as `actor:count;…`, "
    "lists as values joined by spaces, `last_contact` as three columns).",
)
def list_channels(
    reader: Reading,
    paging: Paging,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    status: Status | None = None,
    actor: Annotated[
        str | None, Query(max_length=300, description="only channels of this actor (id or alias)")
    ] = None,
    countries: Countries = None,
    kind: Kind = None,
    format_: Annotated[
        BoardFormat | None, Query(alias="format", description="a file instead of a page")
    ] = None,
) -> Any:
    """Statuses at (`as_of`, `known_at`), by channel id; filtered by status, actor and pair;
    with `kind=office`, the channels between two offices instead of the board."""
    offices = kind is ChannelKind.OFFICE
    if offices and countries is not None:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "countries"),
                    "msg": "not with kind=office: a country pair's channels leave office "
                    "channels out",
                }
            ]
        )
    listing = "office-channels" if offices else "channels"
    with reader.view() as view:
        now = reader.now()
        when = paging.pinned("as_of", as_of, now)
        known = paging.pinned("known_at", known_at, now)
        party = view.id_of(actor) if actor is not None else None
        pair = country_pair(*countries.split(",")) if countries is not None else None
        if format_ is not None:
            every = view.board(
                as_of=when,
                known_at=known,
                status=status,
                actor=party,
                countries=pair,
                offices=offices,
            )
            return attachment(channels_csv(every), format_.value, listing)
        board = view.board(
            as_of=when,
            known_at=known,
            status=status,
            actor=party,
            countries=pair,
            offices=offices,
            after=paging.after(listing),
            limit=paging.limit + 1,
        )
        page, cursor = paginate(
            board,
            listing=listing,
            key=lambda answer: answer.channel,
            request=paging,
            pins={"as_of": when, "known_at": known},
        )
        # In the response model's shape already: answered as is, not validated again.
        return reader.answer(
            {"items": [status_view(answer) for answer in page], "next_cursor": cursor}
        )


@router.get(
    "/{a}/{b}",
    response_model=StatusOut,
    responses=problems(401, 404, 422, 503, others=PROJECTED),
    summary="One channel's status",
    description="The status at (`as_of`, `known_at`); `no_contact` if the two never interacted."
    + LAGGING,
)
def channel_status(
    a: ActorA, b: ActorB, reader: Reading, as_of: AsOf = None, known_at: KnownAt = None
) -> Response:
    """The status at (`as_of`, `known_at`); `no_contact` if the two never interacted."""
    reader.caught_up()
    now = reader.now()
    # The actors, the status, and the position it reflects: one read, one snapshot.
    read = reader.readmodel.status_read(a, b, as_of=as_of or now, known_at=known_at or now)
    reader.stamp(read.position, read.head)
    if read.first is None or read.second is None:
        unknown = a if read.first is None else b
        raise actor_not_found(unknown, reader.readmodel.profiles())
    if read.status is None:  # both known, and the same actor
        raise ApiProblem(404, f"no channel joins {read.first!r} to itself", type=NOT_FOUND)
    return reader.answer(status_view(read.status))


@router.get(
    "/{a}/{b}/timeline",
    response_model=TimelineOut,
    responses=problems(401, 404, 422, 503, others=_with_files("timelinejs")),
    summary="A channel's status intervals over valid time",
    description="The intervals `[{status, from, to, evidence}]` that overlap [`from`, `to`]."
    + LAGGING
    + FILE
    + " `timelinejs`: a TimelineJS 3 document, the channel's events (`start_date`, `text`, "
    "`group` = type) and the intervals as `eras`.",
)
def channel_timeline(
    a: ActorA,
    b: ActorB,
    reader: Reading,
    paging: Paging,
    from_: Annotated[
        StartParam | None, Query(alias="from", description="a date means its start")
    ] = None,
    to: Annotated[EndParam | None, Query(description="a date means its end")] = None,
    known_at: KnownAt = None,
    format_: Annotated[
        TimelineFormat | None, Query(alias="format", description="a file instead of a page")
    ] = None,
) -> Any:
    """The intervals `[{status, from, to, evidence}]` that overlap [`from`, `to`]."""
    with reader.view() as view:
        first, second = _parties(view, a, b)
        known = paging.pinned("known_at", known_at, reader.now())
        intervals = view.timeline(first, second, known_at=known)
        shown = [(i, v) for i, v in enumerate(intervals) if v.overlaps(from_, to)]
        if format_ is not None:
            channel = channel_id(first, second)
            events = (
                contact
                for contact, retraction in every_event(
                    view, known, channel=channel, occurred_from=from_, occurred_to=to
                )
                if retraction is None
            )
            document = timelinejs(
                channel, [v for _, v in shown], events, known_at=known, until=to or reader.now()
            )
            return attachment(document, format_.value, channel)
        page, cursor = paginate(
            shown,
            listing="timeline",
            key=lambda item: (item[0],),
            request=paging,
            pins={"known_at": known},
        )
    return {
        "channel": channel_id(first, second),
        "known_at": timestamp(known),
        "items": [interval_view(interval) for _, interval in page],
        "next_cursor": cursor,
    }


@router.get(
    "/{a}/{b}/events",
    response_model=EventPage,
    responses=problems(401, 404, 422, 503),
    summary="A channel's events, by occurred_at then position",
)
def channel_events(
    a: ActorA, b: ActorB, reader: Reading, paging: Paging, known_at: KnownAt = None
) -> dict[str, Any]:
    """The channel's events recorded by `known_at`, marked `retracted` if retracted by then."""
    with reader.view() as view:
        first, second = _parties(view, a, b)
        known = paging.pinned("known_at", known_at, reader.now())
        return events_page(view, paging, known, "channel-events", channel=channel_id(first, second))


def _parties(view: ReadModel, a: str, b: str) -> tuple[str, str]:
    """The two actors' ids; 404 if either is unknown or both are the same actor."""
    first, second = _party(view, a), _party(view, b)
    if first == second:
        raise ApiProblem(404, f"no channel joins {first!r} to itself", type=NOT_FOUND)
    return first, second


def _party(view: ReadModel, name: str) -> str:
    found = view.actor_id(name)
    if found is None:
        raise actor_not_found(name, view.profiles())
    return found


network_router = APIRouter(prefix="/v1", tags=["channels"])


@network_router.get(
    "/network",
    responses=problems(401, 422, 503, others=_with_files("gexf")),
    summary="The board as a graph: actors as nodes, channels as edges",
    description="`{nodes: [actors], edges: [{channel, source, target, status, event_count}]}` "
    "at (`as_of`, `known_at`); `format=gexf`: the same graph as GEXF 1.3, the statuses as "
    "edge attributes, as a file." + LAGGING,
)
def board_network(
    reader: Reading,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    format_: Annotated[
        NetworkFormat | None, Query(alias="format", description="`json` (default) or `gexf`")
    ] = None,
) -> Any:
    """The board's channels at (`as_of`, `known_at`) as a graph."""
    with reader.view() as view:
        now = reader.now()
        answers = list(view.board(as_of=as_of or now, known_at=known_at or now))
        profiles = {p.id: p for p in view.profiles()}
    graph = network(profiles, answers)
    if format_ is NetworkFormat.GEXF:
        return attachment(gexf(graph), "gexf", "network")
    return reader.answer(network_json(graph, profiles))

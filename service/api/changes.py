"""What changed: transitions over valid time, revisions over record time.

Both are answered from the read model's segments (see infra/readmodel/history.py);
what they are is defined once, in domain/changes.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from domain.events import channel_id
from infra.readmodel import transition_key
from service.api.channels import LAGGING, PROJECTED, AsOf, Countries, KnownAt
from service.api.deps import Reading
from service.api.errors import problems
from service.api.pages import Paging, paginate
from service.api.schemas import DateTimeParam, EndParam, RevisionPage, TransitionPage
from service.queries import ReadModel
from service.views import revision_view, transition_view

router = APIRouter(prefix="/v1", tags=["what changed"])

DEFAULT_RANGE = timedelta(days=7)

Actor = Annotated[
    str | None, Query(max_length=300, description="only channels of this actor (id or alias)")
]
Channel = Annotated[
    str | None,
    Query(
        max_length=300,
        pattern=r"^[^~]+~[^~]+$",
        description="only this channel: its two actors (ids or aliases) joined by `~`",
    ),
]


@router.get(
    "/transitions",
    response_model=TransitionPage,
    responses=problems(401, 422, 503, others=PROJECTED),
    summary="Every change of status on the board's channels over a valid-time range",
    description="The boundaries of the channels' timelines at valid times `from < at <= to` "
    "(both read like `as_of`: a date means its end; default `to` now, `from` seven days "
    "before `to`), as the record stood at `known_at`, lapses no event marks included; by `at`, "
    "then channel. `evidence` is that of the interval beginning at `at`. A range that ends "
    "before it starts holds no transition." + LAGGING,
)
def list_transitions(
    reader: Reading,
    paging: Paging,
    from_: Annotated[
        EndParam | None,
        Query(
            alias="from", description="exclusive; a date means its end (default: `to` minus 7 days)"
        ),
    ] = None,
    to: Annotated[
        EndParam | None, Query(description="inclusive; a date means its end (default: now)")
    ] = None,
    known_at: KnownAt = None,
    actor: Actor = None,
    channel: Channel = None,
    countries: Countries = None,
) -> dict[str, Any]:
    """The timelines' boundaries in (`from`, `to`] as known at `known_at`."""
    with reader.view() as view:
        now = reader.now()
        end = paging.pinned("to", to, now)
        start = paging.pinned("from", from_, _week_before(end))
        known = paging.pinned("known_at", known_at, now)
        found = view.transitions(
            start=start,
            end=end,
            known_at=known,
            **_which(view, actor, channel, countries),
            after=paging.after_instant("transitions"),
            limit=paging.limit + 1,
        )
        page, cursor = paginate(
            found,
            listing="transitions",
            key=transition_key,
            request=paging,
            pins={"from": start, "to": end, "known_at": known},
        )
        return {"items": [transition_view(t) for t in page], "next_cursor": cursor}


@router.get(
    "/revisions",
    response_model=RevisionPage,
    responses=problems(401, 422, 503, others=PROJECTED),
    summary="What the record learned between two transaction times",
    description="Every board channel whose answer at `as_of` (its status, and since when) "
    "differs between `known_at=since` and `known_at=until` (default: now); `as_of` defaults "
    "to `until`. With each, the channel's events recorded in (`since`, `until`] and those "
    "whose retraction was recorded then (none when `until` is before `since`); by channel id."
    + LAGGING,
)
def list_revisions(
    reader: Reading,
    paging: Paging,
    since: Annotated[DateTimeParam, Query(description="the earlier transaction time")],
    until: Annotated[
        DateTimeParam | None, Query(description="the later transaction time (default: now)")
    ] = None,
    as_of: AsOf = None,
    actor: Actor = None,
    channel: Channel = None,
    countries: Countries = None,
) -> dict[str, Any]:
    """The channels whose answer at `as_of` the record revised in (`since`, `until`]."""
    with reader.view() as view:
        later = paging.pinned("until", until, reader.now())
        when = paging.pinned("as_of", as_of, later)
        found = view.revisions(
            since=since,
            until=later,
            as_of=when,
            **_which(view, actor, channel, countries),
            after=paging.after("revisions"),
            limit=paging.limit + 1,
        )
        page, cursor = paginate(
            found,
            listing="revisions",
            key=lambda revision: revision.channel,
            request=paging,
            pins={"until": later, "as_of": when},
        )
        return {"items": [revision_view(r) for r in page], "next_cursor": cursor}


def _week_before(end: datetime) -> datetime:
    """`end` minus the default range, or the earliest instant there is."""
    try:
        return end - DEFAULT_RANGE
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def _which(
    view: ReadModel, actor: str | None, channel: str | None, countries: str | None
) -> dict[str, Any]:
    """The channel filters, with actors named by alias resolved to their ids."""
    pair = None
    if countries is not None:
        first, _, second = countries.upper().partition(",")
        pair = (first, second)
    named = None
    if channel is not None:
        a, _, b = channel.partition("~")
        named = channel_id(view.id_of(a), view.id_of(b))
    return {
        "actor": None if actor is None else view.id_of(actor),
        "channel": named,
        "countries": pair,
    }

"""The read side: every question a read asks, answered from the read model.

`ReadModel` answers what the reference replay (domain/record.py) answers —
actors by id or alias, events, channel statuses, the board and timelines —
and returns the same domain types. The answers are the pure functions' (see
domain.segments), read from indexed tables: none of them replays the log,
and none grows with its length.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from domain.actors import ActorProfile, suggest
from domain.changes import Revision, Transition
from domain.countries import Countries, CountryPair
from domain.events import EventType, RecordedContact, Retraction, channel_id
from domain.offices import RecordedTerm, TermRetraction
from domain.segments import answer, timeline_of
from domain.status import ChannelStatus, Interval, Status, timeline
from infra.readmodel import (
    ActorState,
    Channels,
    ChannelView,
    EventFilter,
    EventKey,
    Found,
    Live,
    Window,
    open_view,
    retrying,
)
from infra.readmodel.reads import ChannelRead
from infra.settings import Settings

PAGE = 101  # channels per query when a board is read lazily (an API page and one more)


@dataclass(frozen=True)
class StatusRead:
    """A channel's status read whole: the ids of the actors as named (None if no actor
    goes by the name), the status (None unless both are known and distinct), and the
    read model's position (which the answer includes) and the log's head."""

    position: int
    head: int
    first: str | None
    second: str | None
    status: ChannelStatus | None


class ReadModelUnavailable(RuntimeError):
    """The view cannot answer for these settings (built for another W: rebuild it)."""


class ReadModel:
    """Channel statuses and timelines from the live generation of the view."""

    def __init__(self, view: ChannelView, window: timedelta) -> None:
        self.view = view
        self.window = window

    @classmethod
    def open(cls, settings: Settings) -> ReadModel:
        """A read model on its own connections to the store the settings name."""
        return cls(open_view(settings), settings.window)

    def close(self) -> None:
        self.view.close()

    def status(
        self,
        a: str,
        b: str,
        *,
        as_of: datetime,
        known_at: datetime,
        window: timedelta | None = None,
    ) -> ChannelStatus:
        """The status of channel {a, b} at (as_of, known_at), as `Record.status` answers."""
        self._check(window)
        channel = channel_id(a, b)
        at = self._at(as_of, known_at)
        live, found = retrying(lambda: self.view.status_of(channel, at))
        self._check_live(live)
        return self._answer(found, as_of, known_at)

    def status_read(self, a: str, b: str, *, as_of: datetime, known_at: datetime) -> StatusRead:
        """The actors named `a` and `b`, their channel's status at (as_of, known_at), and
        the position and head, read together (on PostgreSQL in one statement)."""
        at = self._at(as_of, known_at)
        read: ChannelRead = retrying(lambda: self.view.channel_read(a, b, at))
        status = None
        if read.found is not None:
            self._check_live(read.live)
            status = self._answer(read.found, as_of, known_at)
        return StatusRead(read.position, read.head, read.first, read.second, status)

    def board(
        self,
        *,
        as_of: datetime,
        known_at: datetime,
        window: timedelta | None = None,
        status: Status | None = None,
        actor: str | None = None,
        countries: Countries | None = None,
        offices: bool = False,
        after: str | None = None,
        limit: int | None = None,
    ) -> Iterator[ChannelStatus]:
        """Channels with an event visible at (as_of, known_at), by id, as `Record.board`;
        with `countries`, only that pair's (domain.countries); with `offices`, instead
        of the board, the channels between two offices with an event counted under the
        office rule (as `Record.office_channels`).

        Each answer's `last_contact` may hold only what a board shows of it (id, type,
        occurred_at, precision, actors, when recorded), without its summary,
        sources or details: `status` answers it in full.

        Lazily, a page of channels per query: a caller that stops after 100
        items reads about 100 channels. `after` (a channel id) starts after
        that channel; `limit` stops after that many.
        """
        self._check(window)
        at = self._at(as_of, known_at)
        left = limit
        while left is None or left > 0:
            size = PAGE if left is None else min(PAGE, left)
            live, found = retrying(
                partial(
                    self.view.board_of,
                    at,
                    status=status.value if status is not None else None,
                    actor=actor,
                    after=after,
                    limit=size,
                    countries=countries,
                    offices=offices,
                )
            )
            self._check_live(live)
            for item in found:
                yield self._answer(item, as_of, known_at)
            if len(found) < size:
                return
            after = found[-1].channel
            left = None if left is None else left - len(found)

    def timeline(
        self, a: str, b: str, *, known_at: datetime, window: timedelta | None = None
    ) -> list[Interval]:
        """The channel's status intervals over valid time as known at `known_at`."""
        self._check(window)
        channel = channel_id(a, b)
        live, parts = retrying(lambda: self.view.timeline_of(channel, known_at))
        self._check_live(live)
        return timeline_of(parts) if parts else timeline([], self.window)

    # -- country pairs ----------------------------------------------------------

    def country_pairs(
        self,
        *,
        as_of: datetime,
        known_at: datetime,
        after: Countries | None = None,
        limit: int | None = None,
    ) -> list[CountryPair]:
        """Up to `limit` pairs after `after`, by pair id, with a channel on the board at
        (as_of, known_at): what domain.countries.tally makes of the board."""
        at = self._at(as_of, known_at)
        live, found = retrying(lambda: self.view.pairs_of(at, after=after, limit=limit))
        self._check_live(live)
        return found

    def country_pair(
        self, countries: Countries, *, as_of: datetime, known_at: datetime
    ) -> tuple[set[str], CountryPair]:
        """The pair at (as_of, known_at) (no channels: no counts), and which of its two
        countries no actor has, read together."""
        at = self._at(as_of, known_at)
        live, known, found = retrying(lambda: self.view.pair_of(countries, at))
        self._check_live(live)
        return set(countries) - known, found

    # -- what changed -----------------------------------------------------------

    def transitions(
        self,
        *,
        start: datetime,
        end: datetime,
        known_at: datetime,
        actor: str | None = None,
        channel: str | None = None,
        countries: tuple[str, str] | None = None,
        after: tuple[int, str] | None = None,
        limit: int = 1000,
    ) -> list[Transition]:
        """Up to `limit` boundaries of the board's timelines as known at `known_at`, at
        valid times `start < at <= end`, by at then channel (domain.changes.transitions),
        after the transition keyed `after` (infra.readmodel.transition_key)."""
        which = Channels(actor, channel, countries)
        live, found = retrying(
            lambda: self.view.transitions_of(known_at, start, end, which, after=after, limit=limit)
        )
        self._check_live(live)
        return found

    def revisions(
        self,
        *,
        since: datetime,
        until: datetime,
        as_of: datetime,
        actor: str | None = None,
        channel: str | None = None,
        countries: tuple[str, str] | None = None,
        after: str | None = None,
        limit: int = 1000,
    ) -> list[Revision]:
        """Up to `limit` board channels after `after`, by id, whose answer at `as_of`
        (status and since) reads differently as known at `since` and at `until`, with
        the events recorded and retracted in between (domain.changes.Revision)."""
        which = Channels(actor, channel, countries)
        live, found = retrying(
            lambda: self.view.revisions_of(since, until, as_of, which, after=after, limit=limit)
        )
        self._check_live(live)
        return found

    # -- actors -----------------------------------------------------------------

    def actor(self, name: str) -> ActorState | None:
        """The actor whose id is `name`, else the first registered that goes by `name`
        (case and accents ignored); None if none does."""
        return retrying(lambda: self.view.actor_named(name))

    def actor_id(self, name: str) -> str | None:
        """The id of the actor `actor(name)` finds, None if none (an id found once is not
        read again)."""
        return retrying(lambda: self.view.actor_id(name))

    def id_of(self, name: str) -> str:
        """The id of the actor `name` names, else `name` as given (a filter by a name no
        actor goes by matches nothing)."""
        return self.actor_id(name) or name

    def actors(
        self,
        *,
        q: str | None = None,
        country: str | None = None,
        kind: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[ActorState]:
        """Actors matching every filter given (`q`: part of any name), by id, after `after`."""
        return retrying(
            partial(
                self.view.actors_where,
                q=q,
                country=country.upper() if country is not None else None,
                kind=kind,
                after=after,
                limit=limit,
            )
        )

    def actor_of(self, aggregate_id: UUID) -> ActorState | None:
        """The actor whose aggregate has this id, as the live generation holds it."""
        live = retrying(self.view.live)
        if live is None:
            return None
        found = retrying(lambda: self.view.actors_of(live.number, [str(aggregate_id)]))
        return found.get(str(aggregate_id))

    def profiles(self) -> list[ActorProfile]:
        """Every actor, in the order they were registered."""
        found = retrying(partial(self.view.actors_where, by_registration=True))
        return [a.profile for a in found]

    def suggestions(self, name: str) -> list[str]:
        """Ids of the actors whose names are closest to `name` (for an unknown name)."""
        return suggest(name, self.profiles())

    # -- events -----------------------------------------------------------------

    def terms(
        self, actor: str, known_at: datetime
    ) -> list[tuple[RecordedTerm, TermRetraction | None]]:
        """The terms of an office (its holders) or of a person (the offices held), by `from`."""
        return retrying(lambda: self.view.terms_where(actor, known_at))

    def term(self, term_id: UUID) -> tuple[RecordedTerm, TermRetraction | None] | None:
        """The term with this id and its retraction, if it was retracted."""
        return retrying(lambda: self.view.term(str(term_id)))

    def event(self, event_id: UUID) -> tuple[RecordedContact, Retraction | None] | None:
        """The event with this id and its retraction, if it was retracted."""
        return retrying(lambda: self.view.event(str(event_id)))

    def events(
        self,
        *,
        known_at: datetime,
        channel: str | None = None,
        actor: str | None = None,
        types: Iterable[EventType] = (),
        occurred_from: datetime | None = None,
        occurred_to: datetime | None = None,
        after: EventKey | None = None,
        limit: int = 1000,
    ) -> list[tuple[RecordedContact, Retraction | None]]:
        """Events recorded by `known_at` matching every filter, by occurred_at then position,
        after the event keyed `after`; each with its retraction if retracted by `known_at`."""
        wanted = EventFilter.of(
            known_at,
            channel=channel,
            actor=actor,
            types=tuple(t.value for t in types),
            valid_from=occurred_from,
            valid_to=occurred_to,
            after=after,
        )
        return retrying(lambda: self.view.events_where(wanted, limit))

    # -- progress ---------------------------------------------------------------

    def position(self) -> int:
        """How far the read model has processed the log."""
        return retrying(self.view.position)

    def progress(self) -> tuple[int, int]:
        """How far the read model has processed the log, and the log's head."""
        position, head = retrying(self.view.progress)
        return position, max(position, head)

    def wait(self, position: int, timeout: float) -> bool:
        """Block until the read model has processed `position`; False on timeout."""
        deadline = time.monotonic() + timeout
        pause = 0.005
        while self.position() < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.1)
        return True

    # -- helpers ----------------------------------------------------------------

    def _at(self, as_of: datetime, known_at: datetime) -> Window:
        return Window.of(as_of, known_at, self.window)

    def _answer(self, found: Found, as_of: datetime, known_at: datetime) -> ChannelStatus:
        return answer(
            found.channel,
            found.segment,
            as_of=as_of,
            known_at=known_at,
            window=self.window,
            last_contact=found.last_contact,
            recent_counts=found.recent,
        )

    def _check(self, window: timedelta | None) -> None:
        if window is not None and window != self.window:
            raise ValueError(
                f"the read model answers for W = {self.window}, not {window}; "
                "replay the log (domain.record) for another window"
            )

    def _check_live(self, live: Live | None) -> None:
        if live is not None and live.window != self.window:
            raise ReadModelUnavailable(
                "the read model was built for another window W: "
                "run `backchannel projections rebuild`"
            )

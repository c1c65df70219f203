"""Country pairs: the board's channels between an actor of one country and one of the other.

A pair has no status of its own (a made-up roll-up would hide the channels that
matter): it is summed up by how many of its channels are in each status and by
its latest contact. Office channels are left out, their facts being already on
the board through their holders' channels. Two actors of the same country make
the pair of that country with itself (`US~US`), so every channel of the board
but the office ones belongs to exactly one pair.

`tally` is the definition; the read model answers the same in SQL.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from domain.actors import COUNTRY, ActorKind, ActorProfile
from domain.events import RecordedContact, channel_actors
from domain.status import ChannelStatus, Status

Countries = tuple[str, str]


def country_pair(a: str, b: str) -> Countries:
    """The pair {a, b} as the two ISO codes, upper case, sorted; ValueError for a code
    that is not two letters."""
    codes = (a.upper(), b.upper())
    for code in codes:
        if not COUNTRY.match(code):
            raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 code")
    first, second = sorted(codes)
    return first, second


def pair_id(countries: Countries) -> str:
    """`RU~US`: the two codes sorted and joined by `~`."""
    first, second = sorted(countries)
    return f"{first}~{second}"


@dataclass(frozen=True)
class CountryPair:
    """A pair's channels on the board: how many in each status, and the latest contact
    among them (greatest occurred_at, then log position) with its channel."""

    countries: Countries
    counts: Mapping[Status, int] = field(default_factory=dict)
    last_contact: RecordedContact | None = None

    @property
    def id(self) -> str:
        return pair_id(self.countries)

    @property
    def channel_count(self) -> int:
        return sum(self.counts.values())


def latest(contacts: Iterable[RecordedContact]) -> RecordedContact | None:
    """The contact that happened last: greatest valid time, ties by log position."""
    return max(contacts, key=lambda c: (c.valid_from, c.position), default=None)


def tally(board: Iterable[ChannelStatus], actors: Mapping[str, ActorProfile]) -> list[CountryPair]:
    """The pairs of the board's channels (statuses at one (as_of, known_at)), by pair id.

    `actors` maps every actor id of the board to its profile. Channels with an office
    on either side are left out.
    """
    counts: dict[Countries, Counter[Status]] = defaultdict(Counter)
    contacts: dict[Countries, list[RecordedContact]] = defaultdict(list)
    for status in board:
        a, b = (actors[actor] for actor in channel_actors(status.channel))
        if ActorKind.OFFICE in (a.kind, b.kind):
            continue
        countries = country_pair(a.country, b.country)
        counts[countries][status.status] += 1
        if status.last_contact is not None:
            contacts[countries].append(status.last_contact)
    return [
        CountryPair(
            countries,
            {s: counts[countries][s] for s in Status if counts[countries][s]},
            latest(contacts[countries]),
        )
        for countries in sorted(counts)
    ]

"""Actors: the parties to a channel, event-sourced, found by any alias."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import FieldError, InvalidFact
from domain.events import ACTOR_ID

COUNTRY = re.compile(r"^[A-Z]{2}$")
WIKIDATA = re.compile(r"^Q[1-9][0-9]*$")
ACTOR_FIELDS = ("id", "name", "kind", "country", "role", "sector", "wikidata", "aliases")

# PLOVER's actor sectors (the manual's "3- or 6-char sector (GOV, MIL, etc)"): the role
# codes it keeps from CAMEO's actor dictionaries, and DIP for a foreign service. A
# 6-character sector is two codes, the broader first (`GOVMED`: state-owned media).
SECTORS: dict[str, str] = {
    "GOV": "government: heads of state and government, ministers, ministries",
    "MIL": "military: armed forces, defence ministries, officers",
    "DIP": "diplomacy: foreign ministries, embassies, envoys",
    "LEG": "legislature",
    "JUD": "judiciary",
    "COP": "police",
    "SPY": "intelligence services",
    "IGO": "intergovernmental organisations",
    "NGO": "non-governmental organisations",
    "OPP": "political opposition",
    "REB": "rebels and insurgents",
    "BUS": "business",
    "MED": "media",
    "EDU": "education",
    "CVL": "civilians",
}
SECTOR = re.compile(f"^({'|'.join(SECTORS)})({'|'.join(SECTORS)})?$")
NAMESPACE = uuid5(NAMESPACE_URL, "urn:backchannel")


class ActorKind(StrEnum):
    PERSON = "person"
    INSTITUTION = "institution"
    STATE = "state"
    OFFICE = "office"  # a post one person holds at a time (domain.offices: its terms)


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a name: 'Shoygu' and 'SHOYGÚ' fold alike."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


@lru_cache(maxsize=65536)
def actor_uuid(actor_id: str) -> UUID:
    """The aggregate id of the actor with slug `actor_id`."""
    return uuid5(NAMESPACE, f"actor:{actor_id}")


@dataclass(frozen=True)
class ActorProfile:
    """An actor as clients see it."""

    id: str
    name: str
    kind: ActorKind
    country: str
    role: str | None = None
    aliases: tuple[str, ...] = ()
    sector: str | None = None
    wikidata: str | None = None

    def names(self) -> tuple[str, ...]:
        """Every spelling the actor goes by: id, name and aliases."""
        return (self.id, self.name, *self.aliases)

    def matches(self, query: str) -> bool:
        """True if `query` occurs, folded, in the id, the name or an alias."""
        needle = fold(query)
        return any(needle in fold(n) for n in self.names())

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "country": self.country,
            "role": self.role,
            "sector": self.sector,
            "wikidata": self.wikidata,
            "aliases": list(self.aliases),
        }


class Actor(Aggregate):
    """An actor's history: registered, renamed, aliases added, role, sector or Wikidata
    id changed."""

    class Registered(Aggregate.Created):
        # Version 1 had no sector and no Wikidata id: they read back as None.
        class_version = 2
        actor_id: str
        name: str
        kind: str
        country: str
        role: str | None
        aliases: list[str]
        sector: str | None
        wikidata: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["sector"] = None
            state["wikidata"] = None

    class Renamed(Aggregate.Event):
        name: str

    class AliasAdded(Aggregate.Event):
        alias: str

    class RoleChanged(Aggregate.Event):
        role: str | None

    class SectorChanged(Aggregate.Event):
        sector: str | None

    class WikidataChanged(Aggregate.Event):
        wikidata: str | None

    @staticmethod
    def create_id(actor_id: str) -> UUID:
        return actor_uuid(actor_id)

    @event(Registered)
    def __init__(
        self,
        actor_id: str,
        name: str,
        kind: str,
        country: str,
        role: str | None,
        aliases: list[str],
        sector: str | None = None,
        wikidata: str | None = None,
    ) -> None:
        self.actor_id = actor_id
        self.name = name
        self.kind = kind
        self.country = country
        self.role = role
        self.aliases = list(aliases)
        self.sector = sector
        self.wikidata = wikidata

    @event(Renamed)
    def rename(self, name: str) -> None:
        self.name = name

    @event(AliasAdded)
    def add_alias(self, alias: str) -> None:
        self.aliases.append(alias)

    @event(RoleChanged)
    def change_role(self, role: str | None) -> None:
        self.role = role

    @event(SectorChanged)
    def change_sector(self, sector: str | None) -> None:
        self.sector = sector

    @event(WikidataChanged)
    def change_wikidata(self, wikidata: str | None) -> None:
        self.wikidata = wikidata

    @property
    def profile(self) -> ActorProfile:
        return ActorProfile(
            id=self.actor_id,
            name=self.name,
            kind=ActorKind(self.kind),
            country=self.country,
            role=self.role,
            aliases=tuple(self.aliases),
            sector=self.sector,
            wikidata=self.wikidata,
        )


def parse_actor(data: Mapping[str, Any]) -> ActorProfile:
    """Check an actor in the API's JSON shape; raise InvalidFact naming each bad field."""
    errors: list[FieldError] = []
    if not isinstance(data, Mapping):
        raise InvalidFact([FieldError((), "an actor must be a JSON object")])
    for key in data:
        if key not in ACTOR_FIELDS:
            errors.append(FieldError((str(key),), "unknown field"))
    actor_id = data.get("id")
    if not isinstance(actor_id, str) or not ACTOR_ID.match(actor_id):
        errors.append(FieldError(("id",), "must match ^[a-z0-9][a-z0-9-]{0,62}$"))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError(("name",), "required: a display name"))
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in {k.value for k in ActorKind}:
        errors.append(FieldError(("kind",), "must be one of person, institution, state, office"))
    country = data.get("country")
    if not isinstance(country, str) or not COUNTRY.match(country):
        errors.append(FieldError(("country",), "must be an ISO 3166-1 alpha-2 code, e.g. US"))
    role = data.get("role")
    if role is not None and not isinstance(role, str):
        errors.append(FieldError(("role",), "must be a string"))
    sector = data.get("sector")
    errors.extend(check_sector(sector))
    wikidata = data.get("wikidata")
    errors.extend(check_wikidata(wikidata))
    aliases = data.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        errors.append(FieldError(("aliases",), "must be a list of non-empty strings"))
        aliases = []
    if errors:
        raise InvalidFact(errors)
    return ActorProfile(
        id=str(actor_id),
        name=str(name).strip(),
        kind=ActorKind(str(kind)),
        country=str(country),
        role=role,
        aliases=tuple(dict.fromkeys(a.strip() for a in aliases)),
        sector=sector,
        wikidata=wikidata,
    )


def check_sector(sector: object) -> list[FieldError]:
    """What is wrong with `sector` (None is fine: the field is optional)."""
    if sector is None or (isinstance(sector, str) and SECTOR.match(sector)):
        return []
    codes = ", ".join(SECTORS)
    return [FieldError(("sector",), f"must be a PLOVER sector code ({codes}) or two of them")]


def check_wikidata(wikidata: object) -> list[FieldError]:
    """What is wrong with `wikidata` (None is fine: the field is optional)."""
    if wikidata is None or (isinstance(wikidata, str) and WIKIDATA.match(wikidata)):
        return []
    return [FieldError(("wikidata",), "must be a Wikidata item id matching ^Q[1-9][0-9]*$")]


def suggest(query: str, actors: Iterable[ActorProfile], limit: int = 3) -> list[str]:
    """Ids of the actors whose id, name or alias is closest to `query`."""
    by_name: dict[str, str] = {}
    for actor in actors:
        for name in actor.names():
            by_name.setdefault(fold(name), actor.id)
    wanted = fold(query.replace("-", " "))
    exact = [actor_id for name, actor_id in by_name.items() if wanted and wanted in name]
    close = difflib.get_close_matches(wanted, list(by_name), n=limit * 3, cutoff=0.6)
    spaced = difflib.get_close_matches(fold(query), list(by_name), n=limit * 3, cutoff=0.6)
    ranked = exact + [by_name[n] for n in close + spaced]
    return list(dict.fromkeys(ranked))[:limit]

"""Files analysts take elsewhere: CSV, JSON Lines, PLOVER, TimelineJS 3 and GEXF 1.3.

Every writer takes an iterable of what the read side answers (read a page at a
time by the caller) and yields the file in pieces, so an export of any size
holds one page in memory. Shapes follow the API's (service/views.py); PLOVER's
mapping is domain/plover.py's.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import networkx as nx
import pycountry

from domain.actors import ActorProfile
from domain.events import RecordedContact, Retraction
from domain.plover import coding, context, parties
from domain.status import ChannelStatus, Interval
from domain.time import format_instant, to_utc
from service.views import event_view, status_view, timestamp

if TYPE_CHECKING:
    from service.application import Backchannel

CODER = "backchannel"
CHANNEL_COLUMNS = (
    "channel",
    "actors",
    "as_of",
    "known_at",
    "status",
    "since",
    "last_contact_event_id",
    "last_contact_type",
    "last_contact_occurred_at",
    "requests_since_contact",
    "refusals_since_contact",
    "recent",
    "event_count",
    "evidence",
)
EVENT_COLUMNS = (
    "id",
    "type",
    "occurred_at",
    "precision",
    "actor",
    "counterpart",
    "channel",
    "summary",
    "sources",
    "details",
    "recorded_at",
    "position",
    "retracted_at",
    "retraction_reason",
    "retracted_by",
)
Event = tuple[RecordedContact, Retraction | None]


def _csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """A CSV file (header first) of `rows`, a line at a time."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _counts(counts: Mapping[str, int]) -> str:
    return ";".join(f"{key}:{count}" for key, count in counts.items())


def channel_row(answer: ChannelStatus) -> dict[str, Any]:
    """A status object as one CSV row: maps as `actor:count;…`, lists joined by spaces."""
    view = status_view(answer)
    last = view["last_contact"] or {}
    return {
        "channel": view["channel"],
        "actors": " ".join(view["actors"]),
        "as_of": view["as_of"],
        "known_at": view["known_at"],
        "status": view["status"],
        "since": view["since"] or "",
        "last_contact_event_id": last.get("event_id", ""),
        "last_contact_type": last.get("type", ""),
        "last_contact_occurred_at": last.get("occurred_at", ""),
        "requests_since_contact": _counts(view["requests_since_contact"]),
        "refusals_since_contact": _counts(view["refusals_since_contact"]),
        "recent": _counts(view["recent"]),
        "event_count": view["event_count"],
        "evidence": " ".join(view["evidence"]),
    }


def channels_csv(answers: Iterable[ChannelStatus]) -> Iterator[str]:
    """The board as CSV: one row per channel."""
    return _csv(CHANNEL_COLUMNS, map(channel_row, answers))


def event_row(event: Event) -> dict[str, Any]:
    """An event as one CSV row: sources as `name <url>` joined by `; `, details as JSON."""
    view = event_view(*event)
    retracted = view["retracted"] or {}
    return {
        **{k: view[k] for k in EVENT_COLUMNS if k in view and k not in ("sources", "details")},
        "sources": "; ".join(
            s["name"] + (f" <{s['url']}>" if s["url"] else "") for s in view["sources"]
        ),
        "details": json.dumps(view["details"], ensure_ascii=False) if view["details"] else "",
        "retracted_at": retracted.get("at", ""),
        "retraction_reason": retracted.get("reason", ""),
        "retracted_by": retracted.get("by_event", ""),
    }


def events_csv(events: Iterable[Event]) -> Iterator[str]:
    """Events as CSV, one row each."""
    return _csv(EVENT_COLUMNS, map(event_row, events))


def events_jsonl(events: Iterable[Event]) -> Iterator[str]:
    """Events in the API's shape, one JSON object per line."""
    for event in events:
        yield json.dumps(event_view(*event), ensure_ascii=False) + "\n"


def alpha3(country: str) -> str | None:
    """The ISO 3166-1 alpha-3 code of an alpha-2 one (None for a code ISO does not know)."""
    found = pycountry.countries.get(alpha_2=country.upper())
    return None if found is None else str(found.alpha_3)


def _sector(profile: ActorProfile | None) -> str | None:
    return profile.sector if profile else None


def _entity(actor_id: str, profile: ActorProfile | None) -> dict[str, Any]:
    return {
        "code": alpha3(profile.country) if profile else None,
        "sector": _sector(profile),
        "identifier_id": profile.wikidata if profile else None,
        "identifier_text": profile.name if profile else actor_id,
        "office": profile.role if profile else None,
    }


def plover_record(
    contact: RecordedContact, actors: Callable[[str], ActorProfile | None]
) -> dict[str, Any] | None:
    """The fact as a PLOVER record (domain.md, "Exchange formats"); None if PLOVER has no
    category for its type. `actors` looks an actor up by id."""
    fact = contact.fact
    found = coding(fact)
    if found is None:
        return None
    first, second = parties(fact)
    one, other = actors(first), actors(second)
    occurred = to_utc(fact.valid_from)
    source = fact.sources[0] if fact.sources else None
    return {
        "id": str(fact.id),
        "date": occurred.date().isoformat(),
        **({"time": occurred.time().isoformat()} if fact.precision.value == "exact" else {}),
        "actor": [_entity(first, one)],
        "recipient": [_entity(second, other)],
        "event": found.event,
        "mode": found.mode,
        "context": context(fact, (_sector(one), _sector(other))),
        "cite_info": {
            "url": source.url if source else None,
            "publication": source.name if source else None,
            "title": fact.summary or None,
        },
        "coded_date": to_utc(contact.recorded_at).date().isoformat(),
        "coder": CODER,
        "precision": fact.precision.value,
        "recorded_at": timestamp(contact.recorded_at),
        "retracted": False,
    }


def plover_lines(
    events: Iterable[Event], actors: Callable[[str], ActorProfile | None]
) -> Iterator[str]:
    """PLOVER records, one JSON object per line; retracted events and types PLOVER has no
    category for are left out."""
    for contact, retraction in events:
        if retraction is not None:
            continue
        record = plover_record(contact, actors)
        if record is not None:
            yield json.dumps(record, ensure_ascii=False) + "\n"


def _date(value: datetime) -> dict[str, str]:
    """A TimelineJS date object, UTC."""
    at = to_utc(value)
    return {
        "year": str(at.year),
        "month": str(at.month),
        "day": str(at.day),
        "hour": str(at.hour),
        "minute": str(at.minute),
        "second": str(at.second),
        "display_date": format_instant(at),
    }


def timelinejs(
    channel: str,
    intervals: Sequence[Interval],
    events: Iterable[RecordedContact],
    *,
    known_at: datetime,
    until: datetime,
) -> Iterator[str]:
    """A TimelineJS 3 document: the channel's events (`group` = type) and its status
    intervals as `eras` (an open end is drawn to `until`; the open start before the
    first event is left out)."""
    yield json.dumps(
        {"title": {"text": {"headline": channel, "text": f"as known at {timestamp(known_at)}"}}}
    )[:-1]
    yield ', "events": ['
    for index, contact in enumerate(events):
        fact = contact.fact
        item = {
            "unique_id": str(fact.id),
            "start_date": _date(fact.valid_from),
            "text": {
                "headline": f"{fact.type.value}: {fact.actor} → {fact.counterpart}",
                "text": fact.summary,
            },
            "group": fact.type.value,
        }
        yield ("" if index == 0 else ", ") + json.dumps(item, ensure_ascii=False)
    eras = [
        {
            "start_date": _date(interval.start),
            "end_date": _date(interval.end or max(until, interval.start)),
            "text": {"headline": interval.status.value},
        }
        for interval in intervals
        if interval.start is not None
    ]
    yield '], "eras": ' + json.dumps(eras) + "}"


def network(profiles: Mapping[str, ActorProfile], answers: Iterable[ChannelStatus]) -> nx.Graph:
    """The board as a graph: actors as nodes, channels as edges with status and count."""
    graph = nx.Graph()
    for answer in answers:
        source, target = answer.actors
        for actor_id in (source, target):
            if actor_id not in graph:
                profile = profiles.get(actor_id)
                graph.add_node(
                    actor_id,
                    label=profile.name if profile else actor_id,
                    kind=profile.kind.value if profile else "",
                    country=profile.country if profile else "",
                )
        graph.add_edge(
            source,
            target,
            id=answer.channel,
            channel=answer.channel,
            status=answer.status.value,
            event_count=answer.event_count,
        )
    return graph


def network_json(graph: nx.Graph, profiles: Mapping[str, ActorProfile]) -> dict[str, Any]:
    """The graph as the API's JSON: `nodes` (actors) and `edges`."""
    return {
        "nodes": [
            profiles[node].to_dict() if node in profiles else {"id": node}
            for node in sorted(graph.nodes)
        ],
        "edges": [
            {
                "channel": data["channel"],
                "source": data["channel"].split("~")[0],
                "target": data["channel"].split("~")[1],
                "status": data["status"],
                "event_count": data["event_count"],
            }
            for _, _, data in sorted(graph.edges(data=True), key=lambda e: e[2]["channel"])
        ],
    }


def gexf(graph: nx.Graph) -> Iterator[str]:
    """The graph as GEXF 1.3, statuses as edge attributes, a line at a time."""
    for line in nx.generate_gexf(graph, version="1.3"):
        yield line + "\n"


def log_file(app: Backchannel, form: str) -> Iterator[str]:
    """Every event in the log, in log order, as `csv` or `plover` (`backchannel export`)."""
    from service.replay import Replay  # the whole log, replayed: not for serving processes

    record = Replay(app).refresh()
    events = (
        (contact, record.retractions.get(contact.id))
        for contact in sorted(record.contacts.values(), key=lambda c: c.position)
    )
    if form == "csv":
        return events_csv(events)
    return plover_lines(events, record.actors.get)

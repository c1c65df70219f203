"""The JSON shapes of what the service answers: one home, shared by the API, CLI and exports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.actors import ActorProfile
from domain.changes import Answer, Revision, Transition
from domain.countries import CountryPair
from domain.events import RecordedContact, Retraction, channel_actors
from domain.offices import RecordedTerm, TermRetraction
from domain.status import ChannelStatus, Interval
from domain.time import format_boundary, format_instant


def timestamp(value: datetime) -> str:
    """A transaction time, at the full precision it was stamped with, in UTC with a `Z`."""
    return format_instant(value)


def actor_view(profile: ActorProfile, position: int) -> dict[str, Any]:
    """An actor, with the log position of its latest change."""
    return {**profile.to_dict(), "position": position}


def retraction_view(retraction: Retraction) -> dict[str, Any]:
    return {
        "at": timestamp(retraction.recorded_at),
        "reason": retraction.reason,
        "by_event": str(retraction.id),
    }


def event_view(contact: RecordedContact, retraction: Retraction | None = None) -> dict[str, Any]:
    """A stored event: everything sent, plus `channel`, `recorded_at`, `position`, `retracted`."""
    return {
        **contact.fact.to_dict(),
        "channel": contact.fact.channel,
        "recorded_at": timestamp(contact.recorded_at),
        "position": contact.position,
        "retracted": retraction_view(retraction) if retraction else None,
    }


def retraction_event_view(retraction: Retraction, contact: RecordedContact) -> dict[str, Any]:
    """The retraction as an event of its own (the answer to POST …/retract)."""
    return {
        "id": str(retraction.id),
        "type": "retraction",
        "event_id": str(retraction.event_id),
        "reason": retraction.reason,
        "channel": contact.fact.channel,
        "recorded_at": timestamp(retraction.recorded_at),
        "position": retraction.position,
    }


def boundary(value: datetime | None) -> str | None:
    return format_boundary(value) if value is not None else None


def status_view(answer: ChannelStatus) -> dict[str, Any]:
    """A status object exactly as api.md shows it."""
    last = answer.last_contact
    return {
        "channel": answer.channel,
        "actors": list(answer.actors),
        "as_of": timestamp(answer.as_of),
        "known_at": timestamp(answer.known_at),
        "status": answer.status.value,
        "since": boundary(answer.since),
        "last_contact": {
            "event_id": str(last.id),
            "type": last.type.value,
            "occurred_at": format_instant(last.fact.occurred_at),
        }
        if last
        else None,
        "requests_since_contact": answer.requests_since_contact,
        "refusals_since_contact": answer.refusals_since_contact,
        "recent": answer.recent,
        "event_count": answer.event_count,
        "evidence": [str(e) for e in answer.evidence],
    }


def pair_view(pair: CountryPair) -> dict[str, Any]:
    """A country pair as api.md shows it: counts per status, and the latest contact."""
    last = pair.last_contact
    return {
        "pair": pair.id,
        "countries": list(pair.countries),
        "channel_count": pair.channel_count,
        "counts": {status.value: n for status, n in pair.counts.items()},
        "last_contact": {
            "event_id": str(last.id),
            "type": last.type.value,
            "occurred_at": format_instant(last.fact.occurred_at),
            "channel": last.fact.channel,
        }
        if last
        else None,
    }


def interval_view(interval: Interval) -> dict[str, Any]:
    """One timeline interval: `from`/`to` are null at the open ends of valid time."""
    return {
        "status": interval.status.value,
        "from": boundary(interval.start),
        "to": boundary(interval.end),
        "evidence": [str(e) for e in interval.evidence],
    }


def transition_view(transition: Transition) -> dict[str, Any]:
    """A change of status at valid time `at`, with the evidence of the interval it begins."""
    return {
        "channel": transition.channel,
        "actors": list(channel_actors(transition.channel)),
        "at": boundary(transition.at),
        "before": transition.before.value,
        "after": transition.after.value,
        "evidence": [str(e) for e in transition.evidence],
    }


def answer_view(answer: Answer) -> dict[str, Any]:
    return {"status": answer.status.value, "since": boundary(answer.since)}


def revision_view(revision: Revision) -> dict[str, Any]:
    """A channel whose answer at `as_of` the record revised, and the events that did it."""
    return {
        "channel": revision.channel,
        "actors": list(channel_actors(revision.channel)),
        "as_of": timestamp(revision.as_of),
        "before": answer_view(revision.before),
        "after": answer_view(revision.after),
        "recorded": [str(e) for e in revision.recorded],
        "retracted": [str(e) for e in revision.retracted],
    }


def term_view(recorded: RecordedTerm, retraction: TermRetraction | None = None) -> dict[str, Any]:
    """A stored term: `id`, `office`, `person`, `from`, `to`, `recorded_at`, `position`,
    and `retracted` ({at, reason, by_event}) when it was retracted."""
    return {
        **recorded.term.to_dict(),
        "recorded_at": timestamp(recorded.recorded_at),
        "position": recorded.position,
        "retracted": None
        if retraction is None
        else {
            "at": timestamp(retraction.recorded_at),
            "reason": retraction.reason,
            "by_event": str(retraction.id),
        },
    }


def term_retraction_view(retraction: TermRetraction, recorded: RecordedTerm) -> dict[str, Any]:
    """The retraction of a term as an event of its own (the answer to POST …/retract)."""
    return {
        "id": str(retraction.id),
        "type": "term_retraction",
        "term_id": str(retraction.term_id),
        "office": recorded.term.office,
        "person": recorded.term.person,
        "reason": retraction.reason,
        "recorded_at": timestamp(retraction.recorded_at),
        "position": retraction.position,
    }

"""Contact events straight from the log's stored JSON, for a rebuild that reads all of it.

The library's mapper turns a stored event into a domain event: the
transcoder's JSON decoder (a Python hook called on every object), then the
event class's upcasts, then an object. A rebuild needs only what the
projection folds an event into (`RecordedContact`, `Retraction`), so
`StoredContacts` does the same steps with less: the standard `json.loads`,
then the transcoder's own transcodings for the marked values at the top of
the state (`{"_type_": name, "_data_": …}`: the timestamp, the typed fact,
a retraction's id), then the upcasts of `Contact.Recorded` (version 1
stored the fact unmarked, in the same JSON shape). A state with marked values
deeper down, or a mapper that compresses or encrypts, is decoded by the
mapper itself, so every event reads back as the application reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Mapper, Notification, StoredEvent
from eventsourcing.utils import get_topic

from domain.contacts import Contact
from domain.events import ContactFact, RecordedContact, Retraction, channel_id

RECORDED = get_topic(Contact.Recorded)
RETRACTED = get_topic(Contact.Retracted)
TYPE, DATA = "_type_", "_data_"
MARKER = b'"_type_"'
ACTOR_KEY, COUNTERPART_KEY = b'"actor":', b'"counterpart":'
_ACTOR = re.compile(rb'"actor":"([^"\\]*)"')
_COUNTERPART = re.compile(rb'"counterpart":"([^"\\]*)"')


class StoredContacts:
    """Decodes the log's contact facts and retractions as the application's mapper does."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        plain = not mapper.cipher and not mapper.compressor
        self._names = transcoder.names if plain and isinstance(transcoder, JSONTranscoder) else None

    def state(self, notification: Notification) -> dict[str, Any]:
        """The event's state as stored: its JSON, marked values not yet decoded (see
        `decoded`); decoded in full by the mapper when the fast reading does not apply."""
        return self.state_of(notification.state, lambda: _stored(notification))

    def state_of(self, raw: bytes, stored: Callable[[], StoredEvent]) -> dict[str, Any]:
        """`state` of the stored bytes `raw`; `stored()` gives the whole stored event, for
        the mapper, when the fast reading does not apply."""
        if self._names is not None:
            state: dict[str, Any] = json.loads(raw)
            marked = sum(1 for value in state.values() if _marked(value))
            if raw.count(MARKER) == marked:  # nothing marked deeper down
                return state
        event = self.mapper.to_domain_event(stored())
        decoded = dict(event.__dict__)
        decoded["class_version"] = getattr(type(event), "class_version", 1)
        return decoded

    def decoded(self, state: dict[str, Any]) -> dict[str, Any]:
        """The state with its marked values decoded by the transcoder's transcodings."""
        if self._names is not None:
            for key, value in state.items():
                if _marked(value):
                    state[key] = self._names[value[TYPE]].decode(value[DATA])
        return state

    def quick_channel(self, raw: bytes) -> tuple[bytes, bytes] | None:
        """The actor and counterpart of a `Contact.Recorded` stored as `raw`, as the bytes
        of the JSON, found without decoding it; None when that cannot be told for sure.

        The fact's `actor` and `counterpart` are keys of every version's state; when the
        JSON holds each key once (a string holding `"actor":` would escape its quotes),
        those are the fact's, and when their values hold no escapes the bytes are the
        ids themselves."""
        if self._names is None:
            return None
        if raw.count(ACTOR_KEY) != 1 or raw.count(COUNTERPART_KEY) != 1:
            return None
        actor, counterpart = _ACTOR.search(raw), _COUNTERPART.search(raw)
        if actor is None or counterpart is None:
            return None
        return actor.group(1), counterpart.group(1)

    @staticmethod
    def channel(state: dict[str, Any]) -> str:
        """The channel of a `Contact.Recorded` state, of either version, decoded or not."""
        fact = state["fact"]
        if isinstance(fact, ContactFact):
            return fact.channel
        if _marked(fact):  # version 2: the transcoding's data is the fact's JSON shape
            fact = fact[DATA]
        return channel_id(fact["actor"], fact["counterpart"])  # version 1: that shape

    def recorded(self, state: dict[str, Any], position: int) -> RecordedContact:
        """The fact a `Contact.Recorded` state records, upcast by the event class."""
        state = self.decoded(state)
        cls = Contact.Recorded
        version = state.pop("class_version", 1)
        while version < cls.class_version:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
            version += 1
        return RecordedContact(state["fact"], state["timestamp"], position)

    def retraction(self, state: dict[str, Any], event_id: UUID, position: int) -> Retraction:
        """The retraction a `Contact.Retracted` state records."""
        state = self.decoded(state)
        return Retraction(
            state["retraction_id"], event_id, state["reason"], state["timestamp"], position
        )


def _marked(value: Any) -> bool:
    """A value the transcoder marked with the name of its transcoding."""
    return type(value) is dict and len(value) == 2 and TYPE in value and DATA in value


def _stored(notification: Notification) -> StoredEvent:
    return StoredEvent(
        originator_id=notification.originator_id,
        originator_version=notification.originator_version,
        topic=notification.topic,
        state=notification.state,
    )

"""Moving facts in and out as JSON Lines, in the API's event shape.

Import checks every line before storing any: one bad line and nothing is
stored, and the error names the line (numbered from 1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from domain.actors import ActorProfile, parse_actor
from domain.errors import DomainError, FieldError, InvalidFact, UnknownActor
from service.application import Backchannel
from service.views import event_view

BATCH = 1000
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
# Fields of the stored shape that an import ignores (the store sets them anew).
STORED_ONLY = ("channel", "recorded_at", "position", "retracted")


class BadLine(DomainError):
    """A line of an import file is not acceptable; nothing was stored."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def read_lines(stream: TextIO) -> list[tuple[int, dict[str, Any]]]:
    """Parse JSON Lines, skipping blank lines; raise BadLine on the first bad one."""
    items: list[tuple[int, dict[str, Any]]] = []
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise BadLine(number, f"not JSON ({error.msg})") from None
        if not isinstance(value, dict):
            raise BadLine(number, "not a JSON object")
        items.append((number, value))
    return items


def import_events(app: Backchannel, items: list[tuple[int, dict[str, Any]]]) -> tuple[int, int]:
    """Check every fact, then store them; return (stored, already present)."""
    facts = [{k: v for k, v in item.items() if k not in STORED_ONLY} for _, item in items]
    try:
        app.check_facts(facts)
    except InvalidFact as invalid:
        first = invalid.errors[0]
        raise BadLine(_line(items, first), _describe(first)) from None
    except UnknownActor as unknown:
        raise BadLine(_line(items, FieldError(unknown.loc, "")), str(unknown)) from None
    stored = present = 0
    for start in range(0, len(facts), BATCH):
        for written in app.record_facts(facts[start : start + BATCH]):
            stored += written.created
            present += not written.created
    return stored, present


def import_actors(app: Backchannel, items: Iterable[tuple[int, dict[str, Any]]]) -> tuple[int, int]:
    """Register actors; the same actor again stores nothing. Return (stored, present).

    Every line is checked (shape, and no id given two contents) before any is stored.
    """
    items = list(items)
    seen: dict[str, tuple[int, ActorProfile]] = {}
    parsed: list[tuple[int, ActorProfile]] = []
    for number, item in items:
        try:
            parsed.append((number, parse_actor(item)))
        except DomainError as error:
            raise BadLine(number, str(error)) from None
    registered = app.actors({profile.id for _, profile in parsed})
    for number, profile in parsed:
        known = registered.get(profile.id)
        if profile.id in seen and seen[profile.id][1] != profile:
            raise BadLine(number, f"actor {profile.id!r} differs from line {seen[profile.id][0]}")
        if known is not None and known != profile:
            raise BadLine(number, f"actor {profile.id!r} is registered with different content")
        seen.setdefault(profile.id, (number, profile))
    stored = present = 0
    for number, item in items:
        try:
            written = app.register_actor(item)
        except DomainError as error:
            raise BadLine(number, str(error)) from None
        stored += written.created
        present += not written.created
    return stored, present


def seed(app: Backchannel, directory: Path = SEEDS) -> dict[str, tuple[int, int]]:
    """Load the shipped actors and events; loading twice stores nothing new."""
    with (directory / "actors.jsonl").open(encoding="utf-8") as stream:
        actors = import_actors(app, read_lines(stream))
    with (directory / "events.jsonl").open(encoding="utf-8") as stream:
        events = import_events(app, read_lines(stream))
    return {"actors": actors, "events": events}


def export_events(app: Backchannel) -> Iterator[str]:
    """Every fact in the log, in log order, as JSON Lines (retracted ones say so)."""
    from service.replay import Replay  # the whole log, replayed: not for serving processes

    record = Replay(app).refresh()
    for contact in sorted(record.contacts.values(), key=lambda c: c.position):
        view = event_view(contact, record.retractions.get(contact.id))
        yield json.dumps(view, ensure_ascii=False)


def _line(items: list[tuple[int, dict[str, Any]]], error: FieldError) -> int:
    index = error.loc[1] if len(error.loc) > 1 and isinstance(error.loc[1], int) else 0
    return items[index][0] if items else 0


def _describe(error: FieldError) -> str:
    field = ".".join(str(p) for p in error.loc[2:]) or "event"
    return f"{field}: {error.msg}"

"""Moving facts in and out as JSON Lines, in the API's event shape.

Import checks every line before storing any: one bad line and nothing is
stored, and the error names the line (numbered from 1). An event file is read
once, as a stream, so memory does not grow with it: a first pass checks each
line and keeps what it must remember of earlier lines, and each fact in its
canonical JSON shape, in a temporary SQLite file; a second pass stores those
facts from there, a large chunk per transaction, without parsing or checking
them again (and whatever happens to the file meanwhile, what is stored is what
was checked). A line without an id gets one
derived from its content, so importing a file again stores nothing new.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TextIO, TypeVar
from uuid import UUID, uuid5

from eventsourcing.persistence import IntegrityError

from domain.actors import ActorProfile, actor_uuid, parse_actor
from domain.contacts import Contact
from domain.errors import Conflict, DomainError, FieldError, InvalidFact, UnknownActor
from domain.events import (
    ContactFact,
    EventType,
    Precision,
    check_response,
    parse_fact,
)
from domain.offices import Tenure, Term, parse_term, post_uuid
from domain.time import EARLIEST
from infra.log import histories
from infra.logging import get_logger
from service.application import Backchannel, facts_build
from service.views import event_view

T = TypeVar("T")
_log = get_logger("backchannel.transfer")

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
    """Load the shipped actors, events and terms; loading twice stores nothing new."""
    with (directory / "actors.jsonl").open(encoding="utf-8") as stream:
        actors = import_actors(app, read_lines(stream))
    with (directory / "events.jsonl").open(encoding="utf-8") as stream:
        events = import_events(app, read_lines(stream))
    counts = {"actors": actors, "events": events}
    terms = directory / "terms.jsonl"
    if terms.exists():
        with terms.open(encoding="utf-8") as stream:
            counts["terms"] = import_terms(app, read_lines(stream))
    return counts


def import_terms(app: Backchannel, items: Iterable[tuple[int, dict[str, Any]]]) -> tuple[int, int]:
    """Record terms, each line `{id?, office, person, from, to?, sources?}`; return
    (stored, present). Every line's shape is checked before any is stored; the same
    term again stores nothing."""
    items = list(items)
    terms: list[tuple[int, str, dict[str, Any]]] = []
    for number, item in items:
        office = item.get("office")
        if not isinstance(office, str):
            raise BadLine(number, "office: required, the office's actor id")
        data = {k: v for k, v in item.items() if k != "office"}
        try:
            parse_term(office, data, new_id=line_id(item))
        except DomainError as error:
            raise BadLine(number, str(error)) from None
        terms.append((number, office, data))
    stored = present = 0
    for number, office, data in terms:
        try:
            written = app.record_term(office, data)
        except DomainError as error:
            raise BadLine(number, str(error)) from None
        stored += written.created
        present += not written.created
    return stored, present


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


# -- streaming import ----------------------------------------------------------

CHUNK = 1000  # lines per read of the log by key, in the first pass
STORE_CHUNK = 10_000  # facts per transaction, in the second pass
# Ids of id-less lines are UUID5s of the line's canonical JSON in this namespace.
LINE_NAMESPACE = UUID("6f1c3c52-5b7e-4c36-9c1e-2f0d1a9b7e41")


class Meter(Protocol):
    """Told how far an import has come: bytes read of the file, lines done."""

    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, size: int, lines: int) -> None: ...


class Silent:
    """A meter that shows nothing."""

    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, size: int, lines: int) -> None:
        pass


def canonical(value: Mapping[str, Any]) -> str:
    """JSON with sorted keys and no spaces: one text for one content."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def line_id(item: Mapping[str, Any]) -> UUID:
    """The id an id-less line gets: the same line always gets the same id."""
    return uuid5(LINE_NAMESPACE, canonical(item))


def iter_lines(
    stream: BinaryIO, meter: Meter | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Parse JSON Lines from a binary stream one at a time, skipping blank lines."""
    meter = meter or Silent()
    for number, raw in enumerate(stream, start=1):
        meter.advance(len(raw), 1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadLine(number, "not UTF-8 text") from None
        if not text.strip():
            continue
        yield number, parse_line(number, text)


def iter_sized_lines(
    stream: BinaryIO, meter: Meter | None = None
) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """As `iter_lines`, with the size in bytes of each line read since the last one
    yielded (blank lines included)."""
    meter = meter or Silent()
    size = 0
    for number, raw in enumerate(stream, start=1):
        meter.advance(len(raw), 1)
        size += len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadLine(number, "not UTF-8 text") from None
        if not text.strip():
            continue
        yield number, size, parse_line(number, text)
        size = 0


def parse_line(number: int, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadLine(number, f"not JSON ({error.msg})") from None
    if not isinstance(value, dict):
        raise BadLine(number, "not a JSON object")
    return value


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def size_of(stream: BinaryIO) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


class Index:
    """What a first pass learns of the facts of a file, on disk (constant memory).

    Per fact id: the line it is on, its type and actors (to check the refusals that
    answer it), whether the store already holds it, and whether it is retracted.
    """

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="backchannel-import-")
        self.db = sqlite3.connect(os.path.join(self._dir.name, "index.sqlite3"))
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE TABLE facts (id BLOB PRIMARY KEY, line INTEGER, type TEXT, actor TEXT,"
            " counterpart TEXT, present INTEGER, retracted INTEGER) WITHOUT ROWID"
        )
        self.db.execute("CREATE TABLE answers (line INTEGER, target BLOB, channel TEXT)")
        # The checked facts of an event file in file order, each in its JSON shape.
        self.db.execute(
            "CREATE TABLE shapes (line INTEGER PRIMARY KEY, size INTEGER, present INTEGER,"
            " shape TEXT)"
        )

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def lines_of(self, ids: Sequence[UUID]) -> dict[UUID, int]:
        found: dict[UUID, int] = {}
        for part in chunked(ids, 500):
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT id, line FROM facts WHERE id IN ({marks})",  # noqa: S608
                [i.bytes for i in part],
            )
            found.update((UUID(bytes=row[0]), row[1]) for row in rows)
        return found

    def add(self, rows: Iterable[tuple[int, ContactFact, bool]]) -> None:
        self.db.executemany(
            "INSERT INTO facts VALUES (?, ?, ?, ?, ?, ?, 0)",
            [
                (f.id.bytes, line, f.type.value, f.actor, f.counterpart, int(present))
                for line, f, present in rows
            ],
        )

    def keep(self, rows: Iterable[tuple[int, int, ContactFact, bool]]) -> None:
        """Keep checked facts (line, its size in bytes, the fact, whether stored) to store."""
        self.db.executemany(
            "INSERT INTO shapes VALUES (?, ?, ?, ?)",
            [(line, size, int(present), f.shape_json) for line, size, f, present in rows],
        )

    def kept(self) -> Iterator[tuple[int, bool, str]]:
        """The kept facts in file order: the size of each line, whether the store
        holds it already, and its JSON shape (`ContactFact.shape_json`)."""
        for size, present, shape in self.db.execute(
            "SELECT size, present, shape FROM shapes ORDER BY line"
        ):
            yield size, bool(present), shape

    def expect_request(self, line: int, fact: ContactFact) -> None:
        """Note a refusal answering `fact.in_response_to`, checked by `unanswered`."""
        target = fact.in_response_to
        assert target is not None
        self.db.execute("INSERT INTO answers VALUES (?, ?, ?)", (line, target.bytes, fact.channel))

    def answers(self) -> Iterator[tuple[int, UUID, str, ContactFact | None]]:
        """Each noted refusal: its line, target, channel, and the target if in the file."""
        rows = self.db.execute(
            "SELECT a.line, a.target, a.channel, f.type, f.actor, f.counterpart"
            " FROM answers a LEFT JOIN facts f ON f.id = a.target ORDER BY a.line"
        )
        for line, target, channel, kind, actor, counterpart in rows:
            request = None
            if kind is not None:
                request = ContactFact(
                    UUID(bytes=target), EventType(kind), EARLIEST, Precision.DAY, actor, counterpart
                )
            yield line, UUID(bytes=target), channel, request

    def present(self, ids: Sequence[UUID]) -> set[UUID]:
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT id FROM facts WHERE present = 1 AND id IN ({marks})",  # noqa: S608
            [i.bytes for i in ids],
        )
        return {UUID(bytes=row[0]) for row in rows}

    def request(self, event_id: UUID) -> ContactFact | None:
        """The fact of the file with this id, enough of it to check a refusal against."""
        row = self.db.execute(
            "SELECT type, actor, counterpart FROM facts WHERE id = ?", (event_id.bytes,)
        ).fetchone()
        if row is None:
            return None
        return ContactFact(event_id, EventType(row[0]), EARLIEST, Precision.DAY, row[1], row[2])

    def retract(self, event_id: UUID) -> None:
        self.db.execute("UPDATE facts SET retracted = 1 WHERE id = ?", (event_id.bytes,))

    def state(self, event_id: UUID) -> tuple[int, bool] | None:
        """The line of `event_id` and whether it is retracted, if the file holds it."""
        row = self.db.execute(
            "SELECT line, retracted FROM facts WHERE id = ?", (event_id.bytes,)
        ).fetchone()
        return None if row is None else (row[0], bool(row[1]))


class Store:
    """Reads of the store by key, for checking facts without folding the whole log."""

    def __init__(self, app: Backchannel) -> None:
        self.app = app
        self._actors: dict[str, bool] = {}

    def has_actor(self, actor_id: str) -> bool:
        if actor_id not in self._actors:
            found = self.app.recorder.select_events(actor_uuid(actor_id), limit=1)
            self._actors[actor_id] = bool(found)
        return self._actors[actor_id]

    def unknown_actor(self, name: str) -> UnknownActor:
        """The error for an unregistered actor, with the closest registered ones."""
        return UnknownActor(name, self.app.suggest(name))

    def events_of(self, originator_id: UUID) -> list[Any]:
        return [
            self.app.mapper.to_domain_event(stored)
            for stored in self.app.recorder.select_events(originator_id)
        ]

    def terms_of(self, office: str) -> list[tuple[Term, bool]]:
        """The terms the store gives `office`, each with whether it is retracted."""
        listed = self.events_of(post_uuid(office))
        found: list[tuple[Term, bool]] = []
        for event in listed:
            stored = self.events_of(event.term_id)
            if stored and isinstance(stored[0], Tenure.Recorded):
                retracted = any(isinstance(e, Tenure.Retracted) for e in stored)
                found.append((Term.from_dict(stored[0].term), retracted))
        return found

    def facts(self, event_ids: Sequence[UUID]) -> dict[UUID, ContactFact]:
        """The stored facts among these ids, in one read of the log by key."""
        found: dict[UUID, ContactFact] = {}
        for originator_id, stored in histories(self.app.recorder, event_ids).items():
            event = self.app.mapper.to_domain_event(stored[0].event)
            if isinstance(event, Contact.Recorded):
                found[originator_id] = event.fact
        return found

    def fact(self, event_id: UUID) -> ContactFact | None:
        """The stored fact with this id, if any."""
        found = self.app.recorder.select_events(event_id, limit=1)
        if not found:
            return None
        event = self.app.mapper.to_domain_event(found[0])
        if not isinstance(event, Contact.Recorded):
            return None
        return event.fact


def checked_fact(number: int, item: Mapping[str, Any], now: datetime) -> ContactFact:
    """A line as a fact: stored-only fields dropped, an id derived when it has none."""
    body = {k: v for k, v in item.items() if k not in STORED_ONLY}
    if body.get("id") is None:
        body.pop("id", None)
        body["id"] = str(line_id(body))
    try:
        return parse_fact(body, now=now, new_id=UUID(int=0))
    except InvalidFact as invalid:
        raise BadLine(number, "; ".join(_describe_at(e) for e in invalid.errors)) from None


def check_event_stream(
    app: Backchannel, stream: BinaryIO, index: Index, meter: Meter | None = None
) -> int:
    """First pass: check every line of an event file, storing nothing; return the count.

    Raises BadLine for the first bad line: a broken rule, an id used twice, an
    unknown actor, a refusal answering no request of its channel, or an id the store
    holds with different content.
    """
    meter = meter or Silent()
    meter.phase("checking", size_of(stream))
    store = Store(app)
    now = app.clock()
    count = 0
    for chunk in chunked(iter_sized_lines(stream, meter)):
        facts = [(number, size, checked_fact(number, item, now)) for number, size, item in chunk]
        earlier = index.lines_of([f.id for _, _, f in facts])
        known = store.facts([f.id for _, _, f in facts])
        rows: list[tuple[int, ContactFact, bool]] = []
        kept: list[tuple[int, int, ContactFact, bool]] = []
        for number, size, fact in facts:
            if fact.id in earlier:
                raise BadLine(number, f"id {fact.id} repeats line {earlier[fact.id]}")
            earlier[fact.id] = number
            for role in ("actor", "counterpart"):
                name = getattr(fact, role)
                if not store.has_actor(name):
                    raise BadLine(number, str(store.unknown_actor(name)))
            if fact.in_response_to is not None:
                index.expect_request(number, fact)
            stored = known.get(fact.id)
            if stored is not None and stored.shape != fact.shape:
                raise BadLine(number, f"event {fact.id} is already recorded with different content")
            rows.append((number, fact, stored is not None))
            kept.append((number, size, fact, stored is not None))
        index.add(rows)
        index.keep(kept)
        count += len(facts)
    for number, target, channel, request in index.answers():
        request = request or store.fact(target)
        a, b = channel.split("~")
        answer = ContactFact(
            UUID(int=0),
            EventType.CALL_REFUSED,
            EARLIEST,
            Precision.DAY,
            a,
            b,
            details={"in_response_to": str(target)},
        )
        try:
            check_response(answer, request)
        except InvalidFact as invalid:
            raise BadLine(number, "; ".join(_describe_at(e) for e in invalid.errors)) from None
    return count


def store_event_stream(
    app: Backchannel, index: Index, total: int | None = None, meter: Meter | None = None
) -> tuple[int, int]:
    """Second pass: store the facts the first pass checked and kept, in file order,
    `STORE_CHUNK` per transaction.

    Return (stored, already present). Interrupted, it leaves whole chunks stored;
    running the import again stores the rest (every line has its id, given or derived).
    """
    meter = meter or Silent()
    meter.phase("storing", total)
    store = Store(app)
    stored = present = 0
    for chunk in chunked(index.kept(), STORE_CHUNK):
        fresh = [ContactFact.from_shape_json(text) for _, held, text in chunk if not held]
        try:
            if fresh:
                app.append(facts_build(fresh))
        except IntegrityError:
            # Another writer stored some of them since the first pass: keep what matches.
            again = []
            for fact in fresh:
                other = store.fact(fact.id)
                if other is None:
                    again.append(fact)
                elif other.shape != fact.shape:
                    raise Conflict(
                        f"event {fact.id} was stored meanwhile with different content"
                    ) from None
            if again:
                app.append(facts_build(again))
            fresh = again
        stored += len(fresh)
        present += len(chunk) - len(fresh)
        meter.advance(sum(size for size, _, _ in chunk), len(chunk))
    _log.info("events_imported", stored=stored, present=present)
    return stored, present


def import_event_stream(
    app: Backchannel, stream: BinaryIO, meter: Meter | None = None
) -> tuple[int, int]:
    """Check a whole event file, then store it: one bad line and nothing is stored.

    `stream` is read once; memory does not grow with it (the temporary index on
    disk does).
    """
    with Index() as index:
        check_event_stream(app, stream, index, meter)
        return store_event_stream(app, index, size_of(stream), meter)


def _describe_at(error: FieldError) -> str:
    field = ".".join(str(p) for p in error.loc) or "event"
    return f"{field}: {error.msg}"

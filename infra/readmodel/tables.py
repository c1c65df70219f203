"""The read model's tables, declared once: alembic's autogenerate compares the schema
with this metadata (`alembic check` in the tests), and the views' column lists come from it.

Every table is keyed by `generation`: a rebuild fills a new generation from
position 0 while readers keep reading the live one, then switches
`projection_generations` over in one transaction. Times are integers,
microseconds since 1970-01-01 UTC (see rows.py). Channel ids sort by code point
(collation "C" on PostgreSQL), as they do in Python.

On PostgreSQL the three tables a rebuild loads in bulk (channels, their facts
and their segments) are partitioned by generation, one partition per
generation (`partition`): a rebuild loads its own into tables without indexes
and builds them after the load, as it attaches them, and a retired generation
is dropped whole instead of deleted row by row. Every statement names the
parent tables; SQLite has one table each.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()
PARTITIONED = ("channels", "channel_facts", "channel_segments")  # on PostgreSQL, by generation
_BY_GENERATION: dict[str, Any] = {"postgresql_partition_by": "LIST (generation)"}


def partition(table: str, generation: int) -> str:
    """The name of generation `generation`'s partition of `table` (one of PARTITIONED)."""
    return f"{table}_g{generation}"


def _channel() -> String:
    return String(130).with_variant(String(130, collation="C"), "postgresql")


generations = Table(
    "projection_generations",
    metadata,
    Column("generation", Integer, primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False),  # building, live, retired
    Column("window_us", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("promoted_at", BigInteger),
)

channels = Table(
    "channels",
    metadata,
    Column("generation", Integer, nullable=False),
    Column("channel", _channel(), nullable=False),
    Column("actor_a", String(64), nullable=False),
    Column("actor_b", String(64), nullable=False),
    PrimaryKeyConstraint("generation", "channel"),
    Index("ix_channels_actor_a", "generation", "actor_a", "channel"),
    Index("ix_channels_actor_b", "generation", "actor_b", "channel"),
    sqlite_with_rowid=False,
    **_BY_GENERATION,
)

# The events: each fact as recorded (its JSON, as the API shows it), and its retraction.
facts = Table(
    "channel_facts",
    metadata,
    Column("generation", Integer, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("channel", _channel(), nullable=False),
    Column("type", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("counterpart", String(64), nullable=False),
    Column("valid_from", BigInteger, nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("retracted_at", BigInteger),
    Column("retraction_id", String(36)),
    Column("retraction_position", BigInteger),
    Column("retraction_reason", Text),
    Column("fact", Text, nullable=False),
    PrimaryKeyConstraint("generation", "event_id"),
    Index("ix_channel_facts_valid", "generation", "channel", "valid_from"),
    Index("ix_channel_facts_order", "generation", "valid_from", "position"),
    Index("ix_channel_facts_actor", "generation", "actor", "valid_from"),
    Index("ix_channel_facts_counterpart", "generation", "counterpart", "valid_from"),
    Index("ix_channel_facts_recorded", "generation", "recorded_at"),  # what was learned when
    Index("ix_channel_facts_retracted", "generation", "retracted_at"),
    **_BY_GENERATION,
)

segments = Table(
    "channel_segments",
    metadata,
    Column("generation", Integer, nullable=False),
    Column("channel", _channel(), nullable=False),
    Column("valid_from", BigInteger, nullable=False),
    Column("known_from", BigInteger, nullable=False),
    Column("valid_to", BigInteger, nullable=False),
    Column("known_to", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("since", BigInteger),
    Column("event_count", Integer, nullable=False),
    Column("last_contact", String(36)),
    Column("evidence", Text, nullable=False),  # JSON list of event ids
    Column("requests", Text, nullable=False),  # JSON {actor: count}
    Column("refusals", Text, nullable=False),  # JSON {actor: count}
    PrimaryKeyConstraint("generation", "channel", "valid_from", "known_from"),
    # Every channel's segments in valid-time order: the transitions of a range.
    Index("ix_channel_segments_valid", "generation", "valid_from", "channel"),
    sqlite_with_rowid=False,
    **_BY_GENERATION,
)

# Actors as they stand now; `registered` (the log position of their registration)
# orders a lookup by a name two actors share, as the log does.
actors = Table(
    "actors",
    metadata,
    Column("generation", Integer, nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("aggregate_id", String(36), nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("country", String(2), nullable=False),
    Column("role", Text),
    Column("sector", String(6)),  # a PLOVER sector code, or two
    Column("wikidata", String(32)),  # a Wikidata item id, Q…
    Column("aliases", Text, nullable=False),  # JSON list, in the order they were added
    Column("registered", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),  # of the latest change
    PrimaryKeyConstraint("generation", "actor_id"),
    Index("ix_actors_aggregate", "generation", "aggregate_id"),
)

# Every name an actor goes by (id, name, aliases), folded (domain.actors.fold).
actor_names = Table(
    "actor_names",
    metadata,
    Column("generation", Integer, nullable=False),
    Column("folded", Text, nullable=False),
    Column("actor_id", String(64), nullable=False),
    PrimaryKeyConstraint("generation", "folded", "actor_id"),
    Index("ix_actor_names_actor", "generation", "actor_id"),
)

# Terms: who held which office over which valid time, as recorded, and their retraction.
terms = Table(
    "terms",
    metadata,
    Column("generation", Integer, nullable=False),
    Column("term_id", String(36), nullable=False),
    Column("office", String(64), nullable=False),
    Column("person", String(64), nullable=False),
    Column("valid_from", BigInteger, nullable=False),
    Column("valid_to", BigInteger, nullable=False),  # MAX_TIME: still holds it
    Column("recorded_at", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("retracted_at", BigInteger),
    Column("retraction_id", String(36)),
    Column("retraction_position", BigInteger),
    Column("retraction_reason", Text),
    Column("term", Text, nullable=False),  # JSON, as the API shows it
    PrimaryKeyConstraint("generation", "term_id"),
    Index("ix_terms_office", "generation", "office", "valid_from"),
    Index("ix_terms_person", "generation", "person", "valid_from"),
)

# The office rule's facts of a channel beyond its own: a fact recorded between two
# other actors counts for `channel` over transaction time [known_from, known_to)
# because of the terms then held (the fact's own retraction is in channel_facts).
members = Table(
    "channel_members",
    metadata,
    Column("generation", Integer, nullable=False),
    Column("channel", _channel(), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("valid_from", BigInteger, nullable=False),
    Column("known_from", BigInteger, nullable=False),
    Column("known_to", BigInteger, nullable=False),
    PrimaryKeyConstraint("generation", "channel", "event_id", "known_from"),
    Index("ix_channel_members_valid", "generation", "channel", "valid_from"),
    Index("ix_channel_members_event", "generation", "event_id"),
    sqlite_with_rowid=False,
)

# Channels with an office on either side that count at least one fact of others
# (the board's `channels` lists those with facts of their own).
office_channels = Table(
    "office_channels",
    metadata,
    Column("generation", Integer, nullable=False),
    Column("channel", _channel(), nullable=False),
    Column("actor_a", String(64), nullable=False),
    Column("actor_b", String(64), nullable=False),
    PrimaryKeyConstraint("generation", "channel"),
    Index("ix_office_channels_actor_a", "generation", "actor_a", "channel"),
    Index("ix_office_channels_actor_b", "generation", "actor_b", "channel"),
    sqlite_with_rowid=False,
)

RETRACTION = ("retracted_at", "retraction_id", "retraction_position", "retraction_reason")
TABLES = tuple(metadata.tables)  # every table of the read model, parents after children
GENERATION_TABLES = (
    "actor_names",
    "actors",
    "channel_segments",
    "channel_facts",
    "channels",
    "terms",
    "channel_members",
    "office_channels",
)


def postgres_types(table: Table, names: tuple[str, ...]) -> tuple[str, ...]:
    """The PostgreSQL type of each of `names`, as a binary COPY of `table` declares them."""
    kinds = []
    for name in names:
        kind = table.columns[name].type
        if isinstance(kind, BigInteger):
            kinds.append("int8")
        elif isinstance(kind, Integer):
            kinds.append("int4")
        elif isinstance(kind, Text):
            kinds.append("text")
        elif isinstance(kind, String):
            kinds.append("varchar")
        else:
            raise TypeError(f"{table.name}.{name}: no binary COPY type for {kind!r}")
    return tuple(kinds)


def columns(table: Table, *, without: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The names of `table`'s columns, in declaration order, but those `without`."""
    return tuple(c.name for c in table.columns if c.name not in without)

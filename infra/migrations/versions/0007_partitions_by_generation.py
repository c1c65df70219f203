"""On PostgreSQL, channels, their facts and their segments are partitioned by generation.

A rebuild then loads its generation into tables of its own without indexes,
builds the indexes once the rows are in and attaches the tables as the
generation's partitions; a retired generation is detached and dropped whole.
A table cannot be made partitioned in place, so the three are made anew: the
generations built before this revision are retired, and the projector builds
a new one from position 0 (`backchannel migrate` then deletes what is left of
the retired ones). SQLite's tables are unchanged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("channel_segments", "channel_facts", "channels")


def upgrade() -> None:
    _remake({"postgresql_partition_by": "LIST (generation)"})


def downgrade() -> None:
    _remake({})


def _remake(options: dict[str, Any]) -> None:
    """On PostgreSQL, retire every generation and make the three tables anew with `options`
    (dropping a table drops its indexes and partitions)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("UPDATE projection_generations SET state = 'retired'")
    for table in TABLES:
        op.drop_table(table)
    _create(options)


def _create(options: dict[str, Any]) -> None:
    channel = sa.String(130, collation="C")
    op.create_table(
        "channels",
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("channel", channel, nullable=False),
        sa.Column("actor_a", sa.String(64), nullable=False),
        sa.Column("actor_b", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("generation", "channel"),
        **options,
    )
    op.create_index("ix_channels_actor_a", "channels", ["generation", "actor_a", "channel"])
    op.create_index("ix_channels_actor_b", "channels", ["generation", "actor_b", "channel"])
    op.create_table(
        "channel_facts",
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("channel", channel, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("counterpart", sa.String(64), nullable=False),
        sa.Column("valid_from", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", sa.BigInteger, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("retracted_at", sa.BigInteger),
        sa.Column("retraction_id", sa.String(36)),
        sa.Column("retraction_position", sa.BigInteger),
        sa.Column("retraction_reason", sa.Text),
        sa.Column("fact", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("generation", "event_id"),
        **options,
    )
    for name, columns in (
        ("ix_channel_facts_valid", ["generation", "channel", "valid_from"]),
        ("ix_channel_facts_order", ["generation", "valid_from", "position"]),
        ("ix_channel_facts_actor", ["generation", "actor", "valid_from"]),
        ("ix_channel_facts_counterpart", ["generation", "counterpart", "valid_from"]),
        ("ix_channel_facts_recorded", ["generation", "recorded_at"]),
        ("ix_channel_facts_retracted", ["generation", "retracted_at"]),
    ):
        op.create_index(name, "channel_facts", columns)
    op.create_table(
        "channel_segments",
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("channel", channel, nullable=False),
        sa.Column("valid_from", sa.BigInteger, nullable=False),
        sa.Column("known_from", sa.BigInteger, nullable=False),
        sa.Column("valid_to", sa.BigInteger, nullable=False),
        sa.Column("known_to", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("since", sa.BigInteger),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("last_contact", sa.String(36)),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("requests", sa.Text, nullable=False),
        sa.Column("refusals", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("generation", "channel", "valid_from", "known_from"),
        **options,
    )
    op.create_index(
        "ix_channel_segments_valid", "channel_segments", ["generation", "valid_from", "channel"]
    )

"""The channel read model: facts, bitemporal segments and channels, by generation.

Every table is keyed by `generation`: a rebuild fills a new generation from
position 0 while readers keep reading the live one, then switches
`projection_generations` over in one transaction. Times are integers,
microseconds since 1970-01-01 UTC, on both stores; the open ends of time are
-2**62 and 2**62, so every range condition can use an index. A segment row
holds over valid time [valid_from, valid_to) and was believed over
transaction time [known_from, known_to). Channel ids sort by code point
(collation "C" on PostgreSQL), as they do in Python.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _channel_type() -> sa.String:
    if op.get_bind().dialect.name == "postgresql":
        return sa.String(130, collation="C")
    return sa.String(130)


def upgrade() -> None:
    op.create_table(
        "projection_generations",
        sa.Column("generation", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(16), nullable=False),  # building, live, retired
        sa.Column("window_us", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("promoted_at", sa.BigInteger),
    )
    op.create_table(
        "channels",
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("channel", _channel_type(), nullable=False),
        sa.Column("actor_a", sa.String(64), nullable=False),
        sa.Column("actor_b", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("generation", "channel"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_channels_actor_a", "channels", ["generation", "actor_a", "channel"])
    op.create_index("ix_channels_actor_b", "channels", ["generation", "actor_b", "channel"])
    op.create_table(
        "channel_facts",
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("channel", _channel_type(), nullable=False),
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
        sa.Column("fact", sa.Text, nullable=False),  # the fact's JSON, as the API shows it
        sa.PrimaryKeyConstraint("generation", "event_id"),
    )
    op.create_index(
        "ix_channel_facts_valid", "channel_facts", ["generation", "channel", "valid_from"]
    )
    op.create_table(
        "channel_segments",
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("channel", _channel_type(), nullable=False),
        sa.Column("valid_from", sa.BigInteger, nullable=False),
        sa.Column("known_from", sa.BigInteger, nullable=False),
        sa.Column("valid_to", sa.BigInteger, nullable=False),
        sa.Column("known_to", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("since", sa.BigInteger),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("last_contact", sa.String(36)),
        sa.Column("evidence", sa.Text, nullable=False),  # JSON list of event ids
        sa.Column("requests", sa.Text, nullable=False),  # JSON {actor: count}
        sa.Column("refusals", sa.Text, nullable=False),  # JSON {actor: count}
        sa.PrimaryKeyConstraint("generation", "channel", "valid_from", "known_from"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("channel_segments")
    op.drop_table("channel_facts")
    op.drop_table("channels")
    op.drop_table("projection_generations")

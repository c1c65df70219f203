"""The read model answers every read: actors (with their folded names) and the
events' own orders, beside the channels.

The projector fills the new tables from the log; so that every table of a
generation holds the same part of the log, the generations built before this
revision are retired and the projector builds a new one from position 0
(`backchannel migrate` then deletes the retired rows).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actors",
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("aggregate_id", sa.String(36), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("role", sa.Text),
        sa.Column("aliases", sa.Text, nullable=False),
        sa.Column("registered", sa.BigInteger, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("generation", "actor_id"),
    )
    op.create_index("ix_actors_aggregate", "actors", ["generation", "aggregate_id"])
    op.create_table(
        "actor_names",
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("folded", sa.Text, nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("generation", "folded", "actor_id"),
    )
    op.create_index("ix_actor_names_actor", "actor_names", ["generation", "actor_id"])
    op.create_index(
        "ix_channel_facts_order", "channel_facts", ["generation", "valid_from", "position"]
    )
    op.create_index(
        "ix_channel_facts_actor", "channel_facts", ["generation", "actor", "valid_from"]
    )
    op.create_index(
        "ix_channel_facts_counterpart",
        "channel_facts",
        ["generation", "counterpart", "valid_from"],
    )
    op.execute("UPDATE projection_generations SET state = 'retired'")


def downgrade() -> None:
    op.drop_index("ix_channel_facts_counterpart", "channel_facts")
    op.drop_index("ix_channel_facts_actor", "channel_facts")
    op.drop_index("ix_channel_facts_order", "channel_facts")
    op.drop_table("actor_names")
    op.drop_table("actors")
    op.execute("UPDATE projection_generations SET state = 'retired'")

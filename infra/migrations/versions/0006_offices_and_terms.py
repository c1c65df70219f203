"""Offices' terms, the office rule's members of a channel, and office channels.

New tables only: no event before this revision records a term, so every
generation built before it already holds the right answer (none).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _channel() -> sa.String:
    if op.get_bind().dialect.name == "postgresql":
        return sa.String(130, collation="C")
    return sa.String(130)


def upgrade() -> None:
    op.create_table(
        "terms",
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("term_id", sa.String(36), nullable=False),
        sa.Column("office", sa.String(64), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("valid_from", sa.BigInteger, nullable=False),
        sa.Column("valid_to", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", sa.BigInteger, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("retracted_at", sa.BigInteger),
        sa.Column("retraction_id", sa.String(36)),
        sa.Column("retraction_position", sa.BigInteger),
        sa.Column("retraction_reason", sa.Text),
        sa.Column("term", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("generation", "term_id"),
    )
    op.create_index("ix_terms_office", "terms", ["generation", "office", "valid_from"])
    op.create_index("ix_terms_person", "terms", ["generation", "person", "valid_from"])
    op.create_table(
        "channel_members",
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("channel", _channel(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("valid_from", sa.BigInteger, nullable=False),
        sa.Column("known_from", sa.BigInteger, nullable=False),
        sa.Column("known_to", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("generation", "channel", "event_id", "known_from"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_channel_members_valid", "channel_members", ["generation", "channel", "valid_from"]
    )
    op.create_index("ix_channel_members_event", "channel_members", ["generation", "event_id"])
    op.create_table(
        "office_channels",
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("channel", _channel(), nullable=False),
        sa.Column("actor_a", sa.String(64), nullable=False),
        sa.Column("actor_b", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("generation", "channel"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_office_channels_actor_a", "office_channels", ["generation", "actor_a", "channel"]
    )
    op.create_index(
        "ix_office_channels_actor_b", "office_channels", ["generation", "actor_b", "channel"]
    )


def downgrade() -> None:
    op.drop_table("office_channels")
    op.drop_table("channel_members")
    op.drop_table("terms")

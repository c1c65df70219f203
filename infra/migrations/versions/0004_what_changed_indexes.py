"""What changed: the segments in valid-time order across channels (transitions), and
the facts by when they were recorded and retracted (revisions).

Indexes only: no generation needs rebuilding.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_channel_segments_valid", "channel_segments", ["generation", "valid_from", "channel"]
    )
    op.create_index("ix_channel_facts_recorded", "channel_facts", ["generation", "recorded_at"])
    op.create_index("ix_channel_facts_retracted", "channel_facts", ["generation", "retracted_at"])


def downgrade() -> None:
    op.drop_index("ix_channel_facts_retracted", table_name="channel_facts")
    op.drop_index("ix_channel_facts_recorded", table_name="channel_facts")
    op.drop_index("ix_channel_segments_valid", table_name="channel_segments")

"""Actors' PLOVER sector and Wikidata id.

Nullable columns only: the actor events stored before them carry neither, so every
generation built before this revision already holds the right answer (null).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actors") as batch:
        batch.add_column(sa.Column("sector", sa.String(6)))
        batch.add_column(sa.Column("wikidata", sa.String(32)))


def downgrade() -> None:
    with op.batch_alter_table("actors") as batch:
        batch.drop_column("wikidata")
        batch.drop_column("sector")

"""Baseline: the service's schema history starts here.

The event log's own tables belong to the eventsourcing library, which creates
them (idempotently) in `backchannel migrate` just before this upgrade runs.
The service's own tables (read models) arrive in later revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

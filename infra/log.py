"""The event log, read by key: every stored event of a few aggregates, in one query.

The write path asks the log what it must know before appending (do these
actors exist, is this id taken, what does that request say) in one round trip,
instead of one repository read per aggregate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from psycopg.sql import SQL, Identifier

from infra.store import connection_broke


@dataclass(frozen=True)
class Stored:
    """One stored event and its log position."""

    event: StoredEvent
    position: int


def histories(recorder: Any, originator_ids: Collection[UUID]) -> dict[UUID, list[Stored]]:
    """Every stored event of each aggregate among `originator_ids` that has any, by version."""
    if not originator_ids:
        return {}
    found: dict[UUID, list[Stored]] = defaultdict(list)
    try:
        rows = _rows(recorder, list(originator_ids))
    except (InterfaceError, OperationalError) as error:
        if not connection_broke(error):  # a dead pooled connection (a restarted server)
            raise
        rows = _rows(recorder, list(originator_ids))
    for row in rows:
        originator = row["originator_id"]
        originator_id = originator if isinstance(originator, UUID) else UUID(originator)
        stored = StoredEvent(
            originator_id, row["originator_version"], row["topic"], bytes(row["state"])
        )
        found[originator_id].append(Stored(stored, int(row["position"])))
    for events in found.values():
        events.sort(key=lambda s: s.event.originator_version)
    return dict(found)


def _rows(recorder: Any, ids: list[UUID]) -> list[Any]:
    datastore = recorder.datastore
    table = recorder.events_table_name
    if hasattr(datastore, "schema"):  # PostgreSQL
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state, notification_id AS position "
            "FROM {0}.{1} WHERE originator_id = ANY(%s)"
        ).format(Identifier(datastore.schema), Identifier(table))
        # Read only, yet committed: at a ROLLBACK psycopg drops every statement it prepared
        # on the connection (sending DEALLOCATE ALL), a round trip and the plans lost.
        with datastore.transaction(commit=True) as c:
            c.execute(statement, (ids,))
            return list(c.fetchall())
    marks = ", ".join("?" for _ in ids)
    # The table's name is the library's; the values are parameters.
    query = "SELECT originator_id, originator_version, topic, state, rowid AS position FROM "
    query += f"{table} WHERE originator_id IN ({marks})"
    with datastore.transaction(commit=False) as c:
        c.execute(query, [i.hex for i in ids])
        return list(c.fetchall())


def versions(recorder: Any, originator_ids: Collection[UUID]) -> dict[UUID, int]:
    """The last stored version of each aggregate among `originator_ids` that has any."""
    if not originator_ids:
        return {}
    datastore = recorder.datastore
    table = recorder.events_table_name
    ids = list(originator_ids)
    if hasattr(datastore, "schema"):  # PostgreSQL
        statement = SQL(
            "SELECT originator_id, max(originator_version) AS version FROM {0}.{1}"
            " WHERE originator_id = ANY(%s) GROUP BY originator_id"
        ).format(Identifier(datastore.schema), Identifier(table))
        # Read only, yet committed: at a ROLLBACK psycopg drops every statement it prepared
        # on the connection (sending DEALLOCATE ALL), a round trip and the plans lost.
        with datastore.transaction(commit=True) as c:
            c.execute(statement, (ids,))
            rows = list(c.fetchall())
    else:
        marks = ", ".join("?" for _ in ids)
        # The table's name is the library's; the values are parameters.
        query = "SELECT originator_id, max(originator_version) AS version FROM "
        query += f"{table} WHERE originator_id IN ({marks}) GROUP BY originator_id"
        with datastore.transaction(commit=False) as c:
            c.execute(query, [i.hex for i in ids])
            rows = list(c.fetchall())
    found: dict[UUID, int] = {}
    for row in rows:
        originator = row["originator_id"]
        found[originator if isinstance(originator, UUID) else UUID(originator)] = int(
            row["version"]
        )
    return found

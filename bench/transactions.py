"""Database transactions per single-event POST, from PostgreSQL's own count.

In a database of its own, with the article's actors registered, the API (in
process, with its embedded projector) takes `--posts` single-event POSTs one
after another; then every connection is closed, so that each backend has
flushed its statistics, and `pg_stat_database.xact_commit` is read. The same is
done with a few posts, and the difference divided by the difference in posts:
what one POST costs, the projector's share included, start-up and shutdown not.

    python -m bench.transactions --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from fastapi.testclient import TestClient
from psycopg import sql

from infra.settings import Settings
from service.api import create_app
from service.bootstrap import migrate

TOKEN = "bench-token"
ACTORS = [
    {"id": "lloyd-austin", "name": "Lloyd Austin", "kind": "person", "country": "US"},
    {"id": "sergei-shoigu", "name": "Sergei Shoigu", "kind": "person", "country": "RU"},
]


def _database(base: str) -> tuple[str, str]:
    name = f"bench_xact_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(base)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, urlunsplit(parts._replace(path=f"/{name}"))


def _commits(base: str, name: str) -> int:
    time.sleep(1.5)  # the backends that just closed have flushed their statistics by now
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (name,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def run(base: str, posts: int) -> int:
    """Transactions committed in a fresh database by `posts` POSTs and everything around them."""
    name, url = _database(base)
    try:
        settings = Settings(database_url=url, write_tokens=TOKEN, log_level="WARNING")
        migrate(settings)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with TestClient(create_app(settings)) as client:
            for actor in ACTORS:
                client.post("/v1/actors", json=actor, headers=headers)
            position = 0
            for n in range(posts):
                body: dict[str, Any] = {
                    "type": "statement",
                    "occurred_at": f"2022-02-{1 + n % 28:02d}",
                    "actor": "lloyd-austin",
                    "counterpart": "sergei-shoigu",
                }
                answer = client.post("/v1/events", json=body, headers=headers)
                assert answer.status_code == 201, answer.text
                position = answer.json()["position"]
            client.get("/v1/channels", params={"min_position": position})
        return _commits(base, name)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--posts", type=int, default=100)
    args = parser.parse_args()
    few = 10
    small, large = run(args.database_url, few), run(args.database_url, few + args.posts)
    per_post = (large - small) / args.posts
    print(json.dumps({"posts": args.posts, "transactions_per_post": round(per_post, 2)}))


if __name__ == "__main__":
    main()

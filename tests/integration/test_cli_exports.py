"""`backchannel export --format csv|jsonl|plover`, on both stores."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.integration.test_cli import Cli


@pytest.fixture
def seeded(store_url: str) -> Cli:
    cli = Cli(store_url)
    cli("migrate")
    cli("seed")
    return cli


def test_export_as_csv_holds_every_event_of_the_json_lines_export(seeded: Cli, tmp_path: Path):
    events = [json.loads(line) for line in seeded("export").stdout.splitlines() if line.strip()]
    target = tmp_path / "events.csv"
    seeded("export", "--format", "csv", "--output", str(target))
    with target.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [r["id"] for r in rows] == [e["id"] for e in events]
    assert [r["type"] for r in rows] == [e["type"] for e in events]


def test_export_as_plover_leaves_out_what_plover_cannot_code(seeded: Cli):
    events = {
        e["id"]: e
        for e in (json.loads(line) for line in seeded("export").stdout.splitlines() if line)
    }
    records = [
        json.loads(line) for line in io.StringIO(seeded("export", "--format", "plover").stdout)
    ]
    assert records
    assert all({"id", "date", "actor", "event"} <= r.keys() for r in records)
    coded = {i for i, e in events.items() if e["type"] not in ("statement", "hotline_test")}
    assert {r["id"] for r in records} == coded


def test_export_refuses_an_unknown_format(seeded: Cli):
    assert "--format" in seeded("export", "--format", "xml", expect=2).output

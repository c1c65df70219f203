"""`backchannel export --format …`, `transitions` and `revisions`, on both stores."""

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


def test_transitions_prints_both_defence_channels_turning_refused(seeded: Cli):
    out = seeded("transitions", "--from", "2022-02-20", "--to", "2022-02-27").stdout
    rows = [line for line in out.splitlines() if "2022-02-21" in line]
    assert any("lloyd-austin~sergei-shoigu" in r and "refused" in r for r in rows), out
    assert any("mark-milley~valery-gerasimov" in r and "refused" in r for r in rows), out


def test_revisions_since_before_the_seed_prints_every_channel_it_opened(seeded: Cli):
    out = seeded("revisions", "--since", "2000-01-01", "--as-of", "2022-03-24").stdout
    assert "lloyd-austin~sergei-shoigu" in out and "no_contact since -" in out
    assert "joe-biden~vladimir-putin" not in out  # statements only: no_contact throughout
    quiet = seeded("revisions", "--since", "2999-01-01", "--until", "2999-01-02").stdout
    assert "No channel's status was revised" in quiet

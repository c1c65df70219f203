"""The API answers channel questions from the read model; the CLI replays the log. They agree."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from domain.time import end_of
from service.application import Backchannel
from service.transfer import seed
from service.views import interval_view, status_view
from tests.api.conftest import WRITE

DAYS = ["2022-02-10", "2022-02-18", "2022-02-20", "2022-02-21", "2022-03-24", "2022-06-01"]


@pytest.fixture
def seeded(client: TestClient, backchannel: Backchannel) -> tuple[TestClient, int]:
    seed(backchannel)
    return client, backchannel.head()


def test_board_from_the_read_model_equals_the_board_from_replaying_the_log(seeded, backchannel):
    client, head = seeded
    record = backchannel.refresh()
    now = datetime.now(UTC)
    for day in DAYS:
        answer = client.get(
            "/v1/channels", params={"as_of": day, "known_at": now.isoformat(), "min_position": head}
        )
        assert answer.status_code == 200, answer.text
        replayed = [
            status_view(s)
            for s in record.board(as_of=end_of(date.fromisoformat(day)), known_at=now)
        ]
        assert answer.json()["items"] == replayed


def test_status_and_timeline_agree_before_and_after_a_retraction(seeded, backchannel):
    client, _ = seeded
    call = next(
        e
        for e in backchannel.refresh().events(channel="lloyd-austin~sergei-shoigu")
        if e.type.value == "call_held"
    )
    retracted = client.post(
        f"/v1/events/{call.id}/retract", json={"reason": "date unconfirmed"}, headers=WRITE
    ).json()
    now = datetime.now(UTC)
    record = backchannel.refresh()
    for known_at in (call.recorded_at, now):
        for day in DAYS:
            answer = client.get(
                "/v1/channels/sergei-shoigu/lloyd-austin",
                params={
                    "as_of": day,
                    "known_at": known_at.isoformat(),
                    "min_position": retracted["position"],
                },
            ).json()
            expected = record.status(
                "lloyd-austin",
                "sergei-shoigu",
                as_of=end_of(date.fromisoformat(day)),
                known_at=known_at,
            )
            assert answer == status_view(expected)
        timeline = client.get(
            "/v1/channels/lloyd-austin/sergei-shoigu/timeline",
            params={"known_at": known_at.isoformat()},
        ).json()["items"]
        replayed = record.timeline("lloyd-austin", "sergei-shoigu", known_at=known_at)
        assert timeline == [interval_view(i) for i in replayed]
    assert answer["status"] == "refused"  # the refusal stands; the call behind it is gone

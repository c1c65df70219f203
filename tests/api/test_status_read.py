"""A channel's status read whole: actors, status, position and head from one snapshot."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from service.api.readiness import LAG_HEADER, POSITION_HEADER
from service.api.schemas import StatusOut
from service.queries import ReadModel
from tests.api.conftest import assert_problem
from tests.api.test_channels import ARTICLE_DAY, article_history

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def readmodel_of(client: TestClient) -> ReadModel:
    """The app's read model, once it has folded every write made through the app."""
    state = client.app.state  # type: ignore[attr-defined]
    readmodel: ReadModel = state.readmodel
    assert readmodel.wait(state.backchannel.written, 10)
    return readmodel


def test_a_status_answer_is_exactly_its_documented_model(cast: TestClient) -> None:
    article_history(cast)
    answer = cast.get("/v1/channels/lloyd-austin/sergei-shoigu", params={"as_of": ARTICLE_DAY})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert StatusOut.model_validate(body).model_dump(mode="json") == body


def test_a_status_is_stamped_with_the_position_it_includes(cast: TestClient) -> None:
    stored = article_history(cast)
    answer = cast.get("/v1/channels/Shoigu/lloyd-austin", params={"as_of": ARTICLE_DAY})
    assert answer.status_code == 200
    last_write = max(event["position"] for event in stored.values())
    assert int(answer.headers[POSITION_HEADER]) >= last_write
    assert answer.headers[LAG_HEADER] == "0"
    assert answer.json()["event_count"] == 3


def test_the_status_read_names_both_actors_by_id_or_alias(cast: TestClient) -> None:
    article_history(cast)
    readmodel = readmodel_of(cast)
    read = readmodel.status_read("Secretary Austin", "SHOIGU", as_of=NOW, known_at=NOW)
    assert read.first == "lloyd-austin"
    assert read.second == "sergei-shoigu"
    alone = readmodel.status("lloyd-austin", "sergei-shoigu", as_of=NOW, known_at=NOW)
    assert read.status == alone
    # An alias spelt like an id (no actor has it as id) is still an alias.
    spelt = readmodel.status_read("lloyd-austin", "shoigu", as_of=NOW, known_at=NOW)
    assert (spelt.first, spelt.second, spelt.status) == ("lloyd-austin", "sergei-shoigu", alone)
    for _ in range(2):  # the second time, ids already found (on PostgreSQL, not checked again)
        by_ids = readmodel.status_read("sergei-shoigu", "lloyd-austin", as_of=NOW, known_at=NOW)
        assert (by_ids.first, by_ids.second) == ("sergei-shoigu", "lloyd-austin")
        assert by_ids.status == alone
    assert read.position == readmodel.position()
    assert read.head >= read.position


def test_the_status_read_has_no_status_for_an_unknown_or_the_same_actor(
    cast: TestClient,
) -> None:
    readmodel = readmodel_of(cast)
    unknown = readmodel.status_read("lloyd-austin", "nobody", as_of=NOW, known_at=NOW)
    assert unknown.first is not None and unknown.second is None and unknown.status is None
    same = readmodel.status_read("lloyd-austin", "Secretary Austin", as_of=NOW, known_at=NOW)
    assert same.second is not None and same.status is None
    answer = cast.get("/v1/channels/lloyd-austin/Secretary%20Austin")
    assert_problem(answer, 404)


def test_actors_who_never_interacted_read_as_no_contact(cast: TestClient) -> None:
    read = readmodel_of(cast).status_read("joe-biden", "ru-mfa", as_of=NOW, known_at=NOW)
    assert read.status is not None and read.status.status.value == "no_contact"
    assert read.status.channel == "joe-biden~ru-mfa"


def test_a_nul_in_a_bodiless_query_is_still_refused_and_located(cast: TestClient) -> None:
    answer = cast.get("/v1/channels/lloyd-austin/sergei-shoigu?as_of=2022%00")
    problem = assert_problem(answer, 422)
    assert ["query", "as_of"] in [error["loc"] for error in problem["errors"]]


def test_an_actor_id_found_once_is_remembered_and_an_alias_never_is(cast: TestClient) -> None:
    readmodel = readmodel_of(cast)
    for _ in range(2):
        assert readmodel.actor_id("lloyd-austin") == "lloyd-austin"
        assert readmodel.actor_id("Secretary Austin") == "lloyd-austin"
        assert readmodel.actor_id("shoigu") == "sergei-shoigu"
        assert readmodel.actor_id("nobody") is None
    assert readmodel.view.known_id("lloyd-austin")
    assert not readmodel.view.known_id("shoigu")
    assert not readmodel.view.known_id("nobody")

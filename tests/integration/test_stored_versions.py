"""Stores written before `Contact.Recorded` carried a typed fact still read back the same.

Version 1 of the event stored the fact as its JSON shape, unmarked. The records
below are byte for byte what that version stored; they are read back through
the application, the reference replay and the read model, on both stores.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from domain.actors import actor_uuid, parse_actor
from domain.contacts import Contact
from domain.errors import Conflict
from domain.events import ContactFact, EventType, Precision, Source
from service.projector import Projector
from service.queries import ReadModel
from service.views import event_view
from tests.factories import fact

REQUEST_ID = UUID("6f1c1f2a-0b1e-4c3d-9a55-2f7d1e0c0a01")
REFUSAL_ID = UUID("6f1c1f2a-0b1e-4c3d-9a55-2f7d1e0c0a02")
TOPIC = "domain.contacts:Contact.Recorded"
VERSION_1 = {
    REQUEST_ID: (
        '{"timestamp":{"_type_":"datetime_iso","_data_":"2022-03-10T07:35:23.695688+00:00"},'
        '"originator_topic":"domain.contacts:Contact","fact":{"id":"6f1c1f2a-0b1e-4c3d-9a55-'
        '2f7d1e0c0a01","type":"call_requested","occurred_at":"2022-03-01","precision":"day",'
        '"actor":"lloyd-austin","counterpart":"sergei-shoigu","summary":"asked for a call",'
        '"sources":[{"name":"Pentagon","url":"https://www.defense.gov/x","published_at":'
        '"2022-03-02"}],"details":{}}}'
    ),
    REFUSAL_ID: (
        '{"timestamp":{"_type_":"datetime_iso","_data_":"2022-03-10T07:35:23.696306+00:00"},'
        '"originator_topic":"domain.contacts:Contact","fact":{"id":"6f1c1f2a-0b1e-4c3d-9a55-'
        '2f7d1e0c0a02","type":"call_refused","occurred_at":"2022-03-04T08:30:00.250000Z",'
        '"precision":"week","actor":"sergei-shoigu","counterpart":"lloyd-austin","summary":'
        '"declined","sources":[{"name":"Reuters","url":null,"published_at":"2022-03-05T08:00:00Z"'
        '},{"name":"TASS","url":null,"published_at":null}],"details":{"in_response_to":"6f1c1f2a-'
        '0b1e-4c3d-9a55-2f7d1e0c0a01","mode":"phone","n":3,"nested":{"a":[1,2.5,null,"ü"]}}}}'
    ),
}
ACTORS = [
    {"id": "lloyd-austin", "name": "Lloyd Austin", "kind": "person", "country": "US"},
    {"id": "sergei-shoigu", "name": "Sergei Shoigu", "kind": "person", "country": "RU"},
]
REFUSAL = ContactFact(
    id=REFUSAL_ID,
    type=EventType.CALL_REFUSED,
    occurred_at=datetime(2022, 3, 4, 8, 30, 0, 250000, tzinfo=UTC),
    precision=Precision.WEEK,
    actor="sergei-shoigu",
    counterpart="lloyd-austin",
    summary="declined",
    sources=(
        Source("Reuters", None, datetime(2022, 3, 5, 8, tzinfo=UTC)),
        Source("TASS", None, None),
    ),
    details={
        "in_response_to": str(REQUEST_ID),
        "mode": "phone",
        "n": 3,
        "nested": {"a": [1, 2.5, None, "ü"]},
    },
)


def stored_fact_json(event_id: UUID) -> dict[str, object]:
    return dict(json.loads(VERSION_1[event_id])["fact"])


@pytest.fixture
def old_store(backchannel):
    """The two facts as version 1 stored them, after their actors."""
    for profile in ACTORS:
        backchannel.register_actor(profile)
    backchannel.recorder.insert_events(
        [StoredEvent(i, 1, TOPIC, state.encode()) for i, state in VERSION_1.items()]
    )
    return backchannel


def test_a_version_1_fact_reads_back_as_the_typed_fact_it_recorded(old_store):
    contact = old_store.repository.get(REFUSAL_ID)
    assert isinstance(contact, Contact)
    assert contact.fact == REFUSAL
    for event_id in VERSION_1:
        again = old_store.repository.get(event_id)
        assert again.fact.to_dict() == stored_fact_json(event_id)


def test_a_version_1_fact_answers_a_retry_and_a_conflicting_reuse_of_its_id(old_store):
    retry = old_store.record_fact(stored_fact_json(REFUSAL_ID))
    assert not retry.created
    assert retry.contact.fact == REFUSAL
    with pytest.raises(Conflict):
        old_store.record_fact({**stored_fact_json(REFUSAL_ID), "summary": "accepted"})


def test_a_new_refusal_may_answer_a_version_1_request(old_store):
    refusal = fact("call_refused", "2022-03-06", counterpart="sergei-shoigu")
    refusal["details"] = {"in_response_to": str(REQUEST_ID)}
    assert old_store.record_fact(refusal).created


def test_the_read_model_and_the_replay_show_version_1_facts_as_stored(settings, old_store):
    Projector(settings, app=old_store).catch_up(until=old_store.head())
    model = ReadModel.open(settings)
    try:
        for event_id in VERSION_1:
            found = model.event(event_id)
            assert found is not None
            view = event_view(*found)
            assert {k: view[k] for k in stored_fact_json(event_id)} == stored_fact_json(event_id)
            assert view["recorded_at"].startswith("2022-03-10T07:35:23.69")
    finally:
        model.close()
    replayed = old_store.refresh()
    assert [c.fact for c in replayed.events()] == [
        ContactFact.from_dict(stored_fact_json(REQUEST_ID)),
        REFUSAL,
    ]


def test_facts_recorded_now_keep_the_version_1_json_inside_their_marker(old_store):
    fresh = {**stored_fact_json(REQUEST_ID), "id": "6f1c1f2a-0b1e-4c3d-9a55-2f7d1e0c0a03"}
    written = old_store.record_fact(fresh)
    (stored,) = old_store.recorder.select_events(written.contact.id)
    state = json.loads(stored.state)
    assert state["class_version"] == 2
    assert state["fact"] == {"_type_": "contact_fact", "_data_": fresh}


# Version 1 of `Actor.Registered` had no `sector` and no `wikidata`.
AUSTIN_ID = actor_uuid("lloyd-austin")
ACTOR_VERSION_1 = (
    '{"timestamp":{"_type_":"datetime_iso","_data_":"2022-03-10T07:30:00.000001+00:00"},'
    '"originator_topic":"domain.actors:Actor","actor_id":"lloyd-austin","name":"Lloyd Austin",'
    '"kind":"person","country":"US","role":"Secretary of Defense",'
    '"aliases":["Lloyd J. Austin III"]}'
)
AUSTIN_V1 = {
    "id": "lloyd-austin",
    "name": "Lloyd Austin",
    "kind": "person",
    "country": "US",
    "role": "Secretary of Defense",
    "aliases": ["Lloyd J. Austin III"],
}


@pytest.fixture
def old_actor(backchannel):
    backchannel.recorder.insert_events(
        [StoredEvent(AUSTIN_ID, 1, "domain.actors:Actor.Registered", ACTOR_VERSION_1.encode())]
    )
    return backchannel


def test_a_version_1_actor_reads_back_without_a_sector_or_wikidata_id(old_actor):
    actor = old_actor.repository.get(AUSTIN_ID)
    assert actor.profile == parse_actor(AUSTIN_V1)
    assert (actor.profile.sector, actor.profile.wikidata) == (None, None)
    again = old_actor.register_actor(AUSTIN_V1)
    assert not again.created
    with pytest.raises(Conflict):
        old_actor.register_actor({**AUSTIN_V1, "sector": "MIL"})


def test_a_version_1_actor_takes_a_sector_and_a_wikidata_id_later(settings, old_actor):
    written = old_actor.update_actor("lloyd-austin", sector="MIL", wikidata="Q1")
    assert written.created
    assert (written.actor.sector, written.actor.wikidata) == ("MIL", "Q1")
    Projector(settings, app=old_actor).catch_up(until=old_actor.head())
    model = ReadModel.open(settings)
    try:
        found = model.actor("lloyd-austin")
        assert found is not None
        assert found.profile == written.actor
    finally:
        model.close()
    assert old_actor.refresh().actors["lloyd-austin"] == written.actor
    state = json.loads(old_actor.recorder.select_events(AUSTIN_ID)[0].state)
    assert "class_version" not in state  # the stored version 1 record is left as it was

"""What a fact must be before the log accepts it, and how actors are found."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from domain.actors import ActorKind, ActorProfile, fold, parse_actor, suggest
from domain.errors import InvalidFact
from domain.events import Precision, check_response, parse_fact
from service.api.schemas import EventIn
from tests.factories import fact

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def problems(data) -> dict[tuple, str]:
    with pytest.raises(InvalidFact) as caught:
        parse_fact(data, now=NOW, new_id=uuid4())
    return {tuple(e.loc): e.msg for e in caught.value.errors}


def test_valid_fact_is_canonicalised():
    parsed = parse_fact(
        fact("call_held", "2022-02-18T10:00:00+01:00", precision="exact"), now=NOW, new_id=uuid4()
    )
    assert parsed.to_dict()["occurred_at"] == "2022-02-18T09:00:00Z"
    assert parsed.channel == "lloyd-austin~sergei-shoigu"


def test_precision_defaults_to_day_for_a_date():
    parsed = parse_fact(fact("call_held", "2022-02-18"), now=NOW, new_id=uuid4())
    assert parsed.precision is Precision.DAY and parsed.occurred_at == date(2022, 2, 18)


def test_actor_must_differ_from_counterpart():
    assert ("counterpart",) in problems(fact("call_held", "2022-02-18", counterpart="lloyd-austin"))


def test_unknown_type_is_named():
    assert "unknown event type" in problems(fact("phoned", "2022-02-18"))[("type",)]


@pytest.mark.parametrize("when", ["2027-01-01", "1899-12-31", "yesterday", "2022-02-30"])
def test_occurred_at_must_be_a_real_date_between_1900_and_now(when):
    assert ("occurred_at",) in problems(fact("call_held", when))


def test_source_urls_must_be_http():
    bad = fact("call_held", "2022-02-18", sources=[{"name": "x", "url": "javascript:alert(1)"}])
    assert ("sources", 0, "url") in problems(bad)


def test_unknown_fields_are_rejected_not_dropped():
    assert ("occured_at",) in problems({**fact("call_held", "2022-02-18"), "occured_at": "x"})


def test_every_problem_is_reported_at_once():
    found = problems({"type": "nope", "occurred_at": "2099-01-01", "actor": "A B"})
    assert {("type",), ("occurred_at",), ("actor",), ("counterpart",)} <= set(found)


def test_only_refusals_answer_a_request():
    bad = fact("call_held", "2022-02-18", details={"in_response_to": str(uuid4())})
    assert ("details", "in_response_to") in problems(bad)


def test_refusal_must_answer_a_request_of_the_same_channel():
    request = parse_fact(
        fact("call_requested", "2022-02-20", counterpart="valery-gerasimov"),
        now=NOW,
        new_id=uuid4(),
    )
    refusal = parse_fact(
        fact(
            "call_refused",
            "2022-02-21",
            actor="sergei-shoigu",
            counterpart="lloyd-austin",
            details={"in_response_to": str(request.id)},
        ),
        now=NOW,
        new_id=uuid4(),
    )
    with pytest.raises(InvalidFact, match="belongs to channel"):
        check_response(refusal, request)


SHOIGU = ActorProfile(
    "sergei-shoigu", "Sergei Shoigu", ActorKind.PERSON, "RU", None, ("Sergey Shoygu",)
)


@pytest.mark.parametrize("query", ["Shoygu", "SHOYGÚ", "sergey shoygu", "shoigu"])
def test_actor_is_found_by_any_alias_case_and_accent_insensitively(query):
    assert SHOIGU.matches(query)


def test_fold_removes_accents_and_case():
    assert fold("  Élysée  Palace ") == "elysee palace"


def test_close_spelling_suggests_the_actor():
    assert suggest("sergei-shoygu", [SHOIGU]) == ["sergei-shoigu"]


def test_actor_fields_are_checked():
    with pytest.raises(InvalidFact) as caught:
        parse_actor({"id": "Bad Id", "name": "", "kind": "robot", "country": "usa", "x": 1})
    assert {tuple(e.loc) for e in caught.value.errors} == {
        ("id",),
        ("name",),
        ("kind",),
        ("country",),
        ("x",),
    }


@pytest.mark.parametrize(
    "data",
    [
        fact("call_held", "2022-02-18"),
        fact("call_held", "2022-02-18T10:00:00+02:00", summary="called"),
        fact(
            "call_refused",
            "2022-03-01",
            precision="week",
            sources=[{"name": "TASS", "published_at": "2022-03-02"}, {"name": "AP"}],
            details={"in_response_to": "6F1C1F2A-0B1E-4C3D-9A55-2F7D1E0C0A01", "mode": "phone"},
        ),
    ],
)
def test_a_request_body_becomes_the_fact_an_import_line_becomes(data):
    assert EventIn.model_validate(data).fact() == parse_fact(data, now=NOW, new_id=uuid4())


def test_details_may_not_use_the_stores_reserved_keys_at_any_depth():
    bad = fact(
        "statement",
        "2022-02-18",
        details={"quote": {"_type_": "uuid_hex", "_data_": "x"}, "list": [{"_data_": 1}]},
    )
    found = problems(bad)
    assert {("details", "quote", "_type_"), ("details", "quote", "_data_")} <= set(found)
    assert ("details", "list", 0, "_data_") in found

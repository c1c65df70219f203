"""The event log on both stores: the article, ordering, idempotency, atomicity, concurrency."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest

from domain.errors import Conflict, InvalidFact, UnknownActor
from domain.events import RecordedContact
from domain.status import Status, channel_status
from domain.time import end_of
from infra.schema import SchemaOutOfDate
from infra.settings import Settings
from service.bootstrap import bootstrap
from service.replay import ReplayingBackchannel
from service.transfer import SEEDS, import_actors, read_lines, seed
from tests.article import ARTICLE_BOARD
from tests.factories import fact, seed_lines, typed


def board(app: ReplayingBackchannel, day: str) -> dict[str, str]:
    record = app.refresh()
    now = datetime.now(UTC)
    return {
        s.channel: s.status.value
        for s in record.board(as_of=end_of(date.fromisoformat(day)), known_at=now)
    }


def seed_events() -> list[dict]:
    with (SEEDS / "events.jsonl").open() as stream:
        return [item for _, item in read_lines(stream)]


def test_article_table_is_reproduced_from_the_seeds(backchannel):
    seed(backchannel)
    answers = board(backchannel, "2022-03-24")
    assert {c: answers.get(c, "no_contact") for c in ARTICLE_BOARD} == ARTICLE_BOARD


def test_history_replayed_to_2022_02_20_shows_the_february_calls_open(backchannel):
    seed(backchannel)
    answers = board(backchannel, "2022-02-20")
    assert answers["lloyd-austin~sergei-shoigu"] == "open"
    assert answers["mark-milley~valery-gerasimov"] == "open"
    assert "jake-sullivan~nikolai-patrushev" not in answers  # that call came later


def test_seeding_twice_stores_nothing_new(backchannel):
    seed(backchannel)
    head = backchannel.head()
    assert seed(backchannel) == {
        "actors": (0, seed_lines("actors")),
        "events": (0, seed_lines("events")),
        "terms": (0, seed_lines("terms")),
    }
    assert backchannel.head() == head


def expected_board(items: list[dict], day: str) -> dict[str, str]:
    """The pure rule over the seed facts in file order: the reference answer."""
    now = datetime.now(UTC)
    facts = [RecordedContact(typed(i), now, n) for n, i in enumerate(items, 1)]
    expected = {}
    for channel in {f.fact.channel for f in facts}:
        answer = channel_status(
            channel,
            [f for f in facts if f.fact.channel == channel],
            [],
            as_of=end_of(date.fromisoformat(day)),
            known_at=now,
        )
        if answer.event_count:
            expected[channel] = answer.status.value
    return expected


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_posting_the_same_events_in_any_order_gives_the_same_statuses(backchannel, order):
    with (SEEDS / "actors.jsonl").open() as stream:
        import_actors(backchannel, read_lines(stream))
    items = seed_events()
    shuffled = list(items)
    if order:
        random.Random(order).shuffle(shuffled)
        # A refusal names the request it answers, so it must arrive after it.
        shuffled.sort(key=lambda i: bool(i["details"].get("in_response_to")))
    for item in shuffled:
        backchannel.record_fact(item)
    for day in ("2022-02-10", "2022-02-20", "2022-03-24", "2022-05-01"):
        assert board(backchannel, day) == expected_board(items, day)


def test_retry_with_the_same_id_and_content_stores_nothing(backchannel):
    seed(backchannel)
    item = fact("call_held", "2022-03-30")
    first = backchannel.record_fact(item)
    again = backchannel.record_fact(item)
    assert first.created and not again.created
    assert again.position == first.position
    assert backchannel.head() == first.position


def test_same_id_with_different_content_is_a_conflict(backchannel):
    seed(backchannel)
    item = fact("call_held", "2022-03-30")
    backchannel.record_fact(item)
    with pytest.raises(Conflict):
        backchannel.record_fact({**item, "summary": "something else"})


def test_unknown_actor_is_refused_with_a_suggestion(backchannel):
    seed(backchannel)
    with pytest.raises(UnknownActor) as caught:
        backchannel.record_fact(fact("call_held", "2022-03-30", counterpart="sergei-shoygu"))
    assert caught.value.suggestions[0] == "sergei-shoigu"
    assert caught.value.loc == ("counterpart",)


def test_a_batch_with_one_bad_item_stores_nothing(backchannel):
    seed(backchannel)
    head = backchannel.head()
    items = [fact("call_held", f"2022-04-0{i}") for i in range(1, 6)]
    items[3]["type"] = "phoned"
    with pytest.raises(InvalidFact) as caught:
        backchannel.record_facts(items)
    assert caught.value.errors[0].loc == ("events", 3, "type")
    assert backchannel.head() == head


def test_refusal_may_answer_a_request_in_the_same_batch(backchannel):
    seed(backchannel)
    request = fact("meeting_requested", "2022-04-01")
    refusal = fact(
        "meeting_refused",
        "2022-04-02",
        actor="sergei-shoigu",
        counterpart="lloyd-austin",
        details={"in_response_to": request["id"]},
    )
    written = backchannel.record_facts([request, refusal])
    assert [w.created for w in written] == [True, True]
    with pytest.raises(InvalidFact, match="belongs to channel"):
        backchannel.record_fact(
            fact(
                "call_refused",
                "2022-04-03",
                actor="valery-gerasimov",
                counterpart="mark-milley",
                details={"in_response_to": request["id"]},
            )
        )


def test_concurrent_writers_of_one_id_store_it_once(backchannel):
    seed(backchannel)
    item = fact("call_held", "2022-04-01")
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: backchannel.record_fact(item), range(12)))
    assert sum(r.created for r in results) == 1
    assert len({r.position for r in results}) == 1
    # the seeds hold three facts on this channel; the new one is stored once
    assert len(backchannel.refresh().events(channel="lloyd-austin~sergei-shoigu")) == 4


def test_concurrent_writers_on_one_channel_lose_nothing(settings, backchannel):
    seed(backchannel)
    others = [bootstrap(settings) for _ in range(3)]  # separate connections/pools
    apps = [backchannel, *others]
    items = [fact("statement", "2022-04-01", summary=str(n)) for n in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda p: apps[p[0] % 4].record_fact(p[1]), enumerate(items)))
    assert all(r.created for r in results)
    assert len({r.position for r in results}) == 40
    stored = backchannel.refresh().events(channel="lloyd-austin~sergei-shoigu")
    assert len(stored) == 3 + 40
    for app in others:
        app.close()


def test_a_fact_is_retracted_at_most_once(backchannel):
    seed(backchannel)
    written = backchannel.record_fact(fact("call_held", "2022-04-01"))
    backchannel.retract(written.contact.id, "misdated")
    with pytest.raises(Conflict):
        backchannel.retract(written.contact.id, "again")


def test_retraction_hides_the_fact_now_but_not_as_known_before(backchannel):
    seed(backchannel)
    record = backchannel.refresh()
    call = next(
        c
        for c in record.contacts.values()
        if c.type.value == "call_held" and c.fact.channel == "lloyd-austin~sergei-shoigu"
    )
    retraction = backchannel.retract(call.id, "date unconfirmed").retraction
    as_of = end_of(date(2022, 2, 20))
    now = backchannel.refresh().status(
        "lloyd-austin", "sergei-shoigu", as_of=as_of, known_at=datetime.now(UTC)
    )
    before = backchannel.record.status(
        "lloyd-austin", "sergei-shoigu", as_of=as_of, known_at=call.recorded_at
    )
    assert now.status is Status.NO_CONTACT
    assert before.status is Status.OPEN
    assert retraction.recorded_at > call.recorded_at


def test_another_process_sees_writes_on_refresh(settings, backchannel):
    seed(backchannel)
    reader = bootstrap(settings, application=ReplayingBackchannel)
    try:
        written = backchannel.record_fact(fact("call_held", "2022-04-01"))
        assert reader.refresh().position >= written.position
        assert written.contact.id in reader.record.contacts
    finally:
        reader.close()


def test_an_unmigrated_store_is_refused_with_what_to_run(store_url):
    with pytest.raises(SchemaOutOfDate, match="backchannel migrate"):
        bootstrap(Settings(database_url=store_url))


def test_export_is_json_lines_in_the_api_shape(backchannel):
    from service.transfer import export_events

    seed(backchannel)
    lines = [json.loads(line) for line in export_events(backchannel)]
    assert len(lines) == seed_lines("events")
    assert {"id", "type", "occurred_at", "channel", "recorded_at", "position"} <= set(lines[0])


def test_recorded_at_never_runs_backwards_along_the_log_of_one_process(backchannel):
    seed(backchannel)
    items = [fact("statement", "2022-04-01", summary=str(n)) for n in range(60)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(backchannel.record_fact, items))
    contacts = sorted(backchannel.refresh().contacts.values(), key=lambda c: c.position)
    times = [c.recorded_at for c in contacts]
    assert times == sorted(times)


def seed_terms() -> list[dict]:
    with (SEEDS / "terms.jsonl").open() as stream:
        return [item for _, item in read_lines(stream)]


def test_every_seeded_term_names_its_source_and_the_offices_change_hands(backchannel):
    seed(backchannel)
    record = backchannel.refresh()
    terms = seed_terms()
    assert terms and all(t["sources"] and all(s["name"] for s in t["sources"]) for t in terms)
    assert {t["office"] for t in terms} == {
        "us-secretary-of-defense",
        "ru-minister-of-defence",
        "us-chairman-of-the-joint-chiefs",
        "ru-chief-of-the-general-staff",
        "us-ambassador-to-russia",
    }
    stored = {str(t.id): t.term for t in record.terms.values()}
    assert set(stored) == {t["id"] for t in terms}
    assert all(stored[t["id"]].to_dict()["sources"] == t["sources"] for t in terms)


def test_the_seeded_defence_posts_refused_in_2022_and_talked_in_june_2024(backchannel):
    seed(backchannel)
    record = backchannel.refresh()
    now = datetime.now(UTC)

    def status(a: str, b: str, day: str) -> str:
        at = end_of(date.fromisoformat(day))
        return record.status(a, b, as_of=at, known_at=now).status.value

    posts = ("us-secretary-of-defense", "ru-minister-of-defence")
    # In 2022 the posts' channel is Austin-Shoigu's: the article's table holds for it.
    assert status(*posts, "2022-03-24") == ARTICLE_BOARD["lloyd-austin~sergei-shoigu"]
    assert status(*posts, "2022-02-20") == status("lloyd-austin", "sergei-shoigu", "2022-02-20")
    # Belousov took the ministry on 2024-05-14; Austin called him on 2024-06-25.
    assert status(*posts, "2024-07-01") == "open"
    assert status("lloyd-austin", "sergei-shoigu", "2024-07-01") != "open"
    # The chairman's post is Milley's in 2022: refused, like the two generals' channel.
    generals = ("us-chairman-of-the-joint-chiefs", "ru-chief-of-the-general-staff")
    assert status(*generals, "2022-03-24") == ARTICLE_BOARD["mark-milley~valery-gerasimov"]

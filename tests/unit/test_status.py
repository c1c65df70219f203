"""The status rule of domain.md, one behaviour per test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.status import DEFAULT_WINDOW, Status, channel_status, timeline
from domain.time import end_of, start_of
from tests.factories import fact, history, ids, retraction

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CHANNEL = "lloyd-austin~sergei-shoigu"


def status_on(events, day: str, *, retractions=(), known_at=NOW, window=DEFAULT_WINDOW):
    return channel_status(
        CHANNEL,
        events,
        retractions,
        as_of=end_of(date.fromisoformat(day)),
        known_at=known_at,
        window=window,
    )


def test_channel_without_events_has_no_contact():
    answer = status_on([], "2022-03-24")
    assert answer.status is Status.NO_CONTACT
    assert answer.since is None and answer.event_count == 0 and answer.evidence == ()


def test_call_within_window_makes_channel_open_since_the_call():
    (call,) = events = history(fact("call_held", "2022-02-18"))
    answer = status_on(events, "2022-02-20")
    assert answer.status is Status.OPEN
    assert answer.since == start_of(date(2022, 2, 18))
    assert answer.evidence == ids(call)
    assert answer.last_contact == call


def test_open_turns_dormant_exactly_w_days_after_last_contact():
    events = history(fact("call_held", "2022-02-18"))
    assert status_on(events, "2022-03-19").status is Status.OPEN  # 29 days and a day's end
    dormant = status_on(events, "2022-03-20")
    assert dormant.status is Status.DORMANT
    assert dormant.since == start_of(date(2022, 3, 20))  # no event marks this transition


def test_refusal_after_last_call_makes_channel_refused():
    call, _request, refusal = events = history(
        fact("call_held", "2022-02-18"),
        fact("call_requested", "2022-02-21"),
        fact("call_refused", "2022-02-22", actor="sergei-shoigu", counterpart="lloyd-austin"),
    )
    answer = status_on(events, "2022-03-24")
    assert answer.status is Status.REFUSED
    assert answer.since == start_of(date(2022, 2, 22))
    assert answer.requests_since_contact == {"lloyd-austin": 1}
    assert answer.refusals_since_contact == {"sergei-shoigu": 1}
    assert answer.evidence == ids(call, refusal)
    assert answer.event_count == 3


def test_request_after_last_contact_without_refusal_is_pending():
    call, request = events = history(
        fact("call_held", "2022-02-18"), fact("meeting_requested", "2022-02-25")
    )
    answer = status_on(events, "2022-02-26")
    assert answer.status is Status.PENDING
    assert answer.evidence == ids(call, request)


def test_refusal_with_no_contact_ever_is_refused():
    events = history(fact("meeting_refused", "2022-02-24", actor="ru", counterpart="us"))
    assert status_on(events, "2022-03-24").status is Status.REFUSED


def test_same_day_request_counts_as_answered_by_the_contact():
    events = history(
        fact("call_requested", "2022-03-01"),
        fact("call_held", "2022-03-01"),
    )
    answer = status_on(events, "2022-03-02")
    assert answer.status is Status.OPEN
    assert answer.requests_since_contact == {}


def test_contact_after_refusal_reopens_channel():
    events = history(
        fact("call_refused", "2022-03-01", actor="sergei-shoigu", counterpart="lloyd-austin"),
        fact("meeting_held", "2022-03-05"),
    )
    assert status_on(events, "2022-03-04").status is Status.REFUSED
    assert status_on(events, "2022-03-06").status is Status.OPEN


def test_hotline_test_gives_standby_which_lapses_after_w():
    (test,) = events = history(fact("hotline_test", "2022-03-24", actor="us-military"))
    answer = status_on(events, "2022-03-24")
    assert answer.status is Status.STANDBY
    assert answer.evidence == ids(test)
    assert status_on(events, "2022-04-23").status is Status.NO_CONTACT


def test_hotline_use_is_contact_and_outranks_standby():
    events = history(
        fact("hotline_test", "2022-03-01", actor="us-military"),
        fact("hotline_use", "2022-03-02", actor="us-military"),
    )
    assert status_on(events, "2022-03-03").status is Status.OPEN


def test_old_contact_with_recent_hotline_test_is_standby_then_dormant():
    events = history(
        fact("summons", "2022-01-01"),
        fact("hotline_test", "2022-03-01"),
    )
    assert status_on(events, "2022-03-10").status is Status.STANDBY
    assert status_on(events, "2022-04-15").status is Status.DORMANT


def test_statements_never_change_status_but_count_in_recent():
    events = history(
        fact("statement", "2022-03-14", actor="joe-biden", counterpart="vladimir-putin"),
        fact("statement", "2022-03-21", actor="joe-biden", counterpart="vladimir-putin"),
    )
    answer = status_on(events, "2022-03-24")
    assert answer.status is Status.NO_CONTACT
    assert answer.recent == {"statement": 2}
    assert answer.event_count == 2


def test_recent_counts_only_events_within_window_before_as_of():
    events = history(fact("call_held", "2022-01-01"), fact("statement", "2022-03-20"))
    assert status_on(events, "2022-03-24").recent == {"statement": 1}


def test_events_after_as_of_are_ignored():
    events = history(fact("call_held", "2022-02-18"), fact("call_refused", "2022-03-01"))
    answer = status_on(events, "2022-02-28")
    assert answer.status is Status.OPEN and answer.event_count == 1


def test_date_as_of_includes_events_at_any_time_that_day():
    events = history(fact("call_held", "2022-02-18T23:30:00Z", precision="exact"))
    assert status_on(events, "2022-02-18").status is Status.OPEN
    assert status_on(events, "2022-02-17").status is Status.NO_CONTACT


def test_events_recorded_after_known_at_are_not_yet_known():
    _call, refusal = events = history(
        fact("call_held", "2022-02-18"), fact("call_refused", "2022-02-25")
    )
    before = status_on(
        events, "2022-03-01", known_at=refusal.recorded_at - timedelta(microseconds=1)
    )
    assert before.status is Status.OPEN
    assert status_on(events, "2022-03-01", known_at=refusal.recorded_at).status is Status.REFUSED


def test_retraction_withdraws_fact_from_its_recorded_time_on():
    _call, refusal = events = history(
        fact("call_held", "2022-02-18"), fact("call_refused", "2022-02-25")
    )
    withdrawn = retraction(refusal, recorded_at=refusal.recorded_at + timedelta(hours=1))
    kwargs = {"retractions": [withdrawn]}
    assert status_on(events, "2022-03-01", **kwargs).status is Status.OPEN
    earlier = withdrawn.recorded_at - timedelta(microseconds=1)
    assert status_on(events, "2022-03-01", known_at=earlier, **kwargs).status is Status.REFUSED


def test_window_is_a_parameter():
    events = history(fact("call_held", "2022-02-18"))
    assert status_on(events, "2022-02-25", window=timedelta(days=7)).status is Status.DORMANT


def test_timeline_of_the_article_channel_reads_open_then_refused():
    call, _request, refusal = events = history(
        fact("call_held", "2022-02-18"),
        fact("call_requested", "2022-02-21"),
        fact("call_refused", "2022-02-21", actor="sergei-shoigu", counterpart="lloyd-austin"),
    )
    intervals = timeline(events, DEFAULT_WINDOW)
    assert [(i.status, i.start, i.end) for i in intervals] == [
        (Status.NO_CONTACT, None, start_of(date(2022, 2, 18))),
        (Status.OPEN, start_of(date(2022, 2, 18)), start_of(date(2022, 2, 21))),
        (Status.REFUSED, start_of(date(2022, 2, 21)), None),
    ]
    assert intervals[-1].evidence == ids(call, refusal)

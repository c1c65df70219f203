"""The read model's rows give back exactly the domain values they were written from."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import parse_fact
from domain.segments import segments
from infra.readmodel.rows import (
    _ids,
    _ids_from,
    contact_from,
    fact_row,
    segment_from,
    segment_row,
    uuid_of,
)
from tests.factories import recorded
from tests.unit.test_status_properties import arrive, histories, windows

NOW = datetime(2026, 1, 1, tzinfo=UTC)
texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@st.composite
def full_facts(draw: st.DrawFn) -> dict:
    refusal = draw(st.booleans())
    details = {"in_response_to": str(UUID(int=draw(st.integers(1, 2**64))))} if refusal else {}
    details |= draw(st.dictionaries(st.sampled_from(["mode", "stance", "quote"]), texts))
    return {
        "id": str(UUID(int=draw(st.integers(1, 2**64)))),
        "type": "call_refused" if refusal else draw(st.sampled_from(["statement", "call_held"])),
        "occurred_at": draw(st.sampled_from(["2022-02-18", "2022-02-18T10:11:12.123456Z"])),
        "precision": draw(st.sampled_from(["exact", "day", "week", "month"])),
        "actor": "lloyd-austin",
        "counterpart": "sergei-shoigu",
        "summary": draw(texts),
        "sources": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "name": texts.filter(str.strip),
                        "url": st.none() | st.just("https://example.org/a?b=c"),
                        "published_at": st.none() | st.just("2022-03-24"),
                    }
                ),
                max_size=3,
            )
        ),
        "details": details,
    }


@settings(max_examples=200, deadline=None)
@given(data=full_facts(), seconds=st.integers(0, 10**9))
def test_a_fact_row_reads_back_as_the_recorded_fact(data, seconds):
    fact = parse_fact(data, now=NOW, new_id=UUID(int=1))
    contact = recorded(fact.to_dict(), recorded_at=NOW + timedelta(microseconds=seconds))
    assert contact_from(fact_row(1, contact)) == contact


@settings(max_examples=200, deadline=None)
@given(items=histories, window=windows)
def test_segment_rows_read_back_as_the_segments(items, window):
    for segment in segments(arrive(items), window):
        assert segment_from(segment_row(1, "aa~bb", segment, 0, 1)) == segment


@given(st.uuids())
def test_a_uuid_read_back_from_its_text_is_the_same_uuid(value: UUID) -> None:
    read = uuid_of(str(value))
    assert read == value and hash(read) == hash(value) and str(read) == str(value)
    assert read.is_safe == UUID(str(value)).is_safe


@given(st.lists(st.uuids(), max_size=6, unique=True))
def test_evidence_reads_back_however_its_list_is_spelled(ids: list[UUID]) -> None:
    value = tuple(ids)
    assert _ids_from(_ids(value)) == value
    assert _ids_from(json.dumps([str(i) for i in value])) == value  # with spaces

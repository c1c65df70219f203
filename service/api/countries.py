"""Countries: every pair of countries with a channel on the board, and one pair.

A pair is summed up by its channels' statuses and its latest contact, never by a
status of its own (domain/countries.py); the counts are the read model's, over
the whole pair (infra/readmodel/countries.py).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path

from domain.countries import Countries, country_pair
from service.api.channels import LAGGING, PROJECTED, AsOf, KnownAt
from service.api.deps import Reading
from service.api.errors import NOT_FOUND, ApiProblem, problems
from service.api.pages import Paging, malformed, paginate
from service.api.schemas import CountryPairOut, CountryPairPage
from service.views import pair_view

router = APIRouter(prefix="/v1/countries", tags=["countries"])

PAIR = re.compile(r"^([A-Z]{2})~([A-Z]{2})$")
Code = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z]{2}$",
        description="an ISO 3166-1 alpha-2 code, either case",
        examples=["US"],
    ),
]


@router.get(
    "",
    response_model=CountryPairPage,
    responses=problems(401, 422, 503, others=PROJECTED),
    summary="Every pair of countries with at least one channel on the board",
    description="At (`as_of`, `known_at`), by pair: each pair's channels (those of "
    "`/v1/channels?countries=`, office channels left out) counted per status, and its "
    "latest contact. Two actors of one country make the pair of that country with "
    "itself (`US~US`)." + LAGGING,
)
def list_pairs(
    reader: Reading, paging: Paging, as_of: AsOf = None, known_at: KnownAt = None
) -> Any:
    """The board's country pairs at (`as_of`, `known_at`), by pair."""
    with reader.view() as view:
        now = reader.now()
        when = paging.pinned("as_of", as_of, now)
        known = paging.pinned("known_at", known_at, now)
        found = view.country_pairs(
            as_of=when, known_at=known, after=_after(paging), limit=paging.limit + 1
        )
        page, cursor = paginate(
            found,
            listing="countries",
            key=lambda pair: pair.id,
            request=paging,
            pins={"as_of": when, "known_at": known},
        )
        return reader.answer({"items": [pair_view(p) for p in page], "next_cursor": cursor})


@router.get(
    "/{a}/{b}",
    response_model=CountryPairOut,
    responses=problems(401, 404, 422, 503, others=PROJECTED),
    summary="One pair of countries",
    description="The pair's channels at (`as_of`, `known_at`) counted per status, and its "
    "latest contact; either order, either case. No channel: `channel_count` 0 and no "
    "counts; 404 if no actor has one of the two countries." + LAGGING,
)
def one_pair(
    a: Code, b: Code, reader: Reading, as_of: AsOf = None, known_at: KnownAt = None
) -> Any:
    """The pair {a, b} at (`as_of`, `known_at`)."""
    countries = country_pair(a, b)
    with reader.view() as view:
        now = reader.now()
        unknown, found = view.country_pair(countries, as_of=as_of or now, known_at=known_at or now)
    if unknown:
        named = " nor ".join(sorted(unknown))
        raise ApiProblem(404, f"no actor has the country {named}", type=NOT_FOUND)
    return reader.answer(pair_view(found))


def _after(paging: Paging) -> Countries | None:
    """The pair the previous page ended at."""
    after = paging.after("countries")
    if after is None:
        return None
    match = PAIR.match(after)
    if match is None:
        raise malformed("its position is not a pair of countries")
    return match.group(1), match.group(2)

"""The countries page in a real browser (Debian's Chromium) on a real `backchannel serve`
with the seeds: the matrix against /v1/countries, and a cell opening the board filtered
to its pair (the holders' channels, never the offices' own).

Each cell of the matrix is an element with `data-pair` and `data-channel-count`, each of
its counts one with `data-status`; every page aborts any request to a host other than
the loopback one, and each test ends by checking none was made. A screenshot of the
matrix is saved where the `screenshots` fixture says (`make screenshots`: docs/screenshots/).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from infra.settings import Settings
from service.bootstrap import bootstrap, migrate
from service.transfer import seed
from tests.e2e.browser import chromium, offline_context, require_chromium
from tests.e2e.processes import environment, serving

pytestmark = pytest.mark.e2e

TOKEN = "e2e-" + uuid.uuid4().hex
DESKTOP = {"width": 1280, "height": 800}
ARTICLE_DAY = "2022-03-24"


@pytest.fixture(scope="module", autouse=True)
def _needs_chromium() -> None:
    require_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`backchannel serve` on a free port over a migrated, seeded SQLite store; yields its URL."""
    directory = tmp_path_factory.mktemp("countries")
    settings = Settings(
        database_url=f"sqlite:///{directory / 'backchannel.sqlite3'}", log_format="console"
    )
    migrate(settings)
    app = bootstrap(settings)
    try:
        seed(app)
    finally:
        app.close()
    env = environment(settings.database_url, write_tokens=TOKEN)
    with serving(env, directory / "serve.log") as served:
        yield served.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized page; fails the test on any script error in it, and on any
    request it made to a host other than the loopback one."""
    options = {"viewport": DESKTOP, "locale": "en-GB", "timezone_id": "UTC"}
    with offline_context(browser, **options) as (context, blocked):
        opened = context.new_page()
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        yield opened
    assert not errors, errors
    assert not blocked, f"the page asked for something from elsewhere: {blocked}"


def api(server: str, path: str, **params: Any) -> Any:
    answer = httpx.get(f"{server}{path}", params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def every_item(server: str, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = api(server, path, **params, **({"cursor": cursor} if cursor else {}))
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def cell_counts(page: Page, pair: str) -> dict[str, int]:
    """The counts the matrix shows in the cell of `pair`, by status."""
    found = page.locator(f'[data-pair="{pair}"] [data-status]').evaluate_all(
        "(chips) => chips.map((c) => [c.dataset.status, c.querySelector('.n').textContent])"
    )
    return {status: int(n) for status, n in found}


def test_the_russian_american_cell_counts_what_the_api_says(
    page: Page, server: str, screenshots: Path
) -> None:
    page.goto(f"{server}/countries?as_of={ARTICLE_DAY}")
    cell = page.locator('[data-pair="RU~US"]')
    expected = api(server, "/v1/countries/RU/US", as_of=ARTICLE_DAY)
    assert expected["channel_count"] > 0
    expect(cell).to_have_attribute("data-channel-count", str(expected["channel_count"]))
    assert cell_counts(page, "RU~US") == expected["counts"]
    for pair in every_item(server, "/v1/countries", as_of=ARTICLE_DAY):  # every other cell too
        expect(page.locator(f'[data-pair="{pair["pair"]}"]')).to_have_attribute(
            "data-channel-count", str(pair["channel_count"])
        )
        assert cell_counts(page, pair["pair"]) == pair["counts"]
    # Rows and columns are the countries; a pair without channels shows none.
    expect(page.locator('[data-pair="DE~FR"]')).to_have_attribute("data-channel-count", "0")
    expect(page.locator("#matrix thead th")).to_have_text(["DE", "FR", "IL", "RU", "US"])
    expect(cell.locator('[data-status="refused"]')).to_have_css(
        "background-color",
        "rgb(179, 38, 30)",  # the board's colour of refused
    )
    page.screenshot(path=str(screenshots / "countries.png"))


def test_clicking_a_cell_opens_the_board_filtered_to_its_pair(page: Page, server: str) -> None:
    page.goto(f"{server}/countries?as_of={ARTICLE_DAY}")
    page.locator('[data-pair="RU~US"] a').click()

    expect(page).to_have_url(re.compile(r"/\?countries=RU%2CUS&as_of=2022-03-24$"))
    expect(page.locator("#pair-filter")).to_contain_text("RU and US")
    channels = every_item(server, "/v1/channels", as_of=ARTICLE_DAY, countries="RU,US")
    cards = page.locator("[data-channel]")
    expect(cards).to_have_count(len(channels))
    shown = cards.evaluate_all("(cards) => cards.map((c) => [c.dataset.channel, c.dataset.status])")
    assert sorted(map(tuple, shown)) == sorted((c["channel"], c["status"]) for c in channels)
    pair = api(server, "/v1/countries/RU/US", as_of=ARTICLE_DAY)
    assert len(shown) == pair["channel_count"]
    assert {s: sum(1 for _, x in shown if x == s) for s in pair["counts"]} == pair["counts"]
    # Macron's call with Putin is on the board, but not between Russia and the US.
    everything = every_item(server, "/v1/channels", as_of=ARTICLE_DAY)
    assert len(everything) > len(channels)

    page.locator("#all-countries").click()
    expect(cards).to_have_count(len(everything))
    expect(page).to_have_url(re.compile(r"/\?as_of=2022-03-24$"))


def test_the_russian_american_cell_counts_the_holders_channels_and_never_the_posts(
    page: Page, server: str
) -> None:
    day = "2024-07-01"  # a week after Austin called Belousov
    kinds = {a["id"]: a["kind"] for a in every_item(server, "/v1/actors")}
    offices = {actor for actor, kind in kinds.items() if kind == "office"}
    assert offices  # the seeds' five posts
    page.goto(f"{server}/countries?as_of={day}")
    expected = api(server, "/v1/countries/RU/US", as_of=day)
    then = api(server, "/v1/countries/RU/US", as_of=ARTICLE_DAY)
    assert expected["channel_count"] == then["channel_count"] + 1  # Austin~Belousov
    cell = page.locator('[data-pair="RU~US"]')
    expect(cell).to_have_attribute("data-channel-count", str(expected["channel_count"]))
    assert cell_counts(page, "RU~US") == expected["counts"]

    cell.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/\?countries=RU%2CUS&as_of={day}$"))
    channels = every_item(server, "/v1/channels", as_of=day, countries="RU,US")
    cards = page.locator("[data-channel]")
    expect(cards).to_have_count(expected["channel_count"])
    shown = dict(
        cards.evaluate_all("(cards) => cards.map((c) => [c.dataset.channel, c.dataset.status])")
    )
    assert shown == {c["channel"]: c["status"] for c in channels}
    assert shown["andrei-belousov~lloyd-austin"] == "open"
    assert not [c for c in shown if set(c.split("~")) & offices]  # the posts are elsewhere
    posts = every_item(server, "/v1/channels", as_of=day, kind="office")
    assert {p["channel"] for p in posts} and not {p["channel"] for p in posts} & set(shown)


def test_the_matrix_reads_the_record_as_known_at_a_past_moment(page: Page, server: str) -> None:
    seeded = max(e["recorded_at"] for e in every_item(server, "/v1/events"))
    call = {
        "type": "call_held",
        "occurred_at": "2022-03-10",
        "actor": "emmanuel-macron",
        "counterpart": "joe-biden",
    }
    answer = httpx.post(
        f"{server}/v1/events", json=call, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    position = answer.json()["position"]
    at = {"as_of": ARTICLE_DAY, "known_at": seeded}  # the seeds, not the call recorded since
    then = {p["pair"]: p for p in every_item(server, "/v1/countries", **at)}
    now = {
        p["pair"]: p
        for p in every_item(server, "/v1/countries", as_of=ARTICLE_DAY, min_position=position)
    }
    assert "FR~US" in now and "FR~US" not in then
    page.goto(f"{server}/countries?as_of={ARTICLE_DAY}&known_at={seeded}")
    expect(page.locator("#viewing")).to_be_visible()
    for pair in now:
        count = then[pair]["channel_count"] if pair in then else 0
        expect(page.locator(f'[data-pair="{pair}"]')).to_have_attribute(
            "data-channel-count", str(count)
        )
        assert cell_counts(page, pair) == (then[pair]["counts"] if pair in then else {})

    page.locator('[data-pair="RU~US"] a').click()  # the board keeps both times
    expect(page).to_have_url(re.compile(r"known_at="))
    expect(page.locator("#known-at")).not_to_have_value("")


def test_an_unreadable_time_in_the_address_is_named_and_the_matrix_shows_now(
    page: Page, server: str
) -> None:
    page.goto(f"{server}/countries?as_of=banana")
    expect(page.locator('#view-problems [data-param="as_of"]')).to_contain_text("“banana”")
    expected = api(server, "/v1/countries/RU/US")
    expect(page.locator('[data-pair="RU~US"]')).to_have_attribute(
        "data-channel-count", str(expected["channel_count"])
    )

"""Offices in a real browser (Debian's Chromium) on a real `backchannel serve` with the seeds:
the Offices view of the board against /v1/channels?kind=office, and the holders' bands
on the channel page of a pair of offices against the seeds' terms.

Each holder band is an element `g.holder` inside its office's row
(`g.holders[data-office]`), with `data-name`, `data-from` and `data-to` (empty: still in
office) and a title in words. Every page aborts any request to a host other than the
loopback one, and each test ends by checking none was made. A screenshot of the holder
bands is saved where the `screenshots` fixture says (`make screenshots`: docs/screenshots/).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
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
DEFENCE = "ru-minister-of-defence~us-secretary-of-defense"
DEFENCE_PAGE = "/channels/us-secretary-of-defense/ru-minister-of-defence"
STAFFS = "ru-chief-of-the-general-staff~us-chairman-of-the-joint-chiefs"
LIVE_TIMEOUT_MS = 20_000  # the stream brings changes at once; polling within seconds
# The seeds' terms of the two defence posts (seeds/terms.jsonl), in the order held.
SECRETARIES = [
    ("Lloyd Austin", "2021-01-22", "2025-01-20"),
    ("Pete Hegseth", "2025-01-25", ""),
]
MINISTERS = [
    ("Sergei Shoigu", "2012-11-06", "2024-05-12"),
    ("Andrei Belousov", "2024-05-14", ""),
]


@pytest.fixture(scope="module", autouse=True)
def _needs_chromium() -> None:
    require_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`backchannel serve` on a free port over a migrated, seeded SQLite store; yields its URL."""
    directory = tmp_path_factory.mktemp("offices")
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


def post(server: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(
        f"{server}{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def office_pairs(server: str, **params: Any) -> list[tuple[str, str]]:
    items = api(server, "/v1/channels", kind="office", limit=1000, **params)["items"]
    return sorted((c["channel"], c["status"]) for c in items)


def cards(page: Page) -> list[tuple[str, str]]:
    shown = page.locator("[data-channel]").evaluate_all(
        "(cards) => cards.map((c) => [c.dataset.channel, c.dataset.status])"
    )
    return sorted((channel, status) for channel, status in shown)


def holder_bands(page: Page, office: str) -> list[dict[str, Any]]:
    """The bands of `office`'s row, left to right: name, from, to, title and where drawn."""
    found: list[dict[str, Any]] = page.locator(
        f'g.holders[data-office="{office}"] g.holder'
    ).evaluate_all(
        """(bands) => bands.map((b) => {
            const box = b.querySelector("rect.holder-band").getBBox();
            return {name: b.dataset.name, from: b.dataset.from, to: b.dataset.to,
                    title: b.querySelector("title").textContent, x: box.x,
                    right: box.x + box.width, y: box.y};
        })"""
    )
    return sorted(found, key=lambda band: band["x"])


def test_the_offices_view_lists_the_pairs_of_offices_as_the_api_does(
    page: Page, server: str
) -> None:
    page.goto(server + "/")
    expect(page.locator("#to-board")).to_have_attribute("aria-current", "page")
    page.locator("#to-offices").click()
    expect(page).to_have_url(re.compile(r"/offices$"))
    expect(page.locator("#to-offices")).to_have_attribute("aria-current", "page")
    expect(page.locator("#board-title")).to_contain_text("Pairs of offices")
    expected = office_pairs(server)
    assert [channel for channel, _ in expected] == [STAFFS, DEFENCE]
    expect(page.locator("[data-channel]")).to_have_count(len(expected))
    assert cards(page) == expected
    expect(page.locator("#board-summary")).to_contain_text("2 pairs of offices")
    expect(page.locator("#download-csv")).to_have_attribute("href", re.compile(r"kind=office"))

    for day, defence in (("2022-02-20", "open"), ("2022-03-24", "refused"), ("2024-07-01", "open")):
        page.locator("#as-of-date").fill(day)
        page.locator("#as-of-date").dispatch_event("change")
        expect(page).to_have_url(re.compile(rf"/offices\?as_of={day}$"))
        expect(page.locator(f'[data-channel="{DEFENCE}"]')).to_have_attribute(
            "data-status", defence
        )
        assert cards(page) == office_pairs(server, as_of=day), day
    card = page.locator(f'[data-channel="{DEFENCE}"]')
    expect(card).to_contain_text("since 25 Jun 2024")
    expect(card).to_contain_text("Call held, 25 Jun 2024")
    # An office and a person, or an office and an institution, is no pair of offices.
    assert api(server, "/v1/channels/lloyd-austin/ru-minister-of-defence")["event_count"] > 0
    expect(page.locator('[data-channel="lloyd-austin~ru-minister-of-defence"]')).to_have_count(0)
    expect(page.locator('[data-channel="ru-mfa~us-ambassador-to-russia"]')).to_have_count(0)

    card.locator("h3 a").click()
    expect(page).to_have_url(
        re.compile(r"/channels/ru-minister-of-defence/us-secretary-of-defense\?as_of=2024-07-01$")
    )
    expect(page.locator("#now")).to_have_attribute("data-status", "open")
    expect(page.locator("g.holder")).to_have_count(4)


def test_the_board_keeps_its_own_channels_beside_the_offices_view(page: Page, server: str) -> None:
    page.goto(f"{server}/?as_of=2024-07-01")
    board = api(server, "/v1/channels", as_of="2024-07-01", limit=1000)["items"]
    expect(page.locator("[data-channel]")).to_have_count(len(board))
    expect(page.locator(f'[data-channel="{DEFENCE}"]')).to_have_count(0)
    expect(page.locator('[data-channel="andrei-belousov~lloyd-austin"]')).to_have_attribute(
        "data-status", "open"
    )
    expect(page.locator("#to-offices")).to_have_attribute("href", "/offices?as_of=2024-07-01")


def test_the_defence_posts_show_who_held_them_along_the_timeline(
    page: Page, server: str, screenshots: Path
) -> None:
    page.goto(server + DEFENCE_PAGE)
    expect(page.locator("#channel-id")).to_have_text(DEFENCE)
    expect(page.locator('g.holders[data-office="us-secretary-of-defense"] g.holder')).to_have_count(
        2
    )
    expect(page.locator('g.holders[data-office="ru-minister-of-defence"] g.holder')).to_have_count(
        2
    )
    us = holder_bands(page, "us-secretary-of-defense")
    ru = holder_bands(page, "ru-minister-of-defence")
    assert [(b["name"], b["from"], b["to"]) for b in us] == SECRETARIES
    assert [(b["name"], b["from"], b["to"]) for b in ru] == MINISTERS
    assert (
        us[0]["title"] == "Lloyd Austin, US Secretary of Defense, from 22 Jan 2021 to 20 Jan 2025"
    )
    assert us[1]["title"] == "Pete Hegseth, US Secretary of Defense, from 25 Jan 2025 to now"
    assert ru[0]["title"].startswith(
        "Sergei Shoigu, Minister of Defence of Russia, from 6 Nov 2012"
    )
    assert ru[1]["title"].endswith("from 14 May 2024 to now")
    # What the API says of the posts, as the bands say it.
    for office, bands in (("us-secretary-of-defense", us), ("ru-minister-of-defence", ru)):
        terms = api(server, f"/v1/actors/{office}/terms")["items"]
        assert [(t["from"], t["to"] or "") for t in terms] == [(b["from"], b["to"]) for b in bands]
    # In time order, one after the other (Belousov took the post two days after Shoigu
    # left it), and above the status bands.
    for first, then in ((us[0], us[1]), (ru[0], ru[1])):
        assert first["right"] < then["x"]
    status_top = page.locator("g.band-group rect.band").first.evaluate("(r) => r.getBBox().y")
    assert max(b["y"] for b in us + ru) < status_top
    # A band that began before the drawn span is marked so, the later ones by name.
    labels = page.locator("g.holder text.holder-label").all_text_contents()
    assert "← Sergei Shoigu" in labels and "← Lloyd Austin" in labels
    assert "Andrei Belousov" in labels
    # The same as a table.
    page.locator("#holders-box summary").click()
    rows = page.locator("#holders tr").evaluate_all(
        "(rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))"
    )
    assert rows == [
        ["Minister of Defence of Russia", "Sergei Shoigu", "6 Nov 2012", "12 May 2024"],
        ["Minister of Defence of Russia", "Andrei Belousov", "14 May 2024", "still in office"],
        ["US Secretary of Defense", "Lloyd Austin", "22 Jan 2021", "20 Jan 2025"],
        ["US Secretary of Defense", "Pete Hegseth", "25 Jan 2025", "still in office"],
    ]
    page.locator("#holders-box summary").click()
    page.locator("#timeline-title").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "office-channel.png"))


def test_a_person_side_has_no_row_of_holders(page: Page, server: str) -> None:
    page.goto(f"{server}/channels/lloyd-austin/ru-minister-of-defence")
    expect(page.locator("#channel-id")).to_have_text("lloyd-austin~ru-minister-of-defence")
    expect(page.locator("g.holders")).to_have_count(1)
    bands = holder_bands(page, "ru-minister-of-defence")
    assert [(b["name"], b["from"], b["to"]) for b in bands] == MINISTERS
    page.goto(f"{server}/channels/lloyd-austin/sergei-shoigu")
    expect(page.locator("svg.timeline")).to_be_visible()
    expect(page.locator("g.holders")).to_have_count(0)
    expect(page.locator("#holders-box")).to_be_hidden()


def test_a_retracted_term_is_gone_from_the_bands_but_not_from_the_past_record(
    page: Page, server: str
) -> None:
    staffs = "/channels/us-chairman-of-the-joint-chiefs/ru-chief-of-the-general-staff"
    terms = api(server, "/v1/actors/us-chairman-of-the-joint-chiefs/terms")["items"]
    caine = next(t for t in terms if t["person"] == "dan-caine")
    page.goto(server + staffs)
    chairmen = 'g.holders[data-office="us-chairman-of-the-joint-chiefs"] g.holder'
    expect(page.locator(chairmen)).to_have_count(3)
    retraction = post(server, f"/v1/terms/{caine['id']}/retract", {"reason": "test: not so"})
    api(server, "/v1/actors/dan-caine/terms", min_position=retraction["position"])

    page.reload()
    expect(page.locator(chairmen)).to_have_count(2)
    names = [b["name"] for b in holder_bands(page, "us-chairman-of-the-joint-chiefs")]
    assert names == ["Mark Milley", "Charles Q. Brown Jr."]
    # As the record stood just before the retraction, Caine held the post.
    retracted_at = datetime.fromisoformat(retraction["recorded_at"])
    before = (retracted_at - timedelta(microseconds=1)).isoformat().replace("+00:00", "Z")
    page.goto(f"{server}{staffs}?known_at={before}")
    expect(page.locator("#viewing")).to_be_visible()
    expect(page.locator(chairmen)).to_have_count(3)
    names = [b["name"] for b in holder_bands(page, "us-chairman-of-the-joint-chiefs")]
    assert names == ["Mark Milley", "Charles Q. Brown Jr.", "Dan Caine"]


def test_a_call_between_holders_reaches_the_open_office_pages_without_a_reload(
    browser: Browser, page: Page, server: str
) -> None:
    page.goto(server + DEFENCE_PAGE)
    expect(page.locator("body")).to_have_attribute("data-live", "stream")
    expect(page.locator("#events li.event")).to_have_count(4)
    with offline_context(browser, viewport=DESKTOP, locale="en-GB", timezone_id="UTC") as (
        context,
        blocked,
    ):
        board = context.new_page()
        board.goto(server + "/offices")
        expect(board.locator(f'[data-channel="{DEFENCE}"]')).to_have_attribute(
            "data-status", "dormant"
        )
        post(
            server,
            "/v1/events",
            {
                "type": "call_refused",
                "occurred_at": "2025-03-03",
                "actor": "andrei-belousov",
                "counterpart": "pete-hegseth",
                "summary": "test: a refusal between the two holders",
            },
        )
        expect(board.locator(f'[data-channel="{DEFENCE}"]')).to_have_attribute(
            "data-status", "refused", timeout=LIVE_TIMEOUT_MS
        )
        assert not blocked, blocked
    expect(page.locator("#now")).to_have_attribute(
        "data-status", "refused", timeout=LIVE_TIMEOUT_MS
    )
    expect(page.locator("#events li.event")).to_have_count(5)

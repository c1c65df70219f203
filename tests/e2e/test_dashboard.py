"""The dashboard in a real browser (Debian's Chromium) on a real `backchannel serve` with the seeds.

The page is read the way a script would: each channel is an element with
`data-channel` and `data-status`, each timeline mark carries `data-type` and
`data-occurred-at`. Screenshots of the board and of a channel page are written
to docs/screenshots/ (README.md shows them).
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from infra.settings import Settings
from service.bootstrap import bootstrap, migrate
from service.transfer import seed
from tests.e2e.browser import chromium, require_chromium
from tests.e2e.processes import command, free_port, stop, wait_until_ready

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
TOKEN = "e2e-" + uuid.uuid4().hex
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
AUSTIN_SHOIGU = "lloyd-austin~sergei-shoigu"
MILLEY_GERASIMOV = "mark-milley~valery-gerasimov"
# Polling brings changes within seconds; leave room for a slow CI machine.
LIVE_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module", autouse=True)
def _needs_chromium() -> None:
    """Skip (or, with BACKCHANNEL_REQUIRE_BROWSER=1, fail) before starting a server."""
    require_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`backchannel serve` on a free port over a migrated, seeded SQLite store; yields its URL."""
    directory = tmp_path_factory.mktemp("dashboard")
    settings = Settings(
        database_url=f"sqlite:///{directory / 'backchannel.sqlite3'}", log_format="console"
    )
    migrate(settings)
    app = bootstrap(settings)
    try:
        seed(app)
    finally:
        app.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKCHANNEL_")}
    env |= {
        "BACKCHANNEL_DATABASE_URL": settings.database_url,
        "BACKCHANNEL_WRITE_TOKENS": TOKEN,
        "BACKCHANNEL_LOG_FORMAT": "json",
    }
    port = free_port()
    log = directory / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, url, log)  # the seeded log is projected before any read
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized page; fails the test on any script error in it."""
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", timezone_id="UTC")
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert not errors, errors


def channel(page: Page, channel_id: str) -> Locator:
    return page.locator(f'[data-channel="{channel_id}"]')


def open_board(page: Page, server: str, query: str = "") -> None:
    page.goto(f"{server}/{query}")
    expect(page.locator("[data-channel]").first).to_be_visible()


def post(server: str, path: str, body: dict[str, object]) -> dict[str, object]:
    answer = httpx.post(
        f"{server}{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_board_as_of_the_article_shows_austin_shoigu_refused(page: Page, server: str) -> None:
    open_board(page, server, "?as_of=2022-03-24")

    austin = channel(page, AUSTIN_SHOIGU)
    expect(austin).to_have_attribute("data-status", "refused")
    expect(austin).to_contain_text("Refused")  # the word, not the colour alone
    expect(austin).to_contain_text("Call held, 18 Feb 2022")
    expect(austin.locator(".requesting")).to_have_text("Lloyd Austin (1)")
    expect(austin.locator(".refusing")).to_have_text("Sergei Shoigu (1)")
    expect(channel(page, "joe-biden~vladimir-putin")).to_have_attribute("data-status", "no_contact")
    expect(page.locator("#legend")).to_contain_text("Standby")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "board.png"))


def test_moving_the_date_to_20_february_shows_the_channel_open(page: Page, server: str) -> None:
    open_board(page, server, "?as_of=2022-03-24")
    expect(channel(page, AUSTIN_SHOIGU)).to_have_attribute("data-status", "refused")

    page.locator("#as-of-date").fill("2022-02-20")

    expect(channel(page, AUSTIN_SHOIGU)).to_have_attribute("data-status", "open")
    expect(channel(page, AUSTIN_SHOIGU)).to_contain_text("Open")
    expect(page).to_have_url(re.compile(r"[?&]as_of=2022-02-20"))
    # Jake Sullivan's call was on 14 March: on 20 February that channel had no event yet.
    expect(channel(page, "jake-sullivan~nikolai-patrushev")).to_have_count(0)

    expect(page.locator("#as-of-range")).to_have_attribute("data-earliest", re.compile(r"^2022-"))
    page.locator("#as-of-range").focus()
    page.keyboard.press("ArrowRight")  # the slider moves the board a day at a time
    expect(page.locator("#as-of-date")).to_have_value("2022-02-21")
    expect(channel(page, AUSTIN_SHOIGU)).to_have_attribute("data-status", "refused")


def test_the_url_carries_the_date_across_a_reload(page: Page, server: str) -> None:
    open_board(page, server, "?as_of=2022-03-24")
    page.reload()
    expect(page.locator("#as-of-date")).to_have_value("2022-03-24")
    expect(page.locator("#board-date")).to_have_attribute("datetime", "2022-03-24")
    expect(channel(page, AUSTIN_SHOIGU)).to_have_attribute("data-status", "refused")

    page.locator("#as-of-date").fill("2022-02-20")
    expect(page).to_have_url(re.compile(r"as_of=2022-02-20"))
    page.reload()
    expect(page.locator("#as-of-date")).to_have_value("2022-02-20")
    expect(channel(page, AUSTIN_SHOIGU)).to_have_attribute("data-status", "open")

    known_at = "2020-01-01T00:00:00Z"  # before anything was recorded: an empty board
    page.goto(f"{server}/?as_of=2022-03-24&known_at={known_at}")
    expect(page.locator("#known-at")).to_have_value(re.compile(r"^2020-01-01T00:00"))
    expect(page.locator("#board .empty")).to_be_visible()
    expect(page.locator("[data-channel]")).to_have_count(0)


def test_filters_by_status_country_and_any_alias(page: Page, server: str) -> None:
    open_board(page, server, "?as_of=2022-03-24")

    page.locator("#status").select_option("refused")
    cards = page.locator("[data-channel]")
    expect(cards.first).to_be_visible()
    for status in cards.evaluate_all("(cards) => cards.map((c) => c.dataset.status)"):
        assert status == "refused"
    expect(channel(page, AUSTIN_SHOIGU)).to_be_visible()
    expect(page).to_have_url(re.compile(r"status=refused"))

    page.locator("#clear-filters").click()
    page.locator("#country").select_option("FR")
    expect(cards).to_have_count(1)
    expect(channel(page, "emmanuel-macron~vladimir-putin")).to_be_visible()

    page.locator("#clear-filters").click()
    page.locator("#q").fill("SHOYGÚ")  # an alias, in another case and with an accent
    expect(cards).to_have_count(1)
    expect(channel(page, AUSTIN_SHOIGU)).to_be_visible()


def test_channel_page_draws_the_18_february_call_and_the_refusals(page: Page, server: str) -> None:
    open_board(page, server, "?as_of=2022-03-24")
    channel(page, AUSTIN_SHOIGU).get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/channels/lloyd-austin/sergei-shoigu\?as_of=2022-03-24"))

    timeline = page.locator("svg.timeline")
    call = timeline.locator('.mark[data-type="call_held"][data-occurred-at="2022-02-18"]')
    expect(call).to_have_count(1)
    expect(timeline.locator('.mark[data-type="call_refused"]')).not_to_have_count(0)
    expect(timeline.locator('.mark[data-type="call_requested"]')).not_to_have_count(0)
    expect(timeline.locator('[data-status="open"][data-from="2022-02-18"]')).to_have_count(1)
    expect(timeline.locator('[data-status="refused"]')).not_to_have_count(0)
    expect(page.locator("#now")).to_have_attribute("data-status", "refused")

    call.focus()  # keyboard focus shows the same details as hovering
    tip = page.locator("#tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("Call held")
    expect(tip).to_contain_text("18 Feb 2022")
    expect(tip).to_contain_text("to the day")
    expect(tip).to_contain_text("CNN")

    refusal = timeline.locator('.mark[data-type="call_refused"]').first
    refusal.hover()
    expect(tip).to_contain_text("Call refused")
    expect(tip).to_contain_text("within the week")

    page.mouse.move(0, 0)
    call.focus()
    expect(tip).to_contain_text("Call held")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "channel.png"), full_page=True)


def test_a_retracted_event_is_struck_through_with_the_reason(page: Page, server: str) -> None:
    statement = post(
        server,
        "/v1/events",
        {
            "id": str(uuid.uuid4()),
            "type": "statement",
            "occurred_at": "2022-03-20",
            "precision": "day",
            "actor": "joe-biden",
            "counterpart": "vladimir-putin",
            "summary": "A statement misattributed by a wire report.",
            "sources": [{"name": "A wire report", "url": "https://example.org/wire"}],
        },
    )
    post(server, f"/v1/events/{statement['id']}/retract", {"reason": "misattributed"})

    page.goto(f"{server}/channels/joe-biden/vladimir-putin")
    mark = page.locator(f'svg.timeline .mark[data-event="{statement["id"]}"]')
    expect(mark).to_have_attribute("data-retracted", "true")
    item = page.locator(f"#event-{statement['id']}")
    expect(item.locator("del")).to_have_text("A statement misattributed by a wire report.")
    expect(item).to_contain_text("misattributed")
    mark.focus()
    expect(page.locator("#tip del")).to_be_visible()
    expect(page.locator("#tip")).to_contain_text("Retracted")
    expect(page.locator("#tip a[href='https://example.org/wire']")).to_be_visible()


def test_posting_an_event_changes_the_board_without_a_reload(page: Page, server: str) -> None:
    open_board(page, server)  # today: the refusals of 2022 still stand
    milley = channel(page, MILLEY_GERASIMOV)
    expect(milley).to_have_attribute("data-status", "refused")
    page.evaluate("window.__sameDocument = true")

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    post(
        server,
        "/v1/events",
        {
            "id": str(uuid.uuid4()),
            "type": "call_held",
            "occurred_at": yesterday,
            "precision": "day",
            "actor": "mark-milley",
            "counterpart": "valery-gerasimov",
            "summary": "A call, posted while the board is open.",
            "sources": [],
        },
    )

    expect(milley).to_have_attribute("data-status", "open", timeout=LIVE_TIMEOUT_MS)
    expect(milley).to_contain_text("Open")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened


def test_the_board_fits_a_phone(browser: Browser, server: str) -> None:
    context = browser.new_context(viewport=PHONE, locale="en-GB", timezone_id="UTC")
    try:
        phone = context.new_page()
        open_board(phone, server, "?as_of=2022-03-24")
        expect(channel(phone, AUSTIN_SHOIGU)).to_have_attribute("data-status", "refused")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the board scrolls sideways ({width}px)"
        phone.screenshot(path=str(SCREENSHOTS / "board-phone.png"))
        phone.goto(f"{server}/channels/lloyd-austin/sergei-shoigu?as_of=2022-03-24")
        expect(phone.locator("svg.timeline .mark").first).to_be_visible()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the channel page scrolls sideways ({width}px)"
    finally:
        context.close()

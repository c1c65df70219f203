"""The dashboard in a real browser (Debian's Chromium) on a real `backchannel serve` with the seeds.

The page is read the way a script would: each channel is an element with
`data-channel` and `data-status`, each timeline mark carries `data-type` and
`data-occurred-at`. Every page runs in a context that aborts any request to a
host other than the loopback one, and each test ends by checking none was made.
Screenshots of the board and of a channel page are saved where the `screenshots`
fixture says (`make screenshots`: docs/screenshots/, which README.md shows).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Request, expect

from infra.settings import Settings
from service.bootstrap import bootstrap, migrate
from service.transfer import seed
from tests.e2e.browser import chromium, offline_context, require_chromium
from tests.e2e.processes import environment, serving

pytestmark = pytest.mark.e2e

TOKEN = "e2e-" + uuid.uuid4().hex
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
AUSTIN_SHOIGU = "lloyd-austin~sergei-shoigu"
MILLEY_GERASIMOV = "mark-milley~valery-gerasimov"
# Polling brings changes within seconds; leave room for a slow CI machine.
LIVE_TIMEOUT_MS = 20_000
STREAM_DELIVERY_MS = 2_000  # what the stream promises an open board (polling takes seconds)
POLL_HEADER = "x-backchannel-poll"
# The slider reaches this many days beyond the record's first and last events.
SPAN_MARGIN_DAYS = 14


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
    env = environment(settings.database_url, write_tokens=TOKEN)
    # Ready: the seeded log is projected before any read.
    with serving(env, directory / "serve.log") as served:
        yield served.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized page; fails the test on any script error in it, and on any
    request it made to a host other than the loopback one (those are also aborted)."""
    options = {"viewport": DESKTOP, "locale": "en-GB", "timezone_id": "UTC"}
    with offline_context(browser, **options) as (context, blocked):
        opened = context.new_page()
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        yield opened
    assert not errors, errors
    assert not blocked, f"the page asked for something from elsewhere: {blocked}"


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


def test_board_as_of_the_article_shows_austin_shoigu_refused(
    page: Page, server: str, screenshots: Path
) -> None:
    open_board(page, server, "?as_of=2022-03-24")

    austin = channel(page, AUSTIN_SHOIGU)
    expect(austin).to_have_attribute("data-status", "refused")
    expect(austin).to_contain_text("Refused")  # the word, not the colour alone
    expect(austin).to_contain_text("Call held, 18 Feb 2022")
    expect(austin.locator(".requesting")).to_have_text("Lloyd Austin (1)")
    expect(austin.locator(".refusing")).to_have_text("Sergei Shoigu (1)")
    expect(channel(page, "joe-biden~vladimir-putin")).to_have_attribute("data-status", "no_contact")
    expect(page.locator("#legend")).to_contain_text("Standby")
    page.screenshot(path=str(screenshots / "board.png"))


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


def test_channel_page_draws_the_18_february_call_and_the_refusals(
    page: Page, server: str, screenshots: Path
) -> None:
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
    expect(tip).to_contain_text("CNN")

    refusal = timeline.locator('.mark[data-type="call_refused"]').first
    refusal.hover()
    expect(tip).to_contain_text("Call refused")
    expect(tip).to_contain_text("week of 21 Feb 2022")

    page.mouse.move(0, 0)
    call.focus()
    expect(tip).to_contain_text("Call held")
    page.screenshot(path=str(screenshots / "channel.png"), full_page=True)


@pytest.mark.parametrize(
    ("query", "name", "value", "settle"),
    [
        ("?as_of=banana", "as_of", "banana", "#today"),
        ("?known_at=yesterday", "known_at", "yesterday", "#known-now"),
        ("?as_of=2022-02-30", "as_of", "2022-02-30", "#today"),  # not 2 March: no such day
        # Read by the page, refused by the service (its offset takes it before year 1).
        ("?as_of=0001-01-01T00:00:00%2B23:59", "as_of", "0001-01-01T00:00:00+23:59", "#today"),
    ],
    ids=["as_of-word", "known_at-word", "as_of-30-february", "as_of-before-year-1"],
)
def test_an_unreadable_time_in_the_address_is_named_and_the_board_stays_usable(
    page: Page, server: str, query: str, name: str, value: str, settle: str
) -> None:
    open_board(page, server, query)  # today's board, not a page stuck on "Connecting…"

    problem = page.locator(f'#view-problems [data-param="{name}"]')
    expect(problem).to_be_visible()
    expect(problem).to_contain_text(f"{name}, “{value}”")
    expect(page.locator("#live")).to_contain_text("Live")
    today = datetime.now(UTC).date().isoformat()
    expect(page.locator("#board-date")).to_have_attribute("datetime", today)
    expect(page.locator("#as-of-date")).to_have_value(today)
    expect(channel(page, MILLEY_GERASIMOV)).to_have_attribute("data-status", "refused")

    page.locator("#as-of-date").fill("2022-02-20")  # the controls work
    expect(channel(page, AUSTIN_SHOIGU)).to_have_attribute("data-status", "open")
    page.locator(settle).click()
    expect(page.locator("#view-problems")).to_be_hidden()


def test_a_channel_opens_by_its_id_and_an_unknown_page_links_home(page: Page, server: str) -> None:
    page.goto(f"{server}/channels/{AUSTIN_SHOIGU}?as_of=2022-03-24")
    expect(page.locator("#now")).to_have_attribute("data-status", "refused")
    expect(page.locator("#channel-id")).to_have_text(AUSTIN_SHOIGU)
    expect(page).to_have_url(re.compile(r"/channels/lloyd-austin/sergei-shoigu\?as_of=2022-03-24$"))

    answer = page.goto(f"{server}/no/such/page")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="No such page")).to_be_visible()
    page.get_by_role("link", name="Go to the board").click()
    expect(page.locator("[data-channel]").first).to_be_visible()
    expect(page).to_have_url(f"{server}/")


def test_the_slider_spans_the_records_dates_with_a_tick_on_each_event_day(
    page: Page, server: str
) -> None:
    events = httpx.get(f"{server}/v1/events", params={"limit": 1000}, timeout=10).json()["items"]
    days = sorted({e["occurred_at"][:10] for e in events})
    assert days[0] == "2022-02-11" and days[-1] == "2024-06-25"  # the seeds' first and last
    open_board(page, server, "?as_of=2022-03-24")

    slider = page.locator("#as-of-range")
    earliest = date(2022, 1, 28)  # 14 days before the first
    expect(slider).to_have_attribute("data-earliest", earliest.isoformat())
    expect(slider).to_have_attribute("data-latest", "2024-07-09")  # 14 after the last, not today
    span = (date(2024, 7, 9) - earliest).days
    expect(slider).to_have_attribute("max", str(span))
    ticks = page.locator("#range-ticks .tick")
    expect(ticks).to_have_count(len(days))
    assert ticks.evaluate_all("(ts) => ts.map((t) => t.dataset.date)") == days
    options = page.locator("#event-days option")
    expect(options).to_have_count(len(days))
    assert options.evaluate_all("(os) => os.map((o) => o.value)") == [
        str((date.fromisoformat(d) - earliest).days) for d in days
    ]
    # Drawn under the slider, left to right as the days go.
    box = slider.bounding_box()
    assert box is not None
    xs = [b["x"] for b in (t.bounding_box() for t in ticks.all()) if b is not None]
    assert xs == sorted(xs) and len(set(xs)) == len(days)
    assert box["x"] < xs[0] < box["x"] + box["width"] * 0.35
    assert box["x"] + box["width"] * 0.65 < xs[-1] < box["x"] + box["width"]


def test_a_past_date_or_a_known_at_is_announced_with_a_way_back_to_now(
    page: Page, server: str
) -> None:
    open_board(page, server)
    banner = page.locator("#viewing")
    expect(banner).to_be_hidden()  # the present needs no banner

    known = datetime.now(UTC).replace(microsecond=0)
    known_text = f"{known.day} {known:%b %Y}, {known:%H:%M} UTC"
    open_board(page, server, f"?as_of=2022-03-24&known_at={known:%Y-%m-%dT%H:%M:%SZ}")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Viewing the record as of 24 Mar 2022")
    expect(banner).to_contain_text(f"as known on {known_text}")

    banner.get_by_role("button", name="Back to now").click()
    expect(banner).to_be_hidden()
    expect(page).to_have_url(f"{server}/")
    expect(page.locator("#board-date")).to_have_attribute(
        "datetime", datetime.now(UTC).date().isoformat()
    )
    expect(channel(page, MILLEY_GERASIMOV)).to_have_attribute("data-status", "refused")

    page.goto(f"{server}/channels/lloyd-austin/sergei-shoigu?as_of=2022-02-20")
    expect(page.locator("#now")).to_have_attribute("data-status", "open")
    expect(banner).to_contain_text("Viewing the record as of 20 Feb 2022")
    banner.get_by_role("button", name="Back to now").click()
    expect(banner).to_be_hidden()
    expect(page.locator("#now")).to_have_attribute("data-status", "refused")
    expect(page).to_have_url(f"{server}/channels/lloyd-austin/sergei-shoigu")


def test_dates_read_at_the_precision_they_are_known_to(page: Page, server: str) -> None:
    page.goto(f"{server}/channels/emmanuel-macron/vladimir-putin")
    month = page.locator('.event[data-type="call_held"] time.occurred')  # 24 Feb, to the month
    expect(month).to_have_text("Feb 2022")
    expect(month).to_have_attribute("datetime", "2022-02-24")

    page.goto(f"{server}/channels/lloyd-austin/sergei-shoigu")
    events = page.locator("#events")
    expect(events.locator('[data-type="call_requested"] time.occurred')).to_have_text(
        "week of 21 Feb 2022"
    )
    expect(events.locator('[data-type="call_held"] time.occurred')).to_have_text("18 Feb 2022")

    read = page.evaluate(
        """async () => {
            const { atPrecision } = await import("/static/time.js");
            return ["year", "month", "week", "day", "exact"].map((p) =>
                atPrecision(p === "exact" ? "2022-03-01T09:30:00Z" : "2022-03-01", p));
        }"""
    )
    assert read == ["2022", "Mar 2022", "week of 1 Mar 2022", "1 Mar 2022", "1 Mar 2022, 09:30 UTC"]


def test_the_events_behind_the_status_are_marked_and_each_shows_when_it_was_recorded(
    page: Page, server: str
) -> None:
    base = f"{server}/v1/channels/lloyd-austin/sergei-shoigu"
    events = httpx.get(f"{base}/events", timeout=10).json()["items"]
    for as_of in ("2022-03-24", "2022-02-20"):
        evidence = set(httpx.get(base, params={"as_of": as_of}, timeout=10).json()["evidence"])
        assert evidence, as_of
        page.goto(f"{server}/channels/lloyd-austin/sergei-shoigu?as_of={as_of}")
        expect(page.locator("#events .event")).to_have_count(len(events))
        for event in events:
            marked = "true" if event["id"] in evidence else "false"
            item = page.locator(f"#event-{event['id']}")
            expect(item).to_have_attribute("data-evidence", marked)
            mark = page.locator(f'svg.timeline .mark[data-event="{event["id"]}"]')
            expect(mark).to_have_attribute("data-evidence", marked)
            expect(item.locator(".recorded time")).to_have_attribute(
                "datetime", event["recorded_at"]
            )
            expect(item.locator(".recorded")).to_contain_text("Recorded ")
        expect(page.locator("#events .event.evidence")).to_have_count(len(evidence))
        expect(page.locator("#events .event.evidence").first).to_contain_text("Behind the status")
    # On 20 February the call of the 18th decided it (open); by 24 March the refusal did.
    call = next(e for e in events if e["type"] == "call_held")
    expect(page.locator(f"#event-{call['id']}")).to_have_attribute("data-evidence", "true")


def test_only_the_periodic_refresh_sends_the_poll_header(page: Page, server: str) -> None:
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request))

    def polls(request: Request) -> bool:
        return request.headers.get(POLL_HEADER) == "1"

    with page.expect_request(polls, timeout=LIVE_TIMEOUT_MS):
        open_board(page, server, "?as_of=2022-03-24")
    polled = {urlsplit(r.url).path for r in seen if POLL_HEADER in r.headers}
    assert polled == {"/v1/channels"}
    first_reads = [urlsplit(r.url).path for r in seen if POLL_HEADER not in r.headers]
    assert {"/", "/static/board.js", "/v1/actors", "/v1/events", "/v1/channels"} <= set(first_reads)
    assert first_reads.index("/v1/channels") < next(
        i for i, r in enumerate(seen) if POLL_HEADER in r.headers
    )

    seen.clear()
    with page.expect_request(polls, timeout=LIVE_TIMEOUT_MS):
        page.goto(f"{server}/channels/lloyd-austin/sergei-shoigu")
    page.wait_for_timeout(500)  # the poll's three reads go out together
    base = "/v1/channels/lloyd-austin/sergei-shoigu"
    polled = {urlsplit(r.url).path for r in seen if POLL_HEADER in r.headers}
    assert polled == {base, f"{base}/timeline", f"{base}/events"}
    assert all(r.headers[POLL_HEADER] == "1" for r in seen if POLL_HEADER in r.headers)


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
    # The record now reaches today, and so does the slider.
    today = datetime.now(UTC).date().isoformat()
    expect(page.locator("#as-of-range")).to_have_attribute("data-latest", today)
    expect(page.locator(f'#range-ticks .tick[data-date="{yesterday}"]')).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True  # no reload happened


def test_the_board_fits_a_phone(browser: Browser, server: str, screenshots: Path) -> None:
    context = browser.new_context(viewport=PHONE, locale="en-GB", timezone_id="UTC")
    try:
        phone = context.new_page()
        open_board(phone, server, "?as_of=2022-03-24")
        expect(channel(phone, AUSTIN_SHOIGU)).to_have_attribute("data-status", "refused")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the board scrolls sideways ({width}px)"
        phone.screenshot(path=str(screenshots / "board-phone.png"))
        phone.goto(f"{server}/channels/lloyd-austin/sergei-shoigu?as_of=2022-03-24")
        expect(phone.locator("svg.timeline .mark").first).to_be_visible()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the channel page scrolls sideways ({width}px)"
    finally:
        context.close()


def test_what_changed_in_the_week_of_21_february_shows_both_defence_channels_refused(
    page: Page, server: str
) -> None:
    page.goto(f"{server}/changes?week=2022-W08")
    for channel_id in (AUSTIN_SHOIGU, MILLEY_GERASIMOV):
        change = page.locator(f'#transitions [data-channel="{channel_id}"][data-at="2022-02-21"]')
        expect(change).to_have_attribute("data-after", "refused")
        expect(change).to_have_attribute("data-before", "open")
        expect(change.locator(f'a[href="/channels/{channel_id}"]')).to_be_visible()
        expect(change.locator("a.evidence").first).to_have_attribute(
            "href", re.compile("/v1/events/")
        )
    expect(page.locator("#week")).to_have_value("2022-W08")
    page.fill("#since", "2000-01-01T00:00:00")
    page.click("#range button[type=submit]")
    revised = page.locator(f'#revisions [data-channel="{AUSTIN_SHOIGU}"]')
    expect(revised).to_have_attribute("data-before", "no_contact")


def test_an_event_posted_through_the_api_reaches_an_open_board_through_the_stream(
    page: Page, server: str
) -> None:
    streamed: list[str] = []
    page.on("request", lambda r: streamed.append(r.url) if "/v1/stream" in r.url else None)
    open_board(page, server)
    expect(page.locator("body")).to_have_attribute("data-live", "stream")
    austin = channel(page, AUSTIN_SHOIGU)
    expect(austin).to_have_attribute("data-status", "refused")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    post(
        server,
        "/v1/events",
        {
            "id": str(uuid.uuid4()),
            "type": "call_held",
            "occurred_at": yesterday,
            "precision": "day",
            "actor": "lloyd-austin",
            "counterpart": "sergei-shoigu",
            "summary": "A call, pushed to the open board.",
            "sources": [],
        },
    )
    expect(austin).to_have_attribute("data-status", "open", timeout=STREAM_DELIVERY_MS)
    assert streamed, "the board never opened the stream"


def test_the_board_and_a_channel_offer_their_downloads(page: Page, server: str) -> None:
    open_board(page, server, "?as_of=2022-03-24")
    link = page.locator("#download-csv")
    expect(link).to_have_attribute("href", re.compile(r"format=csv.*as_of=2022-03-24"))
    answer = httpx.get(server + str(link.get_attribute("href")), timeout=10)
    assert answer.headers["content-type"].startswith("text/csv")
    page.goto(f"{server}/channels/lloyd-austin/sergei-shoigu")
    timeline = page.locator("#download-timelinejs")
    expect(timeline).to_have_attribute("href", re.compile("format=timelinejs"))
    document = httpx.get(server + str(timeline.get_attribute("href")), timeout=10).json()
    assert document["events"] and document["eras"]

"""The API docs (/docs, /redoc) in a real browser, offline, under the service's CSP.

The server requires read tokens, so the browser sends one the way the README
says a person would (an Authorization header on every request; a browser
extension does the same). Every request to a host other than the loopback
interface is aborted and counted: the docs must need none of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from infra.settings import Settings
from service.bootstrap import migrate
from tests.e2e.browser import LOOPBACK, chromium, offline_context, require_chromium
from tests.e2e.processes import environment, serving

pytestmark = pytest.mark.e2e

READ_TOKEN = "docs-reader-" + uuid.uuid4().hex
READER = {"Authorization": f"Bearer {READ_TOKEN}"}
RENDER_TIMEOUT_MS = 30_000
# Every CSP violation of the page, as the browser reports it to the page itself.
WATCH_CSP = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push([event.effectiveDirective, event.blockedURI]);
});
"""


def kept_out(violation: list[str]) -> bool:
    """A violation that is the policy doing its work: an image from another host refused
    (ReDoc shows its maker's logo from a CDN, and hides it when refused)."""
    directive, uri = violation
    host = urlsplit(uri).hostname or ""
    return directive == "img-src" and uri.startswith("https://") and host not in LOOPBACK


@pytest.fixture(scope="module", autouse=True)
def _needs_chromium() -> None:
    require_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`backchannel serve` on a free port over an empty SQLite store, with a read token."""
    directory = tmp_path_factory.mktemp("docs")
    settings = Settings(database_url=f"sqlite:///{directory / 'backchannel.sqlite3'}")
    migrate(settings)
    env = environment(settings.database_url, read_tokens=READ_TOKEN)
    with serving(env, directory / "serve.log", ready=False) as served:
        yield served.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def docs_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page sending the read token, offline but for loopback; yields it and what it
    had blocked. Fails the test on a script error, a blocked request, or a CSP violation other
    than the policy keeping out another host."""
    with offline_context(browser, extra_http_headers=READER) as (context, blocked):
        context.add_init_script(WATCH_CSP)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page, blocked
        violations = page.evaluate("window.cspViolations")
    assert not errors, errors
    assert [v for v in violations if not kept_out(v)] == []
    assert blocked == []


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_the_docs_need_the_read_token(server: str, path: str) -> None:
    assert httpx.get(f"{server}{path}", timeout=10).status_code == 401
    assert httpx.get(f"{server}{path}", headers=READER, timeout=10).status_code == 200


def test_swagger_ui_renders_offline_under_the_policy(
    docs_page: tuple[Page, list[str]], server: str
) -> None:
    page, _ = docs_page
    answer = page.goto(f"{server}/docs")
    assert answer is not None and answer.status == 200
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in policy and "unsafe-inline" not in policy

    operation = page.locator('.opblock-summary-path[data-path="/v1/events"]').first
    expect(operation).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Backchannel")


def test_redoc_renders_offline_under_the_policy(
    docs_page: tuple[Page, list[str]], server: str
) -> None:
    page, _ = docs_page
    answer = page.goto(f"{server}/redoc")
    assert answer is not None and answer.status == 200
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "style-src 'self' 'unsafe-inline';" in policy

    expect(page.locator("h1").first).to_contain_text("Backchannel", timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_text("/v1/events", exact=True).first).to_be_attached()

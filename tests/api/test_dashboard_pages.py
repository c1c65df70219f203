"""The dashboard's pages and assets as the service serves them: all local."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from infra.settings import Settings
from service.api import create_app
from service.web.routes import PAGES, STATIC

# What a page or a script may name with a scheme: the SVG namespace, never a place to fetch.
ALLOWED_URLS = {"http://www.w3.org/2000/svg"}
LINKED = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
IMPORTED = re.compile(r"""(?:import|from)\s*["']([^"']+)["']""")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_board_is_served_at_the_root(client: TestClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="board"' in answer.text


def test_the_countries_page_is_served_and_linked_from_every_page(client: TestClient) -> None:
    answer = client.get("/countries")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="matrix"' in answer.text
    for path in ("/", "/changes", "/channels/lloyd-austin/sergei-shoigu"):
        assert 'href="/countries"' in client.get(path).text, path


def test_the_offices_view_is_the_board_page_linked_from_every_page(client: TestClient) -> None:
    answer = client.get("/offices")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.text == client.get("/").text  # the board, which reads its path
    assert 'id="offices-note"' in answer.text
    for path in ("/", "/changes", "/countries", "/channels/lloyd-austin/sergei-shoigu"):
        assert 'href="/offices"' in client.get(path).text, path


def test_a_channel_page_is_served_for_ids_or_aliases(client: TestClient) -> None:
    for path in ("/channels/lloyd-austin/sergei-shoigu", "/channels/Austin/Shoygu"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert 'id="timeline-wrap"' in answer.text


def test_a_channel_page_is_served_by_the_channel_id(client: TestClient) -> None:
    answer = client.get("/channels/lloyd-austin~sergei-shoigu")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="timeline-wrap"' in answer.text


@pytest.mark.parametrize(
    "path", ["/channels/lloyd-austin", "/channels/a~b~c", "/channels/~b", "/channels/a~"]
)
def test_a_channel_path_without_two_actors_is_the_html_404(client: TestClient, path: str) -> None:
    assert_html_not_found(client.get(path))


@pytest.mark.parametrize("path", ["/nothing", "/channels", "/board/old", "/static/nothing.js"])
def test_an_unknown_page_is_an_html_404_with_a_link_home(client: TestClient, path: str) -> None:
    assert_html_not_found(client.get(path))


def test_unknown_api_paths_keep_their_problem_documents(client: TestClient) -> None:
    for path in ("/v1/nothing", "/v1", "/v2/nothing", "/v1/events/not-an-id"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json", path
        assert answer.json()["status"] == 404


def assert_html_not_found(answer: httpx.Response) -> None:
    assert answer.status_code == 404, answer.request.url
    assert answer.headers["content-type"].startswith("text/html")
    assert "No such page" in answer.text
    assert 'href="/"' in answer.text


def test_scripts_are_served_as_javascript_modules(client: TestClient) -> None:
    answer = client.get("/static/board.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "name", ["nothing.js", "..%2Fweb%2Froutes.py", "routes.py", ".hidden.js", "board.JS"]
)
def test_only_the_dashboard_files_are_served(client: TestClient, name: str) -> None:
    assert_html_not_found(client.get(f"/static/{name}"))


def test_the_dashboard_is_left_out_of_the_api_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert not [
        p for p in paths if p.startswith(("/static", "/channels", "/countries", "/offices"))
    ]


def files() -> list[Path]:
    return sorted([*PAGES.glob("*.html"), *STATIC.iterdir()])


@pytest.mark.parametrize("path", files(), ids=lambda p: p.name)
def test_every_asset_is_local(client: TestClient, path: Path) -> None:
    """Air-gapped networks: no CDN, no web font, no script from anywhere but this service."""
    text = path.read_text(encoding="utf-8")
    assert set(re.findall(r"https?://[^\s\"'<>)]+", text)) <= ALLOWED_URLS, path.name
    assert "@import" not in text and "url(http" not in text
    for target in LINKED.findall(text) + IMPORTED.findall(text):
        if target.startswith(("#", "/channels/", "mailto:")) or target == "/":
            continue
        url = target if target.startswith("/") else f"/static/{target.removeprefix('./')}"
        assert client.get(url).status_code == 200, f"{path.name} links {target}"

"""The HTTP edge: security headers, which routes the read tokens cover, NUL characters
refused, and which requests are logged at DEBUG rather than INFO.

The route-by-route cases share one app with read tokens set, over one SQLite
store (nothing they check depends on the store); the NUL cases run on both stores.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from infra.settings import Settings
from service.api import create_app
from service.bootstrap import migrate
from tests.api.conftest import (
    AUSTIN,
    READ_TOKEN,
    TOKEN,
    WRITE,
    assert_problem,
    post_event,
    rendered_log,
)
from tests.factories import fact

READ = {"Authorization": f"Bearer {READ_TOKEN}"}
POLL = {"X-Backchannel-Poll": "1"}
EVENT_ID = "6f1c2a4e-0b7d-4c55-9a3e-2d8f1b7c9e01"
OPEN, READS, WRITES = "open", "read", "write"
# Every route of the app, by method and template: a path to ask it, and who may.
ROUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/openapi.json"): ("/openapi.json", READS),
    ("GET", "/docs"): ("/docs", READS),
    ("GET", "/redoc"): ("/redoc", READS),
    ("GET", "/docs/static/{name}"): ("/docs/static/swagger-ui-bundle.js", READS),
    ("POST", "/v1/actors"): ("/v1/actors", WRITES),
    ("GET", "/v1/actors"): ("/v1/actors", READS),
    ("GET", "/v1/actors/{actor_id}"): ("/v1/actors/lloyd-austin", READS),
    ("PATCH", "/v1/actors/{actor_id}"): ("/v1/actors/lloyd-austin", WRITES),
    ("POST", "/v1/events"): ("/v1/events", WRITES),
    ("POST", "/v1/events/batch"): ("/v1/events/batch", WRITES),
    ("GET", "/v1/events"): ("/v1/events", READS),
    ("GET", "/v1/events/{event_id}"): (f"/v1/events/{EVENT_ID}", READS),
    ("POST", "/v1/events/{event_id}/retract"): (f"/v1/events/{EVENT_ID}/retract", WRITES),
    ("GET", "/v1/channels"): ("/v1/channels", READS),
    ("GET", "/v1/channels/{a}/{b}"): ("/v1/channels/lloyd-austin/sergei-shoigu", READS),
    ("GET", "/v1/channels/{a}/{b}/timeline"): (
        "/v1/channels/lloyd-austin/sergei-shoigu/timeline",
        READS,
    ),
    ("GET", "/v1/channels/{a}/{b}/events"): (
        "/v1/channels/lloyd-austin/sergei-shoigu/events",
        READS,
    ),
    ("GET", "/v1/transitions"): ("/v1/transitions", READS),
    ("GET", "/v1/revisions"): ("/v1/revisions?since=2022-01-01T00:00:00Z", READS),
    ("GET", "/v1/network"): ("/v1/network", READS),
    ("GET", "/v1/countries"): ("/v1/countries", READS),
    ("GET", "/v1/countries/{a}/{b}"): ("/v1/countries/RU/US", READS),
    ("POST", "/v1/actors/{actor_id}/terms"): ("/v1/actors/lloyd-austin/terms", WRITES),
    ("GET", "/v1/actors/{actor_id}/terms"): ("/v1/actors/lloyd-austin/terms", READS),
    ("POST", "/v1/terms/{term_id}/retract"): (f"/v1/terms/{EVENT_ID}/retract", WRITES),
    ("GET", "/healthz"): ("/healthz", OPEN),
    ("GET", "/readyz"): ("/readyz", OPEN),
    ("GET", "/metrics"): ("/metrics", READS),
    ("GET", "/"): ("/", OPEN),
    ("GET", "/changes"): ("/changes", OPEN),
    ("GET", "/countries"): ("/countries", OPEN),
    ("GET", "/offices"): ("/offices", OPEN),
    ("GET", "/channels/{a}/{b}"): ("/channels/lloyd-austin/sergei-shoigu", OPEN),
    ("GET", "/channels/{channel_id}"): ("/channels/lloyd-austin~sergei-shoigu", OPEN),
    ("GET", "/static/{name}"): ("/static/board.js", OPEN),
}
CASES = [pytest.param(key, id=f"{key[0]} {key[1]}") for key in ROUTES]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client of an app over a migrated SQLite store, with read tokens set, the
    reference actor registered, and one route that fails as no route should."""
    path = Path(tmp_path_factory.mktemp("edge")) / "backchannel.sqlite3"
    settings = Settings(
        database_url=f"sqlite:///{path}",
        log_format="json",
        write_tokens=TOKEN,
        read_tokens=READ_TOKEN,
    )
    migrate(settings)
    app = create_app(settings)

    def fail() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/fails", fail, include_in_schema=False)
    with TestClient(app) as client:
        assert client.post("/v1/actors", json=AUSTIN, headers=WRITE).status_code == 201
        yield client


def directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in parts}


def assert_secured(answer: Response) -> None:
    """The answer carries the security headers: a same-origin CSP and the rest."""
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    policy = directives(answer.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    scripts = policy["script-src"]
    assert scripts[0] == "'self'" and all(s.startswith("'sha256-") for s in scripts[1:])
    for sources in policy.values():  # no other origin, anywhere
        assert not [s for s in sources if s == "*" or "://" in s or s.startswith("http")]


def test_the_table_names_every_route_of_the_app(guarded: TestClient) -> None:
    app: FastAPI = guarded.app  # type: ignore[assignment]
    served = {
        (method, template)
        for _, template, methods in app.state.routes.routes
        for method in methods
        if method != "HEAD" and template != "/fails"
    }
    # The stream answers without end once allowed: its tokens are checked apart (below).
    assert served - {("GET", "/v1/stream")} == set(ROUTES)


@pytest.mark.parametrize("route", CASES)
def test_without_a_token_only_open_routes_answer(
    guarded: TestClient, route: tuple[str, str]
) -> None:
    method, _ = route
    path, who = ROUTES[route]
    answer = guarded.request(method, path)
    assert_secured(answer)
    if who == OPEN:
        assert answer.status_code == 200, answer.text
    else:
        assert_problem(answer, 401)
        assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", CASES)
def test_a_read_token_opens_every_route_but_the_writes(
    guarded: TestClient, route: tuple[str, str]
) -> None:
    method, _ = route
    path, who = ROUTES[route]
    answer = guarded.request(method, path, headers=READ)
    assert_secured(answer)
    if who == WRITES:
        assert_problem(answer, 403)
    else:
        # The route itself answers: found, or a problem of its own (no such event).
        assert answer.status_code in (200, 404), answer.text


def test_the_stream_needs_a_read_token_when_reads_do(guarded: TestClient) -> None:
    answer = guarded.get("/v1/stream")
    assert_problem(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert_problem(guarded.get("/v1/stream?after=-1", headers=READ), 422)  # allowed, checked


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/nowhere", 404),
        ("DELETE", "/v1/actors", 405),
        ("GET", "/v1/channels?as_of=banana", 422),
        ("GET", "/fails", 500),
    ],
)
def test_problems_carry_the_security_headers(
    guarded: TestClient, method: str, path: str, status: int
) -> None:
    answer = guarded.request(method, path, headers=READ)
    assert_problem(answer, status)
    assert_secured(answer)


def test_a_body_over_the_limit_is_refused_with_the_security_headers(
    guarded: TestClient,
) -> None:
    answer = guarded.post("/v1/events", content=b"x" * (2 << 20), headers=WRITE)
    assert_problem(answer, 413)
    assert_secured(answer)


def test_the_docs_pages_allow_only_their_own_inline_script(guarded: TestClient) -> None:
    swagger = guarded.get("/docs", headers=READ)
    assert "<script>" in swagger.text  # fastapi's page starts Swagger UI inline
    policy = directives(swagger.headers["content-security-policy"])
    assert len(policy["script-src"]) == 2 and policy["style-src"] == ["'self'"]
    redoc = directives(guarded.get("/redoc", headers=READ).headers["content-security-policy"])
    assert redoc["script-src"] == ["'self'"]
    assert redoc["style-src"] == ["'self'", "'unsafe-inline'"]


def test_the_docs_assets_come_from_the_package_not_a_cdn(guarded: TestClient) -> None:
    page = guarded.get("/redoc", headers=READ).text + guarded.get("/docs", headers=READ).text
    assert "cdn." not in page and "fonts.googleapis" not in page
    for name, kind in [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("redoc.standalone.js", "text/javascript"),
    ]:
        asset = guarded.get(f"/docs/static/{name}", headers=READ)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert f"/docs/static/{name}" in page
    escape = guarded.get("/docs/static/..%2Fcore.py", headers=READ)
    assert escape.status_code == 404 and "FastAPIOffline" not in escape.text


def test_an_unknown_page_is_an_html_404_with_the_security_headers(guarded: TestClient) -> None:
    answer = guarded.get("/nowhere", headers=READ)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert_secured(answer)


# -- NUL characters, on both stores ----------------------------------------------


def nul_problem(answer: Response, loc: list[str | int]) -> None:
    body = assert_problem(answer, 422)
    assert [e["loc"] for e in body["errors"]] == [loc], body
    assert "NUL" in body["errors"][0]["msg"]


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("/v1/channels?actor=x%00y", ["query", "actor"]),
        ("/v1/events?type=call_held&actor%00=x", ["query", "actor\x00"]),
        ("/v1/actors/x%00y", ["path", "actor_id"]),
        ("/v1/channels/lloyd-austin/x%00y/timeline", ["path", "b"]),
    ],
)
def test_a_nul_in_a_query_or_path_parameter_is_a_located_422(
    cast: TestClient, path: str, loc: list[str | int]
) -> None:
    nul_problem(cast.get(path), loc)


def test_a_nul_in_an_event_is_refused_and_nothing_is_recorded(cast: TestClient) -> None:
    escaped = fact("call_held", "2022-02-18", summary="a\x00b")
    nul_problem(cast.post("/v1/events", json=escaped, headers=WRITE), ["body", "summary"])
    raw = json.dumps(fact("call_held", "2022-02-18", summary="a@b")).replace("@", "\x00")
    answer = cast.post("/v1/events", content=raw.encode(), headers=WRITE)
    nul_problem(answer, ["body"])
    sources = [{"name": "CNN", "url": "https://example.org/\x00"}]
    sourced = fact("call_held", "2022-02-18", sources=sources)
    nul_problem(cast.post("/v1/events", json=sourced, headers=WRITE), ["body", "sources", 0, "url"])
    assert cast.get("/v1/events").json()["items"] == []


def test_a_nul_in_an_actor_is_refused_and_no_actor_is_registered(cast: TestClient) -> None:
    actor = {"id": "ru-mod", "name": "Ministry\x00of Defence", "kind": "institution"}
    nul_problem(cast.post("/v1/actors", json=actor, headers=WRITE), ["body", "name"])
    keyed = {**actor, "name": "Ministry of Defence", "country\x00": "RU"}
    nul_problem(cast.post("/v1/actors", json=keyed, headers=WRITE), ["body", "country\x00"])
    assert cast.get("/v1/actors/ru-mod").status_code == 404


def test_a_nul_in_a_batch_refuses_the_whole_batch(cast: TestClient) -> None:
    events = [fact("call_held", "2022-02-18"), fact("call_refused", "2022-03-01", summary="\x00")]
    answer = cast.post("/v1/events/batch", json={"events": events}, headers=WRITE)
    nul_problem(answer, ["body", "events", 1, "summary"])
    assert cast.get("/v1/events").json()["items"] == []


def test_a_nul_in_a_retraction_leaves_the_event_standing(cast: TestClient) -> None:
    call = post_event(cast, fact("call_held", "2022-02-18"))
    answer = cast.post(
        f"/v1/events/{call['id']}/retract", json={"reason": "mis\x00attributed"}, headers=WRITE
    )
    nul_problem(answer, ["body", "reason"])
    assert cast.get(f"/v1/events/{call['id']}").json()["retracted"] is None


# -- request logs -----------------------------------------------------------------


def request_levels(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    """(route, status, level) of each request line written, in order."""
    lines = [json.loads(line) for line in rendered_log(caplog)]
    return [(d["route"], d["status"], d["level"]) for d in lines if d["event"] == "request"]


def test_static_assets_and_successful_polls_log_at_debug_the_rest_at_info(
    guarded: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="backchannel.api")
    guarded.get("/static/style.css")
    guarded.get("/docs/static/swagger-ui.css", headers=READ)
    guarded.get("/favicon.ico")
    guarded.get("/v1/channels", headers=READ | POLL)
    guarded.get("/v1/channels?as_of=banana", headers=READ | POLL)
    guarded.get("/v1/channels", headers=READ)
    guarded.get("/v1/channels", headers=POLL)
    guarded.get("/")
    assert request_levels(caplog) == [
        ("/static/{name}", 200, "debug"),
        ("/docs/static/{name}", 200, "debug"),
        ("<unmatched>", 404, "debug"),
        ("/v1/channels", 200, "debug"),
        ("/v1/channels", 422, "info"),
        ("/v1/channels", 200, "info"),
        ("/v1/channels", 401, "info"),
        ("/", 200, "info"),
    ]


def test_at_info_level_an_open_dashboard_writes_only_its_page_loads(
    guarded: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="backchannel.api")
    guarded.get("/")
    for _ in range(3):
        guarded.get("/static/board.js")
        guarded.get("/v1/channels", headers=READ | POLL)
    assert request_levels(caplog) == [("/", 200, "info")]


def test_the_document_says_no_string_holds_a_nul(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["EventIn"]["properties"]["summary"]["pattern"] == "^[^\\u0000]*$"
    details = schemas["DetailsIn"]
    assert details["additionalProperties"] == {"$ref": "#/components/schemas/JsonValue"}
    assert details["propertyNames"] == {"pattern": "^[^\\u0000]*$"}
    channels = document["paths"]["/v1/channels"]["get"]["parameters"]
    actor = next(p["schema"] for p in channels if p["name"] == "actor")
    assert {"type": "string", "maxLength": 300, "pattern": "^[^\\u0000]*$"} in actor["anyOf"]
    problem = schemas["ValidationProblem"]["properties"]["detail"]
    assert "pattern" not in problem  # an answer may quote what was refused

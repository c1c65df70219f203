"""Schemathesis against the app's own /openapi.json, in-process (ASGI), on a seeded SQLite store.

The engine `schemathesis run` uses, with every phase (examples, coverage,
fuzzing, stateful) and every built-in check: answers are never 5xx and conform
to the document (status, content type, headers, body), valid data is accepted,
invalid data refused, and writes without the token are refused.

Some rules cannot be written in JSON Schema: the actors of an event must be registered
and distinct, it cannot have happened in the future or before 1900, a refusal answers
a recorded request, a cursor is one the server issued, the office pairs
(`kind=office`) take no country pair, and a time must be one Python holds (no leap
second, years 1-9999 once in UTC). A `before_call` hook moves *valid* (positive) cases
onto values that satisfy them, and channels onto registered actors so that their
statuses are read: valid data is then held to the default `positive_data_acceptance`
check (2xx) and reaches the write paths. Invalid (negative) cases are sent as
generated, except that no case asks for a `min_position` beyond the log: that is a 503
with Retry-After by contract, which tests/api/test_channels.py checks.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis import GenerationMode, HookContext
from schemathesis.engine import Status, events, from_schema
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from domain.time import EARLIEST, parse_instant, start_of
from infra.settings import Settings
from service.api import create_app
from service.bootstrap import bootstrap, migrate
from service.replay import ReplayingBackchannel
from service.transfer import seed
from tests.api.conftest import TOKEN

EXAMPLES_PER_OPERATION = 150
MIN_CASES_PER_OPERATION = 150
WITHOUT_PARAMETERS = {"GET /healthz", "GET /readyz", "GET /metrics"}  # little to generate
WRITES_OF_FACTS = ("POST /v1/events", "POST /v1/events/batch")
WRITE_OF_TERMS = "POST /v1/actors/{actor_id}/terms"
OFFICE = "us-secretary-of-defense"  # an office of the seeds
TIME_PARAMETERS = {"as_of", "known_at", "occurred_from", "occurred_to", "from", "to"}
LATEST = datetime.max.replace(tzinfo=UTC)

pytestmark = [pytest.mark.schemathesis, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The app over a SQLite store seeded with the reference article."""
    path: Path = tmp_path_factory.mktemp("schemathesis") / "backchannel.sqlite3"
    store = Settings(
        database_url=f"sqlite:///{path}",
        write_tokens=TOKEN,
        min_position_wait_seconds=1.0,  # generous: a loaded CI machine is slow to fold
        log_format="json",
        log_level="WARNING",
    )
    migrate(store)
    backchannel = bootstrap(store, application=ReplayingBackchannel)
    seed(backchannel)  # OFFICE among the seeds' actors, with its terms
    assert backchannel.refresh().is_office(OFFICE)
    app = create_app(store, backchannel)
    try:
        with TestClient(app):
            yield app
    finally:
        backchannel.close()


def api_schema(app: FastAPI) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": 20220324,
            # Hypothesis gives up on an operation when it discards many of its first draws
            # (negative cases of a body whose every field is optional, say), and how many it
            # discards varies from run to run; the test counts each operation's cases instead
            # (MIN_CASES_PER_OPERATION), so an operation left without cases still fails it.
            "suppress-health-check": ["filter_too_much"],
            "generation": {"mode": "all", "max-examples": EXAMPLES_PER_OPERATION},
            "auth": {"openapi": {"bearer": {"bearer": TOKEN}}},
            "checks": {"not_a_server_error": {"enabled": False}},
        }
    )
    # The stream never ends (its tests read it from a real server: tests/e2e/test_stream.py).
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    # A two-letter path pair leaves the generator too few negative cases to find (its
    # health check fails); tests/api/test_countries.py covers every answer of the route.
    # So does a term's body, whose person the hook must move onto a registered person:
    # tests/api/test_terms.py covers its answers.
    return (
        schema.exclude(path="/v1/stream")
        .exclude(path="/v1/countries/{a}/{b}")
        .exclude(path="/v1/actors/{actor_id}/terms", method="POST")
    )


class DomainValues:
    """Moves a valid case onto values that also satisfy the rules JSON Schema cannot state."""

    def __init__(self, app: FastAPI) -> None:
        self.backchannel = app.state.backchannel
        self.cast = sorted(self.backchannel.refresh().actors)

    def __call__(self, context: HookContext, case: schemathesis.Case, kwargs: Any) -> None:
        if case.query:
            self._within_the_log(case.query)
        if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
            return
        if case.query:
            case.query.pop("cursor", None)  # only the server issues cursors
            for name in TIME_PARAMETERS & case.query.keys():
                if not representable(case.query[name]):
                    case.query[name] = "2022-03-24"
            if case.query.get("kind") == "office":
                case.query.pop("countries", None)  # a pair's channels leave offices out
        if case.operation.path.startswith("/v1/countries/") and case.path_parameters:
            case.path_parameters["a"], case.path_parameters["b"] = "ru", "US"
        elif case.path_parameters and {"a", "b"} <= case.path_parameters.keys():
            a, b = self._pair(case.path_parameters["a"], case.path_parameters["b"])
            case.path_parameters["a"], case.path_parameters["b"] = a, b
        if case.operation.label == WRITE_OF_TERMS and isinstance(case.body, dict):
            # a person's term of the office: stored, or (overlapping one) a 409
            case.path_parameters = {**(case.path_parameters or {}), "actor_id": OFFICE}
            case.body.update({"person": "lloyd-austin", "from": "2021-01-22", "to": None})
        if case.operation.label in WRITES_OF_FACTS and isinstance(case.body, dict):
            items = case.body.get("events") if "events" in case.body else [case.body]
            for index, item in enumerate(items or []):
                if isinstance(item, dict):
                    self._fact(item, index)

    def _within_the_log(self, query: dict[str, Any]) -> None:
        """A position beyond the log is a 503 by contract (test_channels checks it)."""
        head = self.backchannel.head()

        def capped(wanted: Any) -> Any:
            if re.fullmatch("[0-9]+", str(wanted)) and int(str(wanted)) > head:
                return head
            return wanted

        if isinstance(query.get("min_position"), list):
            query["min_position"] = [capped(v) for v in query["min_position"]]
        elif "min_position" in query:
            query["min_position"] = capped(query["min_position"])

    def _fact(self, item: dict[str, Any], index: int) -> None:
        item["actor"], item["counterpart"] = self._pair(item.get("actor"), item.get("counterpart"))
        if not representable(item.get("occurred_at"), EARLIEST, datetime.now(UTC)):
            item["occurred_at"] = "2022-02-18"
        for source in item.get("sources") or []:
            if isinstance(source, dict) and not representable(source.get("published_at")):
                source["published_at"] = "2022-03-24"
        if isinstance(item.get("details"), dict):
            item["details"].pop("in_response_to", None)
        if "id" in item:  # distinct within a batch
            item["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{item['id']}/{index}"))

    def _pair(self, first: object, second: object) -> tuple[str, str]:
        """Two distinct registered actors, picked by what was generated."""
        actor, counterpart = self._actor(first), self._actor(second)
        if counterpart == actor:
            counterpart = self.cast[(self.cast.index(actor) + 1) % len(self.cast)]
        return actor, counterpart

    def _actor(self, name: object) -> str:
        return self.cast[sum(str(name).encode()) % len(self.cast)]


def representable(
    text: object, earliest: datetime = datetime.min.replace(tzinfo=UTC), latest: datetime = LATEST
) -> bool:
    """A time the service can hold: no leap second, in years 1-9999 once in UTC (or null)."""
    if text is None:
        return True
    try:
        when = start_of(parse_instant(str(text)))
    except (ValueError, OverflowError):
        return False
    return earliest <= when <= latest


def test_the_api_conforms_to_its_openapi_document(fuzzed_app: FastAPI) -> None:
    cases: Counter[str] = Counter()
    statuses: defaultdict[str, Counter[int]] = defaultdict(Counter)
    failures: list[str] = []
    hook = GLOBAL_HOOK_DISPATCHER.register_hook_with_name(DomainValues(fuzzed_app), "before_call")
    try:
        for event in from_schema(api_schema(fuzzed_app)).execute():
            if isinstance(event, events.ScenarioFinished):
                for case_id, node in event.recorder.cases.items():
                    cases[node.value.operation.label] += 1
                    interaction = event.recorder.interactions.get(case_id)
                    if interaction is not None and interaction.response is not None:
                        statuses[node.value.operation.label][interaction.response.status_code] += 1
                failures += failed_checks(event)
            elif isinstance(event, events.NonFatalError | events.FatalError):
                failures.append(f"{getattr(event, 'label', '')}: {event.info.format()}")
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(hook)
    print(f"\nschemathesis: {sum(cases.values())} cases, {len(failures)} failures")
    for operation, count in sorted(cases.items()):
        answered = ", ".join(f"{code}: {n}" for code, n in sorted(statuses[operation].items()))
        print(f"  {count:5d}  {operation}  ({answered})")
    assert not failures, "\n\n".join(dict.fromkeys(failures))
    assert len(cases) >= 16
    fewest = min(n for operation, n in cases.items() if operation not in WITHOUT_PARAMETERS)
    assert fewest >= MIN_CASES_PER_OPERATION


def failed_checks(event: events.ScenarioFinished) -> list[str]:
    found = []
    for checks in event.recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                found.append(
                    f"{event.recorder.label}: {check.name}: {failure.title}\n"
                    f"{failure.message}\n{check.failure_info.code_sample}"
                )
    return found


@schemathesis.check
def no_server_error_but_not_caught_up(ctx: Any, response: Any, case: schemathesis.Case) -> None:
    """No 5xx, except the contract's 503 with Retry-After to an unreached `min_position`.

    This stands in for the built-in `not_a_server_error` (disabled in the
    config): the hook keeps generated positions within the log, but not every
    phase of the run passes through it, and a position beyond the log is then
    answered, by contract, with that 503.
    """
    if response.status_code < 500:
        return
    caught_up_wait = (
        response.status_code == 503
        and "retry-after" in {k.lower() for k in response.headers}
        and "min_position" in (case.query or {})
    )
    assert caught_up_wait, f"{case.operation.label} answered {response.status_code}"

"""The OpenAPI document is complete: every path of api.md, models, examples, problems."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

CONTRACT = {
    ("post", "/v1/actors"),
    ("get", "/v1/actors"),
    ("get", "/v1/actors/{actor_id}"),
    ("patch", "/v1/actors/{actor_id}"),
    ("post", "/v1/events"),
    ("post", "/v1/events/batch"),
    ("get", "/v1/events/{event_id}"),
    ("get", "/v1/events"),
    ("post", "/v1/events/{event_id}/retract"),
    ("get", "/v1/channels"),
    ("get", "/v1/channels/{a}/{b}"),
    ("get", "/v1/channels/{a}/{b}/timeline"),
    ("get", "/v1/channels/{a}/{b}/events"),
    ("get", "/v1/countries"),
    ("get", "/v1/countries/{a}/{b}"),
    ("get", "/v1/transitions"),
    ("get", "/v1/revisions"),
    ("get", "/v1/network"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
}


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_the_document_has_every_operation_of_the_contract(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert operations(document).keys() >= CONTRACT


def test_every_error_response_is_documented_as_problem_json(client: TestClient) -> None:
    for (method, path), operation in operations(client.get("/openapi.json").json()).items():
        responses = operation["responses"]
        assert "500" in responses, (method, path)
        for code, response in responses.items():
            if code[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (path, code)
        if operation.get("parameters") or operation.get("requestBody"):
            schema = responses["422"]["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ValidationProblem"}


def test_writes_document_auth_errors_and_reads_min_position(client: TestClient) -> None:
    for (method, path), operation in operations(client.get("/openapi.json").json()).items():
        if path.startswith("/v1/") and method != "get":
            assert {"401", "403", "413", "422"} <= operation["responses"].keys(), path
            assert operation["security"] == [{"bearer": []}]
        elif path.startswith("/v1/"):
            assert "503" in operation["responses"], path
            assert "min_position" in [p["name"] for p in operation["parameters"]], path
            assert operation["security"] == [{}, {"bearer": []}], path


def test_read_auth_is_required_in_the_document_once_read_tokens_are_set(
    make_client: Any,
) -> None:
    client = make_client(read_tokens="reader")
    document = client.get("/openapi.json", headers={"Authorization": "Bearer reader"}).json()
    assert operations(document)[("get", "/v1/events")]["security"] == [{"bearer": []}]


def test_request_bodies_carry_examples_from_the_reference_article(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    call = schemas["EventIn"]["examples"][0]
    assert (call["actor"], call["counterpart"], call["occurred_at"]) == (
        "lloyd-austin",
        "sergei-shoigu",
        "2022-02-18",
    )
    assert schemas["ActorIn"]["examples"][0]["id"] == "sergei-shoigu"
    assert any(e["type"] == "call_refused" for e in schemas["BatchIn"]["examples"][0]["events"])
    assert schemas["EventIn"]["additionalProperties"] is False
    assert "HTTPValidationError" not in schemas


def test_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200

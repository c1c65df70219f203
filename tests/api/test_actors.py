"""POST/GET/PATCH /v1/actors (api.md, Actors)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import AUSTIN, SHOIGU, WRITE, assert_problem


def test_registering_an_actor_answers_201_with_it_and_its_position(client: TestClient) -> None:
    answer = client.post("/v1/actors", json=SHOIGU, headers=WRITE)
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == "/v1/actors/sergei-shoigu"
    body = answer.json()
    assert {k: body[k] for k in SHOIGU} == SHOIGU
    assert body["position"] >= 1


def test_registering_the_same_actor_again_is_200_and_stores_nothing(client: TestClient) -> None:
    first = client.post("/v1/actors", json=SHOIGU, headers=WRITE).json()
    again = client.post("/v1/actors", json=SHOIGU, headers=WRITE)
    assert again.status_code == 200, again.text
    assert again.json() == first
    assert client.get("/readyz").json()["head"] == first["position"]


def test_registering_an_id_again_with_other_content_is_409(client: TestClient) -> None:
    client.post("/v1/actors", json=SHOIGU, headers=WRITE)
    changed = {**SHOIGU, "country": "UA"}
    assert_problem(client.post("/v1/actors", json=changed, headers=WRITE), 409)


def test_an_actor_with_a_bad_slug_or_country_is_422_naming_each_field(client: TestClient) -> None:
    bad = {**SHOIGU, "id": "Sergei Shoigu", "country": "russia"}
    problem = assert_problem(client.post("/v1/actors", json=bad, headers=WRITE), 422)
    assert {tuple(e["loc"]) for e in problem["errors"]} == {("body", "id"), ("body", "country")}


def test_an_unknown_field_in_an_actor_is_422_not_silently_dropped(client: TestClient) -> None:
    typo = {**SHOIGU, "alias": ["Shoygu"]}
    problem = assert_problem(client.post("/v1/actors", json=typo, headers=WRITE), 422)
    assert ["body", "alias"] in [e["loc"] for e in problem["errors"]]
    assert client.get("/v1/actors/sergei-shoigu").status_code == 404


def test_an_actor_is_read_by_id_and_unknown_ids_are_404(cast: TestClient) -> None:
    answer = cast.get("/v1/actors/lloyd-austin")
    assert answer.status_code == 200
    assert answer.json()["name"] == "Lloyd Austin"
    problem = assert_problem(cast.get("/v1/actors/sergei-shoygu"), 404)
    assert problem["suggestions"] == ["sergei-shoigu"]


def test_an_actor_is_also_found_by_an_alias_whatever_its_case_and_accents(
    cast: TestClient,
) -> None:
    assert cast.get("/v1/actors/SERGEY SHOYGÚ").json()["id"] == "sergei-shoigu"


def test_q_matches_id_name_or_alias_ignoring_case_and_accents(cast: TestClient) -> None:
    found = cast.get("/v1/actors", params={"q": "shóygu"}).json()
    assert [a["id"] for a in found["items"]] == ["sergei-shoigu"]
    assert found["next_cursor"] is None
    by_name = cast.get("/v1/actors", params={"q": "AUSTIN"}).json()["items"]
    assert [a["id"] for a in by_name] == ["lloyd-austin"]


def test_actors_are_filtered_by_country_and_kind(cast: TestClient) -> None:
    russians = cast.get("/v1/actors", params={"country": "RU"}).json()["items"]
    assert [a["id"] for a in russians] == [
        "ru-mfa",
        "sergei-shoigu",
        "valery-gerasimov",
        "vladimir-putin",
    ]
    institutions = cast.get("/v1/actors", params={"kind": "institution"}).json()["items"]
    assert [a["id"] for a in institutions] == ["ru-mfa"]
    assert cast.get("/v1/actors", params={"kind": "alien"}).status_code == 422


def test_patch_renames_changes_role_and_adds_aliases_by_appending_events(
    client: TestClient,
) -> None:
    registered = client.post("/v1/actors", json=AUSTIN, headers=WRITE).json()
    answer = client.patch(
        "/v1/actors/lloyd-austin",
        json={"name": "Lloyd J. Austin III", "role": "Former Secretary", "aliases": ["Austin"]},
        headers=WRITE,
    )
    assert answer.status_code == 200, answer.text
    changed = answer.json()
    assert changed["name"] == "Lloyd J. Austin III"
    assert changed["role"] == "Former Secretary"
    assert changed["aliases"] == ["Secretary Austin", "Austin"]
    assert changed["position"] == registered["position"] + 3  # renamed, role changed, alias added
    assert client.get("/v1/actors/lloyd j. austin iii").json()["id"] == "lloyd-austin"


def test_patch_of_an_unknown_actor_is_404_and_of_a_blank_name_422(cast: TestClient) -> None:
    assert_problem(cast.patch("/v1/actors/nobody", json={"name": "X"}, headers=WRITE), 404)
    assert_problem(cast.patch("/v1/actors/lloyd-austin", json={"name": "  "}, headers=WRITE), 422)
    assert_problem(cast.patch("/v1/actors/lloyd-austin", json={"nom": "X"}, headers=WRITE), 422)


def test_an_actor_registered_with_a_sector_and_wikidata_id_shows_them_everywhere(
    client: TestClient,
) -> None:
    austin = {**AUSTIN, "sector": "MIL", "wikidata": "Q1"}
    answer = client.post("/v1/actors", json=austin, headers=WRITE)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["sector"], answer.json()["wikidata"]) == ("MIL", "Q1")
    assert client.post("/v1/actors", json=austin, headers=WRITE).status_code == 200
    assert_problem(client.post("/v1/actors", json={**austin, "sector": "DIP"}, headers=WRITE), 409)
    one = client.get("/v1/actors/lloyd-austin", params={"min_position": answer.json()["position"]})
    assert {k: one.json()[k] for k in austin} == austin
    listed = client.get("/v1/actors", params={"q": "austin"}).json()["items"]
    assert [(a["sector"], a["wikidata"]) for a in listed] == [("MIL", "Q1")]


def test_an_actor_without_a_sector_or_wikidata_id_shows_them_as_null(client: TestClient) -> None:
    body = client.post("/v1/actors", json=SHOIGU, headers=WRITE).json()
    assert (body["sector"], body["wikidata"]) == (None, None)
    read = client.get("/v1/actors/sergei-shoigu", params={"min_position": body["position"]})
    assert (read.json()["sector"], read.json()["wikidata"]) == (None, None)


def test_a_bad_sector_or_wikidata_id_is_422_naming_each_field(client: TestClient) -> None:
    for sector, wikidata in (("ARMY", "311440"), ("mil", "Q0"), ("XYZ", "Q12a"), ("", "P31")):
        bad = {**SHOIGU, "sector": sector, "wikidata": wikidata}
        problem = assert_problem(client.post("/v1/actors", json=bad, headers=WRITE), 422)
        locs = {tuple(e["loc"]) for e in problem["errors"]}
        assert locs == {("body", "sector"), ("body", "wikidata")}, (sector, wikidata)
    assert client.get("/v1/actors/sergei-shoigu").status_code == 404


def test_two_sector_codes_make_a_six_character_sector(client: TestClient) -> None:
    answer = client.post("/v1/actors", json={**SHOIGU, "sector": "GOVMED"}, headers=WRITE)
    assert answer.status_code == 201, answer.text
    bad = {**AUSTIN, "sector": "GOVXYZ"}
    problem = assert_problem(client.post("/v1/actors", json=bad, headers=WRITE), 422)
    assert ["body", "sector"] in [e["loc"] for e in problem["errors"]]


def test_patch_sets_a_sector_and_a_wikidata_id_and_refuses_bad_ones(client: TestClient) -> None:
    client.post("/v1/actors", json=SHOIGU, headers=WRITE)
    change = {"sector": "MIL", "wikidata": "Q42"}
    patched = client.patch("/v1/actors/sergei-shoigu", json=change, headers=WRITE)
    assert patched.status_code == 200, patched.text
    assert {k: patched.json()[k] for k in change} == change
    same = client.patch("/v1/actors/sergei-shoigu", json=change, headers=WRITE).json()
    assert same["position"] == patched.json()["position"]  # nothing changed, nothing appended
    read = client.get("/v1/actors/sergei-shoigu", params={"min_position": same["position"]})
    assert {k: read.json()[k] for k in change} == change
    for field, value in (("sector", "NAVY"), ("wikidata", "Q-1"), ("sector", None)):
        answer = client.patch("/v1/actors/sergei-shoigu", json={field: value}, headers=WRITE)
        problem = assert_problem(answer, 422)
        assert ["body", field] in [e["loc"] for e in problem["errors"]]

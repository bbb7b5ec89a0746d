"""The served OpenAPI document says what the server accepts: a client or a fuzzer that
follows it is not refused for doing so, and what it lets through, the server takes."""

from __future__ import annotations

from typing import Any

from .conftest import MakeClient


async def document(make_client: MakeClient) -> tuple[Any, dict[str, Any]]:
    client = await make_client()
    answer = await client.get("/_emulator/openapi.json")
    return client, await answer.json()


async def test_spectrum_discover_security_is_what_it_takes(make_client: MakeClient) -> None:
    client, doc = await document(make_client)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["spectrum_discover.bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "A token from GET /auth/v1/token, as Authorization: Bearer <token>",
    }
    status = doc["paths"]["/db2whrest/v1/task_status/{id}"]["get"]
    assert status["security"] == [
        {"spectrum_discover.bearer": []},
        {"spectrum_discover.basic": [], "spectrum_discover.allowBasic": []},
    ]
    basic = {"Authorization": "Basic c2RhZG1pbjpQYXNzdzByZA=="}  # sdadmin:Passw0rd
    path = "/db2whrest/v1/task_status/9c0db090-bd33-41c5-969f-a1603ddf49ab/peek"
    # Each way the document offers is taken; plain Basic, which it does not offer, is not.
    assert (await client.get(path, headers={**basic, "X-ALLOW-BASIC-AUTH-SD": "true"})).status == 200
    token = (await client.get("/auth/v1/token", headers=basic)).headers["X-Auth-Token"]
    assert (await client.get(path, headers={"Authorization": f"Bearer {token}"})).status == 200
    assert (await client.get(path, headers=basic)).status == 401


async def test_the_control_api_names_its_apis_and_empty_inputs_are_outside_the_spec(
    make_client: MakeClient,
) -> None:
    _, doc = await document(make_client)
    api = doc["components"]["schemas"]["control.create_task"]["properties"]["api"]
    assert api["enum"] == ["dataarts", "ops_center", "spectrum_discover", "traffic_ops"]
    sql = doc["paths"]["/db2whrest/v1/sql_query_async"]["post"]["requestBody"]["content"]["text/plain"]
    assert sql["schema"]["minLength"] == 1
    dataset = next(
        p for p in doc["paths"]["/dbapi.do"]["get"]["parameters"] if p["name"] == "dataset"
    )
    assert dataset["schema"]["pattern"] == "^[A-Za-z0-9_-]{2,32}$"


async def test_a_page_far_past_the_end_is_a_clear_400_not_a_500(make_client: MakeClient) -> None:
    # Found by Schemathesis at 200 examples: an offset past sys.maxsize crashed the listing.
    client = await make_client()
    answer = await client.get("/_emulator/tasks?limit=16011&offset=19330607179839897600")
    assert answer.status == 400
    assert (await answer.json())["error"] == "offset: must be at most 1,000,000,000, not '19330607179839897600'"
    assert (await client.get("/_emulator/tasks?offset=1000000000")).status == 200

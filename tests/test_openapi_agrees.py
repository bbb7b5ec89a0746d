"""The served OpenAPI document says what the server accepts: a client or a fuzzer that
follows it is not refused for doing so, and what it lets through, the server takes."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator

from emulator.apis.spectrum_discover.api import SpectrumDiscover
from emulator.apis.traffic_ops.routing import ASYNC_VERSIONS, KNOWN_VERSIONS, LOGIN_VERSIONS, atoi
from emulator.control_input import fault_from_json
from emulator.fault_effects import PARAMETERS
from emulator.lifecycle import Phase
from emulator.openapi import ANY_METHODS

from .conftest import MakeClient
from .helpers import Client, runtime_of


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


# ---- where the document narrows to what the server takes (found by Schemathesis' every-check run)


def admits(doc: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    """Whether `schema`, one of the document's, admits `value` ($refs into its components)."""
    return validator(doc, schema).is_valid(value)


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": doc["components"]})


def parameter(doc: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    return next(p for p in doc["paths"][path][method]["parameters"] if p["name"] == name)


async def test_traffic_ops_versions_are_the_ones_it_routes_and_others_keep_their_501(
    make_client: MakeClient,
) -> None:
    client, doc = await document(make_client)
    routed = {f"{major}.{minor}" for major, minor in KNOWN_VERSIONS}
    assert LOGIN_VERSIONS | ASYNC_VERSIONS == routed
    versions = [
        p["schema"] for item in doc["paths"].values() for operation in item.values()
        for p in operation["parameters"] if p["name"] == "version"
    ]
    assert versions and all(set(schema["enum"]) == routed for schema in versions)
    # Only the document narrows: a version Traffic Ops lacks is still its real 501.
    assert (await client.get("/api/6.0/async_status/1")).status == 501
    assert (await client.get("/api")).status == 501


async def test_a_traffic_ops_status_id_the_document_admits_is_one_atoi_reads(make_client: MakeClient) -> None:
    client, doc = await document(make_client)
    schema = parameter(doc, "/api/{version}/async_status/{id}", "get", "id")["schema"]
    samples = ["1", "+7", "-3", "007", "1.json", "9" * 18, "9" * 19, "9" * 20, "1.5", "x", "1 ", "\u0661"]
    for sample in samples:
        if admits(doc, schema, sample):
            assert atoi(sample.removesuffix(".json")) is not None, sample
    assert [s for s in samples if admits(doc, schema, s)] == ["1", "+7", "-3", "007", "1.json", "9" * 18]
    assert (await client.post("/api/4.0/user/login", json={"u": "admin", "p": "twelve12"})).status == 200
    assert (await client.get("/api/4.0/async_status/x")).status == 400  # the session cookie kept


async def test_the_traffic_ops_login_form_the_document_admits_is_never_a_400(make_client: MakeClient) -> None:
    client, doc = await document(make_client)
    schema = doc["paths"]["/api/{version}/user/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    forms = [{"u": "nobody", "p": "x"}, {"u": "", "p": "x"}, {"u": "a"}, {"u": "a", "p": "b", "U": ""}, {}]
    for form in forms:
        status = (await client.post("/api/4.0/user/login", json=form)).status
        assert admits(doc, schema, form) == (form == forms[0]), form
        assert status == (401 if form == forms[0] else 400), form


async def test_a_catch_all_route_is_documented_for_every_method_and_answers_as_the_vendor_does(
    make_client: MakeClient,
) -> None:
    # Traffic Ops' router answers a method no route has with its catch-all 404, not a 405:
    # the document lists every method OpenAPI 3.1 can name on its catch-all paths.
    client, doc = await document(make_client)
    for path in ("/api", "/api/{version}", "/api/{version}/{tail}"):
        assert set(doc["paths"][path]) == set(ANY_METHODS) == {
            "get", "put", "post", "delete", "options", "head", "patch", "trace"
        }
    answer = await client.request("TRACE", "/api")
    assert answer.status == 404
    assert (await answer.json())["alerts"][0]["text"] == "The requested path '/api' does not exist."



async def test_a_spectrum_discover_status_id_the_document_admits_is_a_uuid_the_server_takes(
    make_client: MakeClient,
) -> None:
    _, doc = await document(make_client)
    known = "9c0db090-bd33-41c5-969f-a1603ddf49ab"
    samples = [known, known.upper(), f"{{{known}}}", known.replace("-", ""), f" {known}", known[:-1], "x"]
    for path in ("/db2whrest/v1/task_status/{id}", "/db2whrest/v1/task_status/{id}/peek"):
        schema = parameter(doc, path, "get", "id")["schema"]
        admitted = [s for s in samples if admits(doc, schema, s)]
        assert admitted == [known, known.upper()]
        for sample in admitted:
            SpectrumDiscover.check_task_id(sample)  # raises ValueError for what it refuses


async def test_a_spectrum_discover_sql_body_the_document_admits_is_not_blank(make_client: MakeClient) -> None:
    client, doc = await document(make_client)
    schema = doc["paths"]["/db2whrest/v1/sql_query_async"]["post"]["requestBody"]["content"]["text/plain"]["schema"]
    headers = {"Authorization": "Basic c2RhZG1pbjpQYXNzdzByZA==", "X-ALLOW-BASIC-AUTH-SD": "true"}
    for sql in ("select 1", " \t\n", "\x0b", "\x1c\x85\u3000", "\u00a0x"):
        status = (await client.post("/db2whrest/v1/sql_query_async", data=sql.encode(), headers=headers)).status
        assert admits(doc, schema, sql) == (status != 400), (sql, status)


async def test_the_control_api_filters_and_task_paths_name_the_apis_and_phases(make_client: MakeClient) -> None:
    client, doc = await document(make_client)
    apis = sorted(runtime_of(client).apis)
    named = [
        (path, method, p) for path, item in doc["paths"].items() if path.startswith("/_emulator")
        for method, operation in item.items() for p in operation["parameters"] if p["name"] == "api"
    ]
    assert {(path, method) for path, method, _ in named} == {
        ("/_emulator/tasks", "get"), ("/_emulator/requests", "get"),
        ("/_emulator/tasks/{api}/{id}", "get"), ("/_emulator/tasks/{api}/{id}/transition", "post"),
    }
    assert all(p["schema"]["enum"] == apis for _, _, p in named)
    phase = parameter(doc, "/_emulator/tasks", "get", "phase")["schema"]
    assert phase["enum"] == [p.value for p in Phase]
    # An empty filter is outside the document, and the server refuses it rather than
    # reading it as no filter: a blank variable in a script is a mistake, said as one.
    for query in ("api=", "phase=", "api=nope"):
        answer = await client.get(f"/_emulator/tasks?{query}")
        assert answer.status == 400, query
    assert (await client.get("/_emulator/requests?api=")).status == 400
    assert (await client.get("/_emulator/tasks/nope/1")).status == 400


async def test_expiring_credentials_takes_no_body_for_every_api(make_client: MakeClient) -> None:
    client, doc = await document(make_client)
    assert doc["paths"]["/_emulator/credentials/expire"]["post"]["requestBody"]["required"] is False
    answer = await client.post("/_emulator/credentials/expire")
    assert answer.status == 200
    assert (await answer.json())["expired"] == sorted(runtime_of(client).apis)


def fault_verdicts(client: Client, doc: dict[str, Any]) -> Callable[[dict[str, Any]], tuple[bool, bool]]:
    """For a fault rule's body: (the document admits it for POST /_emulator/faults, the
    server takes it)."""
    runtime = runtime_of(client)
    schema = doc["paths"]["/_emulator/faults"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    check = validator(doc, schema)

    def verdicts(body: dict[str, Any]) -> tuple[bool, bool]:
        try:
            fault_from_json(runtime, body)
        except ValueError:
            return check.is_valid(body), False
        return check.is_valid(body), True

    return verdicts


async def test_the_fault_document_agrees_with_the_parser_on_every_kind_and_parameters(
    make_client: MakeClient,
) -> None:
    # Each kind with every set of up to three parameters, each in each form the shape allows
    # (a 500 or a 503, a uniform or an exponential draw): admitted exactly when taken. A
    # uniform draw's min is below its max here: JSON Schema cannot compare the two.
    client, doc = await document(make_client)
    verdicts = fault_verdicts(client, doc)
    values: dict[str, list[Any]] = {
        "seconds": [1], "distribution": ["uniform", "exponential"], "min": [1], "max": [2], "mean": [1],
        "status": [500, 503], "retry_after": [2], "fraction": [0.5], "chunk_bytes": [8], "interval": [0.1],
    }
    assert set(values) == {key for keys in PARAMETERS.values() for key in keys}
    checked = 0
    for kind in PARAMETERS:
        for size in range(4):
            for keys in itertools.combinations(values, size):
                for chosen in itertools.product(*(values[key] for key in keys)):
                    body = {"kind": kind, **dict(zip(keys, chosen, strict=True))}
                    admitted, taken = verdicts(body)
                    assert admitted == taken, f"{body}: the document {'admits' if admitted else 'refuses'} it"
                    checked += 1
    assert checked > 1000


async def test_the_fault_document_names_the_loaded_scenarios_and_their_steps(make_client: MakeClient) -> None:
    client, doc = await document(make_client)
    verdicts = fault_verdicts(client, doc)
    scenarios = list(runtime_of(client).engine.catalog.scenarios.values())
    bodies: list[dict[str, Any]] = [
        {"kind": "reset", "path": "/dbapi.do?action=getStatus"}, {"kind": "reset", "path": "/dbapi.do?"},
        {"kind": "reset", "step": 1}, {"kind": "reset", "step": "done"}, {"kind": "reset", "step": "running"},
        {"kind": "reset", "scenario": "nope"}, {"kind": "reset", "api": "nope"},
    ]
    for scenario in scenarios:
        steps = len(scenario.lifecycle.steps) if scenario.lifecycle else 0
        for api in (None, scenario.api, "ops_center" if scenario.api != "ops_center" else "dataarts"):
            for step in (None, *(p.value for p in Phase), *range(steps + 2)):
                body = {"kind": "reset", "scenario": scenario.name}
                bodies.append({**body, **({} if api is None else {"api": api}), **({} if step is None else {"step": step})})
    taken = 0
    for body in bodies:
        admitted, accepted = verdicts(body)
        assert admitted == accepted, f"{body}: the document {'admits' if admitted else 'refuses'} it"
        taken += accepted
    assert 0 < taken < len(bodies)

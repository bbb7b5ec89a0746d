"""Every control route under /_emulator, and its errors."""

from __future__ import annotations

import os
from typing import Any

import pytest

from .conftest import MakeClient
from .helpers import CLOCK_START, NOT_UTF8, Client, raw_status, runtime_of


async def create(client: Client, **body: Any) -> dict[str, Any]:
    body.setdefault("api", "traffic_ops")
    body.setdefault("scenario", "acme-autorenew")
    response = await client.post("/_emulator/tasks", json=body)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def advance(client: Client, seconds: float) -> dict[str, Any]:
    response = await client.post("/_emulator/clock/advance", json={"seconds": seconds})
    assert response.status == 200
    return await response.json()  # type: ignore[no-any-return]


def preloaded(client: Client) -> int:
    """How many tasks the loaded scenarios preload, over every API."""
    return sum(len(s.preload) for s in runtime_of(client).engine.catalog.scenarios.values())


async def test_health(client: Client) -> None:
    response = await client.get("/_emulator/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    # Every API's preloaded doc examples (Traffic Ops has one).
    assert body["tasks"] == preloaded(client)
    assert body["clock"] == {"mode": "virtual", "now": CLOCK_START, "iso": "2026-01-02T03:04:05Z"}
    assert body["pid"] == os.getpid()  # the process that answered


async def test_scenarios_lists_api_name_trigger_and_lifecycle(client: Client) -> None:
    body = await (await client.get("/_emulator/scenarios")).json()
    by_name = {(s["api"], s["name"]): s for s in body["scenarios"]}
    acme = by_name[("traffic_ops", "acme-autorenew")]
    assert acme["trigger"] == {"method": "POST", "path": "/api/{version}/acme_autorenew", "when": {}}
    assert acme["lifecycle"] == "scheduled 5s → running 30s → running 25s → succeeded"
    assert acme["source"].endswith("acme-autorenew.yaml:2")  # after the editor modeline
    assert by_name[("traffic_ops", "doc-example")]["preload"] == ["1"]


async def test_create_task_returns_the_task_and_its_vendor_url(client: Client) -> None:
    task = await create(client)
    assert task["api"] == "traffic_ops" and task["scenario"] == "acme-autorenew"
    assert task["id"] == "2"  # ids count on after the preloaded task 1
    assert task["phase"] == "scheduled" and task["step"] == 0
    assert task["created_at"] == CLOCK_START
    assert task["fields"] == {"message": "ACME async job has started."}
    assert task["status_path"] == "/api/4.0/async_status/2"
    assert task["status_url"] == f"http://{client.host}:{client.port}/api/4.0/async_status/2"


async def test_create_task_with_id_and_fields(client: Client) -> None:
    task = await create(client, id=77, fields={"message": "Custom."})
    assert task["id"] == "77" and task["fields"]["message"] == "Custom."
    fetched = await (await client.get("/_emulator/tasks/traffic_ops/77")).json()
    assert fetched["id"] == "77" and fetched["reads"] == 0


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"api": "nope", "scenario": "x"}, 400, "unknown api 'nope': use one of"),
        ({"api": "traffic_ops", "scenario": "nope"}, 404, "no traffic_ops scenario named 'nope' (loaded: "),
        ({"api": "traffic_ops", "scenario": "acme-autorenew", "id": "abc"}, 400, "id: a Traffic Ops async status id is a positive integer"),
        ({"api": "traffic_ops", "scenario": "acme-autorenew", "id": 1}, 409, "a traffic_ops task with id '1' already exists"),
        ({"api": "traffic_ops"}, 400, "'scenario' is missing"),
        ({"api": "traffic_ops", "scenario": "acme-autorenew", "colour": "red"}, 400, "colour: unknown key (allowed here: api, fields, id, scenario, scope)"),
        ({"api": "traffic_ops", "scenario": "acme-autorenew", "scope": {"project": "x"}}, 400, "scope: traffic_ops tasks have no scope 'project'"),
        ({"api": "traffic_ops", "scenario": "acme-autorenew", "fields": {"message": 5}}, 400, "fields.message: 5 is not of type 'string'"),
        ({"api": "traffic_ops", "scenario": "acme-autorenew", "fields": {"mesage": "x"}}, 400, "fields.mesage: unknown key (allowed here: message)"),
        ([1, 2], 400, "[1, 2] is not of type 'object'"),
    ],
)
async def test_create_task_errors(client: Client, body: Any, status: int, message: str) -> None:
    before = await runtime_of(client).store.count()
    response = await client.post("/_emulator/tasks", json=body)
    assert response.status == status
    assert message in (await response.json())["error"]
    assert await runtime_of(client).store.count() == before  # a refused request changes nothing


async def test_malformed_json_is_refused(client: Client) -> None:
    for path in ("/_emulator/tasks", "/_emulator/clock/advance", "/_emulator/tasks/traffic_ops/1/transition"):
        response = await client.post(path, data=b"{not json", headers={"Content-Type": "application/json"})
        assert response.status == 400
        assert (await response.json())["error"].startswith("the body is not valid JSON:")


async def test_list_tasks_filters_by_api_and_phase(client: Client) -> None:
    await create(client)
    done = await create(client)
    await client.post(f"/_emulator/tasks/traffic_ops/{done['id']}/transition", json={"phase": "succeeded"})
    everything = (await (await client.get("/_emulator/tasks?api=traffic_ops")).json())["tasks"]
    assert [t["id"] for t in everything] == ["1", "2", "3"]
    succeeded = (await (await client.get("/_emulator/tasks?api=traffic_ops&phase=succeeded")).json())["tasks"]
    assert [t["id"] for t in succeeded] == ["3"]
    limited = (await (await client.get("/_emulator/tasks?limit=2")).json())["tasks"]
    assert len(limited) == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [("api=nope", "unknown api 'nope'"), ("phase=done", "phase: unknown phase 'done'"),
     ("limit=0", "limit: must be at least 1"), ("limit=ten", "limit: not a whole number: 'ten'")],
)
async def test_list_tasks_errors(client: Client, query: str, message: str) -> None:
    response = await client.get(f"/_emulator/tasks?{query}")
    assert response.status == 400
    assert message in (await response.json())["error"]


async def test_get_task_errors(client: Client) -> None:
    response = await client.get("/_emulator/tasks/traffic_ops/999")
    assert response.status == 404
    assert (await response.json())["error"] == "no traffic_ops task with id '999'"
    response = await client.get("/_emulator/tasks/nope/1")
    assert response.status == 400


async def test_looking_at_a_task_does_not_count_as_a_poll(client: Client) -> None:
    task = await create(client)
    for _ in range(3):
        body = await (await client.get(f"/_emulator/tasks/traffic_ops/{task['id']}")).json()
    assert body["reads"] == 0


async def test_the_clock_moves_tasks(client: Client) -> None:
    task = await create(client)
    assert (await advance(client, 5))["now"] == CLOCK_START + 5
    body = await (await client.get(f"/_emulator/tasks/traffic_ops/{task['id']}")).json()
    assert (body["phase"], body["step"], body["changed_at"]) == ("running", 1, CLOCK_START + 5)
    await advance(client, 3600)
    body = await (await client.get(f"/_emulator/tasks/traffic_ops/{task['id']}")).json()
    assert (body["phase"], body["changed_at"]) == ("succeeded", CLOCK_START + 60)
    assert body["fields"]["message"] == "ACME renewal complete. 2 certs renewed, 0 errors."
    clock = await (await client.get("/_emulator/clock")).json()
    assert clock["now"] == CLOCK_START + 3605


@pytest.mark.parametrize(
    ("body", "message"),
    [({"seconds": -1}, "-1 is less than the minimum of 0"), ({}, "'seconds' is missing"),
     ({"seconds": "10"}, "'10' is not of type 'number'")],
)
async def test_clock_advance_errors(client: Client, body: Any, message: str) -> None:
    response = await client.post("/_emulator/clock/advance", json=body)
    assert response.status == 400
    assert message in (await response.json())["error"]
    assert (await (await client.get("/_emulator/clock")).json())["now"] == CLOCK_START


async def test_transition_forces_a_phase_with_a_message(client: Client) -> None:
    task = await create(client)
    response = await client.post(
        f"/_emulator/tasks/traffic_ops/{task['id']}/transition",
        json={"phase": "failed", "message": "ACME renewal failed."},
    )
    assert response.status == 200
    body = await response.json()
    assert (body["phase"], body["fields"]["message"], body["changed_at"]) == ("failed", "ACME renewal failed.", CLOCK_START)
    await advance(client, 3600)  # forced phases stay
    body = await (await client.get(f"/_emulator/tasks/traffic_ops/{task['id']}")).json()
    assert body["phase"] == "failed"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [({"phase": "done"}, 400, "phase: 'done' is not one of"), ({}, 400, "'phase' is missing"),
     ({"phase": "failed", "message": 3}, 400, "message: 3 is not of type 'string'")],
)
async def test_transition_errors(client: Client, body: Any, status: int, message: str) -> None:
    response = await client.post("/_emulator/tasks/traffic_ops/1/transition", json=body)
    assert response.status == status
    assert message in (await response.json())["error"]
    task = await (await client.get("/_emulator/tasks/traffic_ops/1")).json()
    assert task["phase"] == "running"
    response = await client.post("/_emulator/tasks/traffic_ops/404/transition", json={"phase": "failed"})
    assert response.status == 404


async def test_reset_restores_preloads_clock_ids_and_journal(client: Client) -> None:
    first = await create(client)
    await advance(client, 100)
    await client.get("/api/4.0/async_status/1")
    response = await client.post("/_emulator/reset")
    assert response.status == 200 and (await response.json())["tasks"] == preloaded(client)
    assert (await (await client.get("/_emulator/clock")).json())["now"] == CLOCK_START
    assert (await (await client.get("/_emulator/requests")).json())["requests"] == []
    again = await create(client)
    assert again["id"] == first["id"]  # the id sequence starts again


async def test_requests_journal_filters_and_clears(client: Client) -> None:
    await client.get("/api/4.0/async_status/1")
    await client.post("/api/4.0/user/login", json={"u": "admin", "p": "twelve12"})
    entries = (await (await client.get("/_emulator/requests")).json())["requests"]
    assert [(e["method"], e["path"], e["status"], e["api"]) for e in entries] == [
        ("GET", "/api/4.0/async_status/1", 401, "traffic_ops"),
        ("POST", "/api/4.0/user/login", 200, "traffic_ops"),
    ]
    assert entries[1]["body"] == {"u": "admin", "p": "[redacted]"}
    assert entries[0]["time"] == CLOCK_START
    filtered = (await (await client.get("/_emulator/requests?api=traffic_ops")).json())["requests"]
    assert len(filtered) == 2
    assert (await client.delete("/_emulator/requests")).status == 200
    assert (await (await client.get("/_emulator/requests")).json())["requests"] == []
    assert (await client.get("/_emulator/requests?api=nope")).status == 400


async def test_journal_records_the_task_and_redacts_credentials(client: Client) -> None:
    login = await client.post("/api/4.0/user/login", json={"u": "admin", "p": "twelve12"})
    cookie = login.cookies["mojolicious"].value
    await client.get("/api/4.0/async_status/1", headers={"Authorization": "Bearer abc"})
    await client.get("/api/4.0/async_status/1")
    entries = (await (await client.get("/_emulator/requests?task=1")).json())["requests"]
    assert len(entries) == 1 and entries[0]["status"] == 200
    text = str((await (await client.get("/_emulator/requests")).json()))
    assert cookie not in text and "twelve12" not in text and "Bearer abc" not in text
    assert "[redacted]" in text


async def test_journal_is_bounded(make_client: MakeClient) -> None:
    client = await make_client(journal_limit=3)
    for _ in range(5):
        await client.get("/api/4.0/async_status/1")
    entries = (await (await client.get("/_emulator/requests")).json())["requests"]
    assert [e["seq"] for e in entries] == [3, 4, 5]


async def test_unknown_control_routes_and_methods(client: Client) -> None:
    response = await client.get("/_emulator/nothing")
    assert response.status == 404
    assert "no control route /_emulator/nothing" in (await response.json())["error"]
    response = await client.put("/_emulator/clock/advance")
    assert response.status == 405
    assert "allowed: POST" in (await response.json())["error"]


async def test_admin_token_guards_the_control_api(make_client: MakeClient) -> None:
    client = await make_client(admin_token="s3cret")
    assert (await client.get("/_emulator/health")).status == 200  # health stays open
    response = await client.get("/_emulator/tasks")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await client.get("/_emulator/tasks", headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await client.get("/_emulator/tasks", headers={"Authorization": "Bearer s3cret"})).status == 200


async def test_huge_control_bodies_are_refused(client: Client) -> None:
    response = await client.post("/_emulator/tasks", data=b"x" * (2 * 1024 * 1024))
    assert response.status == 413


async def test_an_admin_token_that_is_not_utf8_is_refused_not_a_crash(make_client: MakeClient) -> None:
    client = await make_client(admin_token="s3cret")
    assert await raw_status(client, "GET", "/_emulator/tasks", {"Authorization": b"Bearer " + NOT_UTF8}) == 401

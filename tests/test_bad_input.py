"""Bad input over HTTP: every mistake gets an answer that names what is wrong, never a 500,
and a refused request leaves the running state (tasks, clock, journal) as it was.

Scenario files, config files and paths on the command line are in test_bad_files.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator.app import MAX_BODY_BYTES

from .helpers import CLOCK_START, Client

# Deeper than Python's JSON parser can go (its limit is the interpreter's recursion limit).
TOO_DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = b"x" * (MAX_BODY_BYTES + 1)
TO_LOGIN = {"u": "admin", "p": "twelve12"}
OPS_CENTER_AUTH = {"Authorization": "Basic ZnJlZDpmcmVk"}  # fred:fred
DATAARTS_TOKEN = {"X-Auth-Token": "emulator-iam-token"}
DATAARTS_PROJECT = "b384b9e9ab9b4ee8994c8633aabc9505"


async def running_state(client: Client) -> dict[str, Any]:
    """What a refused request must not change: every task as the control API shows it
    (looking counts as no read), the clock, and the request journal."""
    tasks = (await (await client.get("/_emulator/tasks?limit=100000")).json())["tasks"]
    clock = await (await client.get("/_emulator/clock")).json()
    journal = (await (await client.get("/_emulator/requests")).json())["requests"]
    return {"tasks": tasks, "clock": clock, "journal": journal}


async def send(client: Client, method: str, path: str, body: Any = None) -> Any:
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    return await client.request(method, path, data=data, headers={"Content-Type": "application/json"})


# ---- the control API -----------------------------------------------------------------------

LONG = 5000  # characters: more digits than int() reads, yet within aiohttp's 8190-byte request line

CONTROL_MISTAKES = [
    # JSON that Python reads but RFC 8259 does not have
    ("POST", "/_emulator/clock/advance", b'{"seconds": NaN}', 400, "the body is not valid JSON: NaN is not a JSON value"),
    ("POST", "/_emulator/clock/advance", b'{"seconds": Infinity}', 400, "the body is not valid JSON: Infinity is not a JSON value"),
    ("POST", "/_emulator/clock/advance", b'{"seconds": -Infinity}', 400, "-Infinity is not a JSON value"),
    ("POST", "/_emulator/clock/advance", b'{"seconds": 1, "seconds": 2}', 400, "the key 'seconds' is given twice"),
    ("POST", "/_emulator/tasks", b'{"api": "traffic_ops", "scenario": "acme-autorenew", "api": "dataarts"}', 400, "the key 'api' is given twice"),
    # absurd numbers
    ("POST", "/_emulator/clock/advance", {"seconds": 1e308}, 400, "seconds: 1e+308 is greater than the maximum of 3153600000"),
    ("POST", "/_emulator/clock/advance", {"seconds": -1e308}, 400, "seconds: -1e+308 is less than the minimum of 0"),
    ("POST", "/_emulator/clock/advance", b'{"seconds": 1e999}', 400, "seconds: inf is greater than the maximum"),
    ("POST", "/_emulator/clock/advance", {"seconds": "NaN"}, 400, "seconds: 'NaN' is not of type 'number'"),
    ("POST", "/_emulator/clock/advance", {"seconds": None}, 400, "seconds: None is not of type 'number'"),
    # bodies that are not JSON at all, or too deep to read
    ("POST", "/_emulator/tasks", TOO_DEEP, 400, "the body is not valid JSON: it is nested too deeply"),
    ("POST", "/_emulator/clock/advance", TOO_DEEP, 400, "the body is not valid JSON: it is nested too deeply"),
    ("POST", "/_emulator/tasks/traffic_ops/1/transition", TOO_DEEP, 400, "it is nested too deeply"),
    ("POST", "/_emulator/tasks", b"\xff\xfe{", 400, "the body is not valid JSON"),
    ("POST", "/_emulator/tasks", b"", 400, "the body is not valid JSON"),
    ("POST", "/_emulator/tasks/traffic_ops/1/transition", b"phase=failed", 400, "the body is not valid JSON"),
    # absurd query values
    ("GET", "/_emulator/tasks?limit=-1", None, 400, "limit: must be at least 1, not -1"),
    ("GET", "/_emulator/tasks?limit=1e3", None, 400, "limit: not a whole number: '1e3'"),
    ("GET", "/_emulator/tasks?limit=NaN", None, 400, "limit: not a whole number: 'NaN'"),
    ("GET", "/_emulator/tasks?limit=", None, 400, "limit: not a whole number: ''"),
    ("GET", "/_emulator/tasks?limit=" + "9" * LONG, None, 400, "limit: not a whole number"),
    ("GET", "/_emulator/tasks?phase=" + "x" * LONG, None, 400, "phase: unknown phase"),
    ("GET", "/_emulator/tasks?api=" + "x" * LONG, None, 400, "unknown api 'xxx"),
    ("GET", "/_emulator/requests?api=" + "x" * LONG, None, 400, "unknown api 'xxx"),
    # absurdly long ids and names
    ("GET", "/_emulator/tasks/traffic_ops/" + "9" * LONG, None, 404, "no traffic_ops task with id '999"),
    ("GET", "/_emulator/tasks/" + "x" * LONG + "/1", None, 400, "unknown api 'xxx"),
    ("POST", "/_emulator/tasks/traffic_ops/" + "9" * LONG + "/transition", {"phase": "failed"}, 404, "no traffic_ops task with id"),
    ("POST", "/_emulator/tasks", {"api": "traffic_ops", "scenario": "acme-autorenew", "id": "9" * 100_000}, 400, "id: a Traffic Ops async status id is a positive integer"),
    ("POST", "/_emulator/tasks", {"api": "ops_center", "scenario": "vm-metrics", "id": "a" * 65}, 400, "id: an Ops Center request id is 1-64"),
    ("POST", "/_emulator/tasks", {"api": "spectrum_discover", "scenario": "sql-query", "id": "../" * 20}, 400, "id: a Spectrum Discover task id is a UUID"),
    ("POST", "/_emulator/tasks", {"api": "dataarts", "scenario": "import-job", "id": "0" * 33}, 400, "id: a DataArts system task id is 32 lower-case hex characters"),
    ("POST", "/_emulator/tasks", {"api": "x" * 100_000, "scenario": "y"}, 400, "unknown api 'xxx"),
    ("POST", "/_emulator/tasks", {"api": "traffic_ops", "scenario": "y" * 100_000}, 404, "no traffic_ops scenario named 'yyy"),
    ("POST", "/_emulator/tasks/traffic_ops/1/transition", {"phase": "failed", "message": "m", "extra": 1}, 400, "extra: unknown key (allowed here: message, phase)"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    CONTROL_MISTAKES,
    ids=[f"{m} {p[:48]} {str(b)[:30]}" for m, p, b, _, _ in CONTROL_MISTAKES],
)
async def test_control_mistakes_are_named_and_change_nothing(
    client: Client, method: str, path: str, body: Any, status: int, message: str
) -> None:
    before = await running_state(client)
    response = await send(client, method, path, body)
    assert response.status == status
    error = (await response.json())["error"]
    assert message in error
    assert len(error) < 400  # what was wrong, quoted short: not the 100,000 characters back
    assert await running_state(client) == before


@pytest.mark.parametrize(
    "path", ["/_emulator/tasks", "/_emulator/clock/advance", "/_emulator/tasks/traffic_ops/1/transition"]
)
async def test_control_bodies_over_the_size_limit_are_refused_unread(client: Client, path: str) -> None:
    before = await running_state(client)
    response = await client.post(path, data=HUGE, headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert f"Maximum request body size {MAX_BODY_BYTES} exceeded" in (await response.json())["error"]
    assert await running_state(client) == before


async def test_the_clock_stops_short_of_year_9999(client: Client) -> None:
    """Every response renders a time; a clock past 9999 would make every one a 500."""
    century = 3_153_600_000  # the most one call may move it
    refused = None
    for _ in range(100):  # 2026 + 80 centuries is past 9999
        response = await client.post("/_emulator/clock/advance", json={"seconds": century})
        if response.status != 200:
            refused = response
            break
    assert refused is not None and refused.status == 400
    assert "seconds: moving the clock 3.1536e+09 s would take it past 9999-01-01T00:00:00Z" in (await refused.json())["error"]
    clock = await (await client.get("/_emulator/clock")).json()
    assert clock["iso"].startswith("9") and clock["now"] < 253370764800
    # Everything still answers, times and all.
    login = await client.post("/api/4.0/user/login", json=TO_LOGIN)
    assert login.status == 200
    status = await client.get("/api/4.0/async_status/1")
    assert status.status == 200 and (await status.json())["response"]["start_time"] == "2021-02-18T17:13:56.352261Z"
    assert (await client.get("/_emulator/health")).status == 200


async def test_a_request_line_beyond_aiohttps_limit_is_refused_and_the_server_goes_on(client: Client) -> None:
    before = await running_state(client)
    response = await client.get("/_emulator/tasks/traffic_ops/" + "9" * 20_000)
    assert response.status in (400, 414)
    assert await running_state(client) == before
    assert (await client.get("/_emulator/health")).status == 200


# ---- vendor request bodies -------------------------------------------------------------------

VENDOR_BODIES = [
    # (method, path, headers, body, status, what the vendor's answer says)
    ("POST", "/api/4.0/user/login", {}, TOO_DEEP, 400, "exceeded max depth"),
    ("POST", "/api/4.0/user/login/token", {}, TOO_DEEP, 400, "Invalid request: exceeded max depth"),
    ("POST", "/dbapi.do?action=query&dataset=defaultDs", OPS_CENTER_AUTH, TOO_DEEP, 400, "Request body is not valid JSON."),
    ("POST", f"/v1/{DATAARTS_PROJECT}/jobs/import", DATAARTS_TOKEN, TOO_DEEP, 400, "The request body is not valid JSON."),
    ("POST", "/v3/auth/tokens", {}, TOO_DEEP, 400, "The request body is invalid"),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "message"),
    VENDOR_BODIES,
    ids=[f"{m} {p}" for m, p, _, _, _, _ in VENDOR_BODIES],
)
async def test_vendor_bodies_too_deep_to_parse_get_the_vendors_400(
    client: Client, method: str, path: str, headers: dict[str, str], body: bytes, status: int, message: str
) -> None:
    before = await running_state(client)
    response = await client.request(method, path, data=body, headers={"Content-Type": "application/json", **headers})
    assert response.status == status
    assert message in await response.text()
    after = await running_state(client)
    assert (after["tasks"], after["clock"]) == (before["tasks"], before["clock"])
    # The journal keeps the refused request, its body as (redacted) text.
    entry = after["journal"][-1]
    assert (entry["method"], entry["status"]) == (method, status)
    assert isinstance(entry["body"], str) and len(entry["body"]) <= 4097


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/4.0/user/login", {}),
        ("/dbapi.do?action=query&dataset=defaultDs", OPS_CENTER_AUTH),
        (f"/v1/{DATAARTS_PROJECT}/jobs/import", DATAARTS_TOKEN),
        ("/v3/auth/tokens", {}),
        ("/db2whrest/v1/sql_query_async", {"Authorization": "Basic c2RhZG1pbjpQYXNzdzByZA==", "X-ALLOW-BASIC-AUTH-SD": "true"}),
    ],
)
async def test_vendor_bodies_over_the_size_limit_are_413_and_journaled_without_a_body(
    client: Client, path: str, headers: dict[str, str]
) -> None:
    before = await running_state(client)
    response = await client.post(path, data=HUGE, headers=headers)
    assert response.status == 413
    after = await running_state(client)
    assert (after["tasks"], after["clock"]) == (before["tasks"], before["clock"])
    assert after["journal"][-1]["status"] == 413 and after["journal"][-1]["body"] is None


async def test_absurd_vendor_ids_and_parameters_are_the_vendors_errors(client: Client) -> None:
    login = await client.post("/api/4.0/user/login", json=TO_LOGIN)
    assert login.status == 200
    token = (await client.get("/auth/v1/token", headers={"Authorization": "Basic c2RhZG1pbjpQYXNzdzByZA=="})).headers["X-Auth-Token"]
    before = await running_state(client)
    cases = [
        # Traffic Ops: more digits than any int, a negative id, and not a number
        ("/api/4.0/async_status/" + "9" * LONG, {}, 400, "parameter 'id' not an integer"),
        ("/api/4.0/async_status/-1", {}, 404, "Not Found"),
        ("/api/4.0/async_status/1e308", {}, 400, "parameter 'id' not an integer"),
        # Spectrum Discover: an id that is no UUID
        ("/db2whrest/v1/task_status/" + "a" * LONG, {"Authorization": f"Bearer {token}"}, 400, "Invalid task id"),
        # Ops Center: a long request id, a dataset breaking its rule
        ("/dbapi.do?action=getStatus&dataset=defaultDs&requestId=" + "1" * LONG, OPS_CENTER_AUTH, 404, "720600E6"),
        ("/dbapi.do?action=getStatus&dataset=" + "d" * LONG + "&requestId=1", OPS_CENTER_AUTH, 400, "Invalid value"),
        ("/dbapi.do?action=" + "a" * LONG + "&dataset=defaultDs", OPS_CENTER_AUTH, 400, "Invalid value"),
        # DataArts: a task id far too long
        (f"/v1/{DATAARTS_PROJECT}/system-tasks/" + "0" * LONG, DATAARTS_TOKEN, 400, "DLF.0810"),
    ]
    for path, headers, status, message in cases:
        response = await client.get(path, headers=headers)
        assert response.status == status, path[:60]
        assert message in await response.text(), path[:60]
    after = await running_state(client)
    assert (after["tasks"], after["clock"]) == (before["tasks"], before["clock"])


@pytest.mark.parametrize("wait", ["1e308", "-5", "NaN", "Infinity", "", "ten"])
async def test_an_absurd_x_wait_time_is_the_default_wait(client: Client, wait: str) -> None:
    response = await client.post(
        "/dbapi.do?action=query&dataset=defaultDs", json={"query": "vm[~memory]"},
        headers={**OPS_CENTER_AUTH, "x-waitTime": wait},
    )
    assert response.status in (200, 206)
    created = (await (await client.get("/_emulator/tasks?api=ops_center")).json())["tasks"][-1]
    assert created["created_at"] == CLOCK_START - 10  # the ten seconds the vendor waits by default

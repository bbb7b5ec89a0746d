"""Injected faults over real connections on 127.0.0.1: what a client sees of each kind, each
vendor's error shape, what a faulted request does to tasks, the journal, and the control API.

Every async test here runs twice, on asyncio's loop and on uvloop (tests/conftest.py): a
reset, a close or a dribbled body goes through the loop's own transports."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .conftest import MakeClient
from .helpers import Client, runtime_of, write

STATUS_1 = "/api/4.0/async_status/1"



async def inject(client: Client, **body: Any) -> dict[str, Any]:
    response = await client.post("/_emulator/faults", json=body)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def login(client: Client) -> None:
    response = await client.post("/api/4.0/user/login", json={"u": "admin", "p": "twelve12"})
    assert response.status == 200


async def new_task(client: Client) -> str:
    response = await client.post("/_emulator/tasks", json={"api": "traffic_ops", "scenario": "acme-autorenew"})
    return str((await response.json())["id"])


async def journal(client: Client) -> list[dict[str, Any]]:
    return (await (await client.get("/_emulator/requests")).json())["requests"]  # type: ignore[no-any-return]


async def raw_exchange(client: Client, path: str) -> tuple[bytes, BaseException | None]:
    """Every byte the server sends for a GET of `path` until it closes, and how it closed."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {client.host}\r\n\r\n".encode())
    received = b""
    error: BaseException | None = None
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 5):
            received += chunk
    except ConnectionResetError as caught:
        error = caught
    writer.close()
    return received, error


async def test_each_run_is_on_the_loop_its_id_names(request: pytest.FixtureRequest) -> None:
    expected = "uvloop" if "[uvloop" in request.node.name else "asyncio"
    assert type(asyncio.get_running_loop()).__module__.partition(".")[0] == expected


# ---- each kind, as a client sees it ---------------------------------------------------------


async def test_latency_holds_the_answer_back(client: Client) -> None:
    await inject(client, kind="latency", seconds=0.3, path="/api/*")
    started = time.monotonic()
    response = await client.get(STATUS_1)
    assert time.monotonic() - started >= 0.3
    assert response.status == 401  # the vendor's answer, late
    assert response.headers["X-Task-Emulator-Fault"] == "1"


async def test_latency_before_an_answer_aiohttp_raises_is_marked_and_journaled(client: Client) -> None:
    await inject(client, kind="latency", seconds=0.1)
    missing = await client.get("/nowhere")
    assert missing.status == 404 and await missing.text() == "404: Not Found"
    assert missing.headers["X-Task-Emulator-Fault"] == "1"
    wrong_method = await client.post("/auth/v1/token")
    assert wrong_method.status == 405 and wrong_method.headers["Allow"]
    assert wrong_method.headers["X-Task-Emulator-Fault"] == "1"
    entries = await journal(client)
    assert [(e["status"], e["fault"]) for e in entries] == [(404, "latency"), (405, "latency")]
    assert await applied(client) == [2]


async def test_latency_never_blocks_other_requests(client: Client) -> None:
    await inject(client, kind="latency", seconds=0.5, path="/api/4.0/async_status/1")
    finished: list[str] = []

    async def get(path: str, name: str) -> None:
        await (await client.get(path)).read()
        finished.append(name)

    slow = asyncio.ensure_future(get(STATUS_1, "slow"))
    await asyncio.sleep(0.05)  # the slow one is asleep on the server
    started = time.monotonic()
    await asyncio.gather(*(get("/api/4.0/async_status/2", f"fast{i}") for i in range(20)))
    assert time.monotonic() - started < 0.4
    assert "slow" not in finished
    await slow
    assert finished[-1] == "slow"


async def test_an_error_is_the_vendors_own_with_retry_after(client: Client) -> None:
    await inject(client, kind="error", status=503, retry_after=7)
    response = await client.get(STATUS_1)
    assert response.status == 503
    assert response.headers["Retry-After"] == "7"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Task-Emulator-Fault"] == "1"
    assert "Whole-Content-Sha512" in response.headers  # Traffic Ops' own headers come along
    assert await response.read() == b'{"alerts":[{"text":"Service Unavailable","level":"error"}]}\n'


ERROR_SHAPES = [
    ("traffic_ops", "/api/4.0/async_status/1", 500, "application/json",
     {"alerts": [{"text": "Internal Server Error", "level": "error"}]}),
    ("traffic_ops", "/api/4.0/async_status/1", 429, "application/json",
     {"alerts": [{"text": "Too Many Requests", "level": "error"}]}),
    ("spectrum_discover", "/db2whrest/v1/task_status/x", 503, "text/html; charset=utf-8",
     {"reason": "Service Unavailable", "status": "error"}),
    ("ops_center", "/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344", 500,
     "application/json;charset=utf-8", {"code": "720600E2", "error": "Application encountered an internal error."}),
    ("ops_center", "/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344", 429,
     "application/json;charset=utf-8", {"code": "720600E2", "error": "Application encountered an internal error."}),
    ("dataarts", "/v1/p/system-tasks/t", 503, "application/json;charset=UTF-8",
     {"error_code": "DLF.0000", "error_msg": "Service Unavailable"}),
]


@pytest.mark.parametrize(("api", "path", "status", "content_type", "body"), ERROR_SHAPES)
async def test_each_vendor_answers_an_injected_error_in_its_own_shape(
    client: Client, api: str, path: str, status: int, content_type: str, body: dict[str, Any]
) -> None:
    await inject(client, kind="error", status=status, api=api)
    response = await client.get(path)
    assert response.status == status
    assert response.headers["Content-Type"] == content_type
    assert json.loads(await response.read()) == body
    assert ("Retry-After" in response.headers) == (status != 500)
    assert runtime_of(client).journal.entries()[-1].violation is None


async def test_dataarts_throttling_is_the_gateways_answer(client: Client) -> None:
    await inject(client, kind="error", status=429, api="dataarts")
    response = await client.get("/v1/p/system-tasks/t")
    body = await response.json()
    assert response.status == 429 and response.headers["Retry-After"] == "1"
    assert body["error_code"] == "APIGW.0308" and body["request_id"] == response.headers["X-Request-Id"]


async def test_a_reset_is_a_tcp_reset(client: Client) -> None:
    await inject(client, kind="reset", path="/api/*")
    with pytest.raises(aiohttp.ClientOSError):  # ECONNRESET, not a clean close
        await client.get(STATUS_1)
    received, error = await raw_exchange(client, STATUS_1)
    assert received == b"" and isinstance(error, ConnectionResetError)


async def test_an_empty_answer_closes_without_a_byte(client: Client) -> None:
    await inject(client, kind="empty", path="/api/*")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.get(STATUS_1)
    received, error = await raw_exchange(client, STATUS_1)
    assert received == b"" and error is None


@pytest.mark.parametrize("kind", ["reset", "empty"])
async def test_the_access_log_says_no_response_for_a_closed_connection(
    client: Client, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")  # before the first connection
    await inject(client, kind=kind, path="/api/*", times=1)
    assert (await raw_exchange(client, STATUS_1))[0] == b""  # one connection, no retry
    await asyncio.sleep(0.05)  # the server logs after the client saw the close
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access" and STATUS_1 in r.getMessage()]
    assert len(lines) == 1 and '" 444 ' in lines[0], lines


async def test_a_truncated_body_is_cut_under_its_content_length(client: Client) -> None:
    await inject(client, kind="truncate", fraction=0.5, path="/api/*")
    response = await client.get(STATUS_1)
    assert response.status == 401  # the headers went out whole
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    received, _ = await raw_exchange(client, STATUS_1)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[1])
    assert len(body) == length // 2 and length > 0


async def test_a_slow_body_dribbles_out_whole(client: Client) -> None:
    await inject(client, kind="slow_body", chunk_bytes=10, interval=0.05, path="/api/*")
    started = time.monotonic()
    response = await client.get(STATUS_1, skip_auto_headers=["Accept-Encoding"])  # not gzipped
    body = await response.read()
    elapsed = time.monotonic() - started
    assert json.loads(body) == {"alerts": [{"text": "unauthorized, please log in.", "level": "error"}]}
    chunks = -(-len(body) // 10)
    assert elapsed >= (chunks - 1) * 0.05 * 0.9
    assert response.headers["Content-Length"] == str(len(body))


# ---- what a faulted request does ------------------------------------------------------------


async def test_fail_the_next_two_polls_then_recover(client: Client) -> None:
    await login(client)
    task = await new_task(client)
    await inject(client, kind="error", status=503, task=task, times=2)
    statuses = [(await client.get(f"/api/4.0/async_status/{task}")).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    entries = [e for e in await journal(client) if e["task"] == task]
    assert [(e["status"], e["fault"]) for e in entries] == [(503, "error"), (503, "error"), (200, None)]
    listed = (await (await client.get("/_emulator/faults")).json())["faults"]
    assert (listed[0]["applied"], listed[0]["remaining"]) == (2, 0)


async def test_a_request_rule_stands_in_front_a_task_rule_after_the_read(client: Client) -> None:
    await login(client)
    await inject(client, kind="error", status=503, method="POST", path="/api/*/acme_autorenew", times=1)
    before = runtime_of(client).engine.count()
    assert (await client.post("/api/4.0/acme_autorenew")).status == 503
    assert runtime_of(client).engine.count() == before  # the emulator never saw it
    task = await new_task(client)
    await inject(client, kind="reset", task=task, times=1)
    with pytest.raises(aiohttp.ClientOSError):
        await client.get(f"/api/4.0/async_status/{task}")
    assert runtime_of(client).engine.get("traffic_ops", task).reads == 1  # the read counted
    entry = (await journal(client))[-1]
    assert (entry["task"], entry["status"], entry["fault"]) == (task, None, "reset")


async def test_a_step_rule_hits_only_answers_showing_that_step(client: Client) -> None:
    await login(client)
    task = await new_task(client)  # scheduled 5s → running 30s → running 25s → succeeded
    await inject(client, kind="error", status=500, scenario="acme-autorenew", step=1)
    assert (await client.get(f"/api/4.0/async_status/{task}")).status == 200  # scheduled
    await client.post("/_emulator/clock/advance", json={"seconds": 5})
    assert (await client.get(f"/api/4.0/async_status/{task}")).status == 500  # step 1
    await client.post("/_emulator/clock/advance", json={"seconds": 30})
    assert (await client.get(f"/api/4.0/async_status/{task}")).status == 200  # step 2, running too


async def test_scenario_faults_load_apply_and_come_back_on_reset(make_client: MakeClient, tmp_path: Path) -> None:
    write(tmp_path, "flaky.yaml", """
api: traffic_ops
name: flaky
lifecycle:
  - {phase: running, polls: 2}
  - {phase: succeeded}
preload:
  - id: 900
faults:
  - {kind: error, status: 429, step: running, times: 1}
""")
    client = await make_client(scenario_paths=(tmp_path,))
    await login(client)
    listed = (await (await client.get("/_emulator/faults")).json())["faults"]
    assert [(f["id"], f["origin"]) for f in listed] == [("traffic_ops.flaky.1", f"{tmp_path / 'flaky.yaml'}:10")]
    assert [(await client.get("/api/4.0/async_status/900")).status for _ in range(3)] == [429, 200, 200]
    assert (await client.delete("/_emulator/faults")).status == 200
    assert (await (await client.get("/_emulator/faults")).json())["faults"] == []
    await client.post("/_emulator/reset")  # the scenario's fault is back, its count from 0
    await login(client)  # a reset forgets Traffic Ops sessions too
    assert [(await client.get("/api/4.0/async_status/900")).status for _ in range(2)] == [429, 200]


async def test_a_scenario_fault_mistake_names_file_and_line(make_client: MakeClient, tmp_path: Path) -> None:
    from emulator.errors import ScenarioError

    path = write(tmp_path, "bad.yaml", """api: traffic_ops
name: bad
lifecycle:
  - {phase: running}
faults:
  - {kind: error, status: 503, step: failed}
  - {kind: latency}
  - {kind: empty, path: "/api/4.0/async_status?id=1"}
""")
    with pytest.raises(ScenarioError) as caught:
        await make_client(scenario_paths=(path,))
    text = str(caught.value)
    assert f"{path}:6: faults[0].step: the lifecycle has no 'failed' step (it has: running)" in text
    assert f"{path}:7: faults[1]: a latency fault needs 'seconds', or a 'distribution'" in text
    assert f"{path}:8: faults[2].path: matches the path alone" in text


async def test_same_seed_same_faulted_requests(make_client: MakeClient) -> None:
    async def run() -> list[bool]:
        client = await make_client(seed=21)
        await inject(client, kind="error", status=500, probability=0.5)
        return [(await client.get(STATUS_1)).status == 500 for _ in range(30)]

    first = await run()
    assert first == await run() and 5 < sum(first) < 25


async def test_requests_on_no_vendor_route_get_the_emulators_own_error(client: Client) -> None:
    await inject(client, kind="error", status=503)
    response = await client.get("/nowhere")
    assert response.status == 503 and (await response.json()) == {"error": "injected fault"}


# ---- Spectrum Discover's streamed result rows -------------------------------------------------

SD_COMPLETE = "9c0db090-bd33-41c5-969f-a1603ddf49ab"  # preloaded, succeeded, 50 rows
SD_RESULTS = f"/db2whrest/v1/task_status/{SD_COMPLETE}"


async def sd_headers(client: Client) -> dict[str, str]:
    basic = base64.b64encode(b"sdadmin:Passw0rd").decode()
    response = await client.get("/auth/v1/token", headers={"Authorization": f"Basic {basic}"})
    return {"Authorization": f"Bearer {response.headers['X-Auth-Token']}"}


async def applied(client: Client) -> list[int]:
    return [f["applied"] for f in (await (await client.get("/_emulator/faults")).json())["faults"]]


async def test_a_task_rule_replaces_spectrum_discovers_streamed_results_once(client: Client) -> None:
    headers = await sd_headers(client)
    await inject(client, kind="error", status=503, api="spectrum_discover", task=SD_COMPLETE, times=1)
    first = await client.get(SD_RESULTS, headers=headers)
    assert (first.status, first.headers["Retry-After"]) == (503, "1")
    assert json.loads(await first.read()) == {"reason": "Service Unavailable", "status": "error"}
    second = await client.get(SD_RESULTS, headers=headers)
    assert second.status == 200 and len((await second.read()).decode().splitlines()) == 50
    assert await applied(client) == [1]
    entries = [e for e in await journal(client) if e["task"] == SD_COMPLETE]
    assert [(e["status"], e["fault"]) for e in entries] == [(503, "error"), (200, None)]


@pytest.mark.parametrize("kind", ["reset", "empty"])
async def test_a_step_rule_closes_the_connection_instead_of_the_results(client: Client, kind: str) -> None:
    headers = await sd_headers(client)
    await inject(client, kind=kind, api="spectrum_discover", step="succeeded", path="/db2whrest/v1/task_status/*")
    with pytest.raises((aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
        await client.get(SD_RESULTS, headers=headers)
    assert await applied(client) == [1]
    assert (await journal(client))[-1]["status"] is None


async def test_a_truncated_result_stream_ends_without_its_last_chunk(client: Client) -> None:
    headers = await sd_headers(client)
    whole = await (await client.get(SD_RESULTS, headers=headers)).read()
    await inject(client, kind="truncate", fraction=0.5, task=SD_COMPLETE, api="spectrum_discover")
    response = await client.get(SD_RESULTS, headers=headers)
    assert response.status == 200 and response.headers["X-Task-Emulator-Fault"] == "1"
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async for chunk in response.content.iter_any():
            received += chunk
    assert received == whole[: len(whole) // 2]
    assert await applied(client) == [1]


async def test_a_slow_result_stream_arrives_whole_and_late(client: Client) -> None:
    headers = {**(await sd_headers(client)), "Accept": "application/json"}
    whole = await (await client.get(SD_RESULTS, headers=headers)).read()
    chunk_bytes = len(whole) // 4 + 1  # four pieces, three waits
    await inject(client, kind="slow_body", chunk_bytes=chunk_bytes, interval=0.1, task=SD_COMPLETE, times=1)
    started = time.monotonic()
    response = await client.get(SD_RESULTS, headers=headers)
    assert await response.read() == whole
    assert time.monotonic() - started >= 0.3 * 0.9
    assert response.headers["Content-Type"] == "application/json" and "Location" in response.headers
    assert await applied(client) == [1]


async def test_latency_holds_back_the_result_stream(client: Client) -> None:
    headers = await sd_headers(client)
    await inject(client, kind="latency", seconds=0.3, step="succeeded", api="spectrum_discover", times=1)
    started = time.monotonic()
    response = await client.get(SD_RESULTS, headers=headers)
    assert len((await response.read()).splitlines()) == 50
    assert time.monotonic() - started >= 0.3 and response.headers["X-Task-Emulator-Fault"] == "1"


async def test_a_body_rule_waits_for_an_answer_with_a_body_to_break(client: Client) -> None:
    # The token answer has an empty body: nothing to truncate or dribble, so the rule is
    # neither applied nor used up there, and the next answer with a body gets it.
    await inject(client, kind="truncate", api="spectrum_discover", times=1)
    await inject(client, kind="slow_body", api="spectrum_discover", times=1, interval=0)
    headers = await sd_headers(client)
    assert await applied(client) == [0, 0]
    assert (await journal(client))[-1]["fault"] is None
    peek = await client.get(SD_RESULTS + "/peek", headers=headers)
    with pytest.raises(aiohttp.ClientPayloadError):
        await peek.read()
    assert await applied(client) == [1, 0]
    head = await client.head(SD_RESULTS + "/peek", headers=headers)  # no body either
    assert head.status == 200 and "X-Task-Emulator-Fault" not in head.headers
    assert await applied(client) == [1, 0]


# ---- the control API ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "explode"}, "kind: 'explode' is not one of"),
        ({"kind": "error", "status": 404}, "status: 404 is not one of [500, 503, 429]"),
        ({"kind": "error"}, "an error fault needs 'status'"),
        ({"kind": "reset", "colour": "red"}, "colour: unknown key"),
        ({"kind": "reset", "probability": 0}, "probability: 0 is less than or equal to the minimum of 0"),
        ({"kind": "reset", "scenario": "nope"}, "scenario: no scenario named 'nope'"),
        ({"kind": "reset", "api": "traffic_ops", "scenario": "acme-autorenew", "step": 9}, "step: the lifecycle has steps 0 to 3, not 9"),
        ({"kind": "latency", "seconds": 601}, "seconds: 601 is greater than the maximum of 600"),
        ({"kind": "reset", "path": "/dbapi.do?action=query"}, "path: matches the path alone"),
        ({"kind": "reset", "task": ""}, "task: '' should be non-empty"),
    ],
)
async def test_a_refused_fault_says_why_and_changes_nothing(client: Client, body: Any, message: str) -> None:
    response = await client.post("/_emulator/faults", json=body)
    assert response.status == 400
    assert message in (await response.json())["error"]
    assert not runtime_of(client).faults
    assert (await inject(client, kind="reset"))["id"] == "1"


async def test_list_remove_and_clear(client: Client) -> None:
    first = await inject(client, kind="latency", distribution="uniform", min=0.1, max=0.2, api="ops_center")
    second = await inject(client, kind="empty", times=3)
    assert first == {
        "id": "1", "kind": "latency", "distribution": "uniform", "min": 0.1, "max": 0.2, "api": "ops_center",
        "origin": "run-time", "applied": 0, "remaining": None,
    }
    assert (await client.delete("/_emulator/faults/1")).status == 200
    listed = (await (await client.get("/_emulator/faults")).json())["faults"]
    assert [f["id"] for f in listed] == [second["id"]]
    response = await client.delete("/_emulator/faults/1")
    assert response.status == 404 and "no fault with id '1' (there are: 2)" in (await response.json())["error"]
    assert (await (await client.delete("/_emulator/faults")).json()) == {"faults": []}
    assert not runtime_of(client).faults


def test_the_pytest_handle_injects_lists_removes_and_clears(task_emulator: Any) -> None:
    import requests

    fault = task_emulator.inject("error", status=500, api="ops_center", times=3)
    url = task_emulator.url + "/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344"
    assert requests.get(url, timeout=10).status_code == 500
    assert fault.applied == 1 and fault.kind == "error"
    assert [(f["id"], f["remaining"]) for f in task_emulator.faults()] == [(fault.id, 2)]
    fault.remove()
    assert requests.get(url, timeout=10).status_code == 401
    assert fault.applied == 1  # what it did is still told after it was removed
    task_emulator.inject("empty")
    task_emulator.clear_faults()
    assert task_emulator.faults() == []
    with pytest.raises(ValueError, match="status: 404 is not one of"):
        task_emulator.inject("error", status=404)  # type: ignore[arg-type]


def test_a_handle_kept_over_a_reset_never_touches_a_newer_fault(task_emulator: Any) -> None:
    import requests

    old = task_emulator.inject("error", status=500, api="ops_center", times=1)
    task_emulator.reset()
    new = task_emulator.inject("error", status=503, api="ops_center")
    assert new.id != old.id
    old.remove()
    assert [f["id"] for f in task_emulator.faults()] == [new.id]
    assert old.applied == 0
    url = task_emulator.url + "/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344"
    assert requests.get(url, timeout=10).status_code == 503
    assert new.applied == 1 and old.applied == 0


async def test_a_fault_id_kept_over_a_reset_is_gone_not_reused(client: Client) -> None:
    first = await inject(client, kind="empty")
    await client.post("/_emulator/reset")
    second = await inject(client, kind="reset")
    assert second["id"] != first["id"]
    response = await client.delete(f"/_emulator/faults/{first['id']}")
    assert response.status == 404
    assert [f["id"] for f in (await (await client.get("/_emulator/faults")).json())["faults"]] == [second["id"]]

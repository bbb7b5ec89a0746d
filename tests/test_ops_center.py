"""Ops Center Analyzer detail view (`/dbapi.do`): every action, every error code and body,
the doc's example, x-waitTime, datasets, abort, and the scenario parts of this API."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from emulator.apis import API_CLASSES
from emulator.apis.ops_center.progress import seconds_to_end, step_counters, wait_seconds
from emulator.lifecycle import Lifecycle, Phase, Position, Step
from emulator.scenario_loader import check_files
from emulator.state import load_schemas

from .conftest import MakeClient
from .helpers import CLOCK_START, NOT_UTF8, Client, raw_status, runtime_of, tasks_of, write

FRED = {"Authorization": "Basic ZnJlZDpmcmVk"}  # the doc's example header: fred:fred
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}
CONTENT_TYPE = "application/json;charset=utf-8"

# The response example of the vendor's "Getting the request status" page, as printed.
DOC_EXAMPLE = json.loads(
    '{ "status":{ "total":10, "matched":1, "processed":10, "completed":true, "aborted":false, '
    '"hasErrors":"false" }, "result":[ { "signature":"vm#cumulus1-lab-vm2", '
    '"name":"cumulus-lab-vm2", "memory":{ "type":"scalar", "name":"Memory", "unit":"", '
    '"data":"204800" }, "cpu Usage":[ { "type":"timeseries", "name":"cpu usage", "unit":"", '
    '"interval":60, "start":"20140713_230100", "data":[ 24.00, 33.00, 68.00, null, 4.00 ] } ] } ] }'
)

AUTH_NEEDED = {"code": "720000E9", "error": "Authorization needed."}
LICENSE = {"code": "720000E9", "error": "License is not valid."}
NOT_IN_CACHE = {"code": "720600E6", "error": "Response is not present in the cache for the given requestId."}
INTERNAL = {"code": "720600E2", "error": "Application encountered an internal error."}


def status_url(request_id: str, dataset: str = "defaultDs") -> str:
    return f"/dbapi.do?action=getStatus&dataset={dataset}&requestId={request_id}"


async def answer(response: Any) -> tuple[int, Any]:
    assert response.headers["Content-Type"] == CONTENT_TYPE
    assert "X-Task-Emulator-Violation" not in response.headers
    return response.status, json.loads(await response.read())


async def start_query(
    client: Client, wait: str | None = "0", dataset: str = "defaultDs", body: Any = None, sync: str | None = None
) -> tuple[int, Any]:
    headers = dict(FRED)
    if wait is not None:
        headers["x-waitTime"] = wait
    url = f"/dbapi.do?action=query&dataset={dataset}"
    if sync is not None:
        url += f"&processSync={sync}"
    payload = {"query": "vm[~memory]"} if body is None else body
    return await answer(await client.post(url, json=payload, headers=headers))


async def advance(client: Client, seconds: float) -> None:
    response = await client.post("/_emulator/clock/advance", json={"seconds": seconds})
    assert response.status == 200


# ---- the doc example ----------------------------------------------------------------------


async def test_the_doc_request_example_gets_the_doc_response_example(client: Client) -> None:
    response = await client.get("/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344", headers=FRED)
    status, body = await answer(response)
    assert status == 200
    assert body == DOC_EXAMPLE
    assert list(body["status"]) == ["total", "matched", "processed", "completed", "aborted", "hasErrors"]
    # Reading it again changes nothing.
    assert await answer(await client.get(status_url("12344"), headers=FRED)) == (200, DOC_EXAMPLE)


# ---- auth and license ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"fred:wrong").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"nobody:fred").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"fredfred").decode()},
        {"Authorization": "Basic not base64!"},
        {"Authorization": "Bearer ZnJlZDpmcmVk"},
    ],
    ids=["missing", "wrong-password", "unknown-user", "no-colon", "not-base64", "not-basic"],
)
async def test_missing_or_wrong_credentials_answer_401_authorization_needed(
    client: Client, headers: dict[str, str]
) -> None:
    for url in (status_url("12344"), "/dbapi.do?action=abortRequest&dataset=defaultDs&requestId=12344"):
        assert await answer(await client.get(url, headers=headers)) == (401, AUTH_NEEDED)
    response = await client.post("/dbapi.do?action=query&dataset=defaultDs", json={"query": "vm"}, headers=headers)
    assert await answer(response) == (401, AUTH_NEEDED)
    assert len(await tasks_of(client, "ops_center")) == 1  # nothing was made


async def test_the_built_in_admin_user_and_configured_users(make_client: MakeClient) -> None:
    client = await make_client()
    assert (await client.get(status_url("12344"), headers=ADMIN)).status == 200
    other = await make_client(api_settings={"ops_center": {"users": [{"username": "ops", "password": "s3cret"}]}})
    ops = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode()}
    assert (await other.get(status_url("12344"), headers=ops)).status == 200
    # Configured users replace the built-in ones.
    assert await answer(await other.get(status_url("12344"), headers=FRED)) == (401, AUTH_NEEDED)


async def test_an_invalid_license_in_the_settings_answers_every_call(make_client: MakeClient) -> None:
    client = await make_client(api_settings={"ops_center": {"license": "invalid"}})
    for headers in (FRED, {}):
        assert await answer(await client.get(status_url("12344"), headers=headers)) == (401, LICENSE)
        assert await answer(await client.get("/dbapi.do", headers=headers)) == (401, LICENSE)
        response = await client.post("/dbapi.do?action=query&dataset=defaultDs", json={"query": "vm"}, headers=headers)
        assert await answer(response) == (401, LICENSE)
    assert "license INVALID" in runtime_of(client).apis["ops_center"].describe()


async def test_a_scenario_option_makes_the_license_invalid(make_client: MakeClient, tmp_path: Path) -> None:
    write(tmp_path, "expired.yaml", EXPIRED_LICENSE)
    client = await make_client(scenario_paths=(tmp_path,))
    assert await answer(await client.get(status_url("12344"), headers=FRED)) == (401, LICENSE)
    abort = "/dbapi.do?action=abortRequest&dataset=defaultDs&requestId=12344"
    assert await answer(await client.get(abort, headers=FRED)) == (401, LICENSE)


EXPIRED_LICENSE = """\
api: ops_center
name: license-expired
description: The server's license has expired.
options:
  license: invalid
lifecycle:
  - phase: succeeded
"""


# ---- action and dataset -------------------------------------------------------------------


async def test_action_is_mandatory_and_must_be_known(client: Client) -> None:
    assert await answer(await client.get("/dbapi.do?dataset=defaultDs", headers=FRED)) == (
        400, {"code": "72020008", "error": "Mandatory parameter {action} not specified."}
    )
    assert await answer(await client.get("/dbapi.do?action=getstatus&dataset=defaultDs", headers=FRED)) == (
        400, {"code": "72020009", "error": "Invalid value 'getstatus' for parameter {action}."}
    )


@pytest.mark.parametrize("dataset", ["d", "x" * 33, "default Ds", "ds.1", "dé"])
async def test_a_dataset_name_breaking_the_rule_answers_400(client: Client, dataset: str) -> None:
    response = await client.get("/dbapi.do", params={"action": "getStatus", "dataset": dataset, "requestId": "12344"}, headers=FRED)
    assert await answer(response) == (
        400, {"code": "72020009", "error": f"Invalid value '{dataset}' for parameter {{dataset}}."}
    )


async def test_dataset_missing_unknown_and_configured(make_client: MakeClient) -> None:
    client = await make_client()
    assert await answer(await client.get("/dbapi.do?action=getStatus&requestId=12344", headers=FRED)) == (
        400, {"code": "72020008", "error": "Mandatory parameter {dataset} not specified."}
    )
    # Names of 2 and 32 characters are valid names, but this server has only defaultDs.
    for dataset in ("ab", "A_b-" + "9" * 28):
        status, body = await answer(await client.get(status_url("12344", dataset), headers=FRED))
        assert (status, body) == (404, {"code": "720600E8", "error": f"Dataset '{dataset}' does not exist."})
    status, body = await start_query(client, dataset="otherDs")
    assert status == 404 and body["code"] == "720600E8"
    configured = await make_client(api_settings={"ops_center": {"datasets": ["defaultDs", "otherDs"]}})
    status, body = await start_query(configured, dataset="otherDs")
    assert status == 206


async def test_requests_are_scoped_to_their_dataset(make_client: MakeClient) -> None:
    client = await make_client(api_settings={"ops_center": {"datasets": ["defaultDs", "otherDs"]}})
    _, accepted = await start_query(client, dataset="otherDs")
    request_id = accepted["requestId"]
    assert (await client.get(status_url(request_id, "otherDs"), headers=FRED)).status == 206
    assert await answer(await client.get(status_url(request_id, "defaultDs"), headers=FRED)) == (404, NOT_IN_CACHE)
    assert await answer(await client.get(status_url("12344", "otherDs"), headers=FRED)) == (404, NOT_IN_CACHE)
    abort = f"/dbapi.do?action=abortRequest&dataset=defaultDs&requestId={request_id}"
    status, body = await answer(await client.get(abort, headers=FRED))
    assert status == 404 and body["code"] == "B5040016"
    task = await runtime_of(client).store.get("ops_center", request_id)
    assert dict(task.scope) == {"dataset": "otherDs"}
    assert runtime_of(client).apis["ops_center"].status_path(task).endswith(
        f"?action=getStatus&dataset=otherDs&requestId={request_id}"
    )


# ---- getStatus errors ---------------------------------------------------------------------


async def test_get_status_without_or_with_an_unknown_request_id(client: Client) -> None:
    assert await answer(await client.get("/dbapi.do?action=getStatus&dataset=defaultDs", headers=FRED)) == (
        400, {"code": "72020008", "error": "Mandatory parameter {requestId} not specified."}
    )
    assert await answer(await client.get(status_url(""), headers=FRED)) == (
        400, {"code": "72020008", "error": "Mandatory parameter {requestId} not specified."}
    )
    assert await answer(await client.get(status_url("999_1"), headers=FRED)) == (404, NOT_IN_CACHE)


# ---- the query ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", (400, {"code": "72020009", "error": "Request body is not valid JSON."})),
        (b"[1, 2]", (400, {"code": "72020009", "error": "Request body is not a JSON object."})),
        (b"", (400, {"code": "72020008", "error": "Mandatory parameter {query} not specified."})),
        (b'{"startTime": "20140713_230100"}', (400, {"code": "72020008", "error": "Mandatory parameter {query} not specified."})),
        (b'{"query": "  "}', (400, {"code": "72020008", "error": "Mandatory parameter {query} not specified."})),
        (b'{"query": 5}', (400, {"code": "72020008", "error": "Mandatory parameter {query} not specified."})),
        (
            b'{"query": "vm", "startTime": "2014-07-13"}',
            (400, {"code": "72020009", "error": "Invalid value '2014-07-13' for parameter {startTime}."}),
        ),
        (
            b'{"query": "vm", "startTime": "20140714_000000", "endTime": "20140713_230100"}',
            (400, {"code": "72020009", "error": "Invalid value '20140713_230100' for parameter {endTime}."}),
        ),
        (b'{"query": "vm", "maxResults": 0}', (400, {"code": "72020009", "error": "Invalid value '0' for parameter {maxResults}."})),
    ],
    ids=["malformed", "not-object", "empty", "no-query", "blank-query", "query-not-text", "bad-time", "end-before-start", "bad-max"],
)
async def test_a_bad_query_request_answers_400_and_makes_nothing(
    client: Client, raw: bytes, expected: tuple[int, Any]
) -> None:
    response = await client.post(
        "/dbapi.do?action=query&dataset=defaultDs", data=raw, headers={**FRED, "Content-Type": "application/json"}
    )
    assert await answer(response) == expected
    assert [t.id for t in await tasks_of(client, "ops_center")] == ["12344"]


async def test_a_query_is_a_post(client: Client) -> None:
    response = await client.get("/dbapi.do?action=query&dataset=defaultDs", headers=FRED)
    assert await answer(response) == (400, {"code": "72020008", "error": "Mandatory parameter {query} not specified."})


async def test_x_wait_time_zero_answers_at_once_with_a_request_id(client: Client) -> None:
    status, body = await start_query(client, wait="0")
    assert status == 206
    assert list(body) == ["requestId", "status", "result"]
    assert body["status"] == {
        "total": 20, "matched": 0, "processed": 0, "completed": False, "aborted": False, "hasErrors": "false"
    }
    assert body["result"] == []
    task = await runtime_of(client).store.get("ops_center", body["requestId"])
    assert task.created_at == CLOCK_START  # nothing was waited
    assert dict(task.overrides)["query"] == "vm[~memory]"


async def test_the_default_wait_is_ten_seconds_and_later_reads_agree(client: Client) -> None:
    status, body = await start_query(client, wait=None)
    assert status == 206
    # vm-metrics: scheduled 2 s, then running (25 %): where the query is 10 s in.
    assert body["status"]["processed"] == 5 and body["status"]["matched"] == 2
    assert len(body["result"]) == 2
    task = await runtime_of(client).store.get("ops_center", body["requestId"])
    assert task.created_at == CLOCK_START - 10
    again = await answer(await client.get(status_url(body["requestId"]), headers=FRED))
    assert again == (206, {"status": body["status"], "result": body["result"]})
    # A negative or unreadable wait means the default too.
    for wait in ("-5", "soon"):
        _, other = await start_query(client, wait=wait)
        assert other["status"]["processed"] == 5


async def test_a_query_finishing_within_x_wait_time_answers_the_final_result(client: Client) -> None:
    status, body = await start_query(client, wait="62")  # vm-metrics takes 62 s
    assert status == 200
    assert "requestId" not in body
    assert body["status"] == {
        "total": 20, "matched": 8, "processed": 20, "completed": True, "aborted": False, "hasErrors": "false"
    }
    assert len(body["result"]) == 8
    # The clock did not move; the query is booked as started 62 s ago and is finished.
    runtime = runtime_of(client)
    assert await runtime.store.now() == CLOCK_START
    (task,) = [t for t in await tasks_of(client, "ops_center") if t.id != "12344"]
    assert task.created_at == CLOCK_START - 62
    assert (await client.get(f"/_emulator/tasks/ops_center/{task.id}")).status == 200
    view = await (await client.get(f"/_emulator/tasks/ops_center/{task.id}")).json()
    assert view["phase"] == "succeeded"
    # One second short of the end is not enough.
    status, body = await start_query(client, wait="61")
    assert status == 206 and body["status"]["processed"] == 16


async def test_a_wait_cannot_get_past_a_step_that_ends_by_polls(make_client: MakeClient, tmp_path: Path) -> None:
    write(tmp_path, "polls.yaml", POLLS_ONLY)
    client = await make_client(scenario_paths=(tmp_path,))
    status, body = await start_query(client, wait="3600")
    assert status == 206 and body["status"]["processed"] == 10
    url = status_url(body["requestId"])
    # The query's own answer is no status read; the step is seen by two getStatus reads.
    assert [(await client.get(url, headers=FRED)).status for _ in range(2)] == [206, 206]
    status, done = await answer(await client.get(url, headers=FRED))
    assert status == 200 and done["status"]["completed"] is True


POLLS_ONLY = """\
api: ops_center
name: two-polls
trigger:
  method: POST
  path: /dbapi.do
lifecycle:
  - phase: running
    polls: 2
    processed: 50%
  - phase: succeeded
results:
  total: 20
  matched: 4
"""


async def test_a_failing_step_answers_500_720600E2(client: Client) -> None:
    created = await client.post("/_emulator/tasks", json={"api": "ops_center", "scenario": "query-fails"})
    request_id = (await created.json())["id"]
    status, body = await answer(await client.get(status_url(request_id), headers=FRED))
    assert status == 206 and body["status"]["processed"] == 6
    await advance(client, 30)
    for _ in range(2):  # the error stays
        assert await answer(await client.get(status_url(request_id), headers=FRED)) == (500, INTERNAL)


async def test_a_query_failing_within_the_wait_answers_the_error(make_client: MakeClient, tmp_path: Path) -> None:
    write(tmp_path, "fails.yaml", FAILS_FAST)
    client = await make_client(scenario_paths=(tmp_path,))
    status, body = await start_query(client, wait="10", body={"query": "vm[~memory] broken"})
    assert (status, body) == (503, {"code": "720600E2", "error": "Back end unavailable."})
    # Other queries still go to the built-in scenario.
    assert (await start_query(client, wait="0"))[0] == 206


FAILS_FAST = """\
api: ops_center
name: fails-fast
trigger:
  method: POST
  path: /dbapi.do
  when:
    body.query: "*broken*"
lifecycle:
  - phase: running
    for: 5s
  - phase: failed
    error: {status: 503, message: Back end unavailable.}
"""


async def test_process_sync_holds_back_partial_results_and_max_results_caps_them(client: Client) -> None:
    _, body = await start_query(client, wait="30", sync="true")
    assert body["status"]["matched"] > 0 and body["result"] == []
    await advance(client, 40)
    status, done = await answer(await client.get(status_url(body["requestId"]), headers=FRED))
    assert status == 200 and len(done["result"]) == 8
    _, capped = await start_query(client, wait="62", body={"query": "vm", "maxResults": 3})
    assert capped["status"]["matched"] == 8 and len(capped["result"]) == 3


async def test_results_come_from_the_task_seed_with_the_doc_shapes(client: Client) -> None:
    _, body = await start_query(client, wait="62")
    rows = body["result"]
    assert len({row["name"] for row in rows}) == 8
    for row in rows:
        assert row["signature"].startswith("vm#")
        assert row["memory"]["type"] == "scalar" and row["memory"]["data"].isdigit()
        (series,) = row["cpu Usage"]
        assert series["type"] == "timeseries" and series["interval"] == 60
        # The 12 minutes before the query began (62 s before now), on the emulator clock (UTC).
        assert series["start"] == "20260102_025100"
        assert len(series["data"]) == 12
    values = [v for row in rows for v in row["cpu Usage"][0]["data"]]
    assert None in values and all(v is None or 0 <= v <= 100 for v in values)
    # Same seed, same server start: the same bodies.
    runtime = runtime_of(client)
    await runtime.reset()
    assert (await start_query(client, wait="62"))[1] == body


async def test_a_query_window_sets_the_series_start_and_length(client: Client) -> None:
    payload = {"query": "vm", "startTime": "20140713_230100", "endTime": "20140714_000000"}
    _, body = await start_query(client, wait="62", body=payload)
    series = body["result"][0]["cpu Usage"][0]
    assert series["start"] == "20140713_230100" and len(series["data"]) == 59


# ---- abort --------------------------------------------------------------------------------


async def test_abort_a_running_query_then_again(client: Client) -> None:
    _, body = await start_query(client, wait="30")
    request_id = body["requestId"]
    abort = f"/dbapi.do?action=abortRequest&dataset=defaultDs&requestId={request_id}"
    assert await answer(await client.get(abort, headers=FRED)) == (200, {"aborted": True, "id": request_id})
    await advance(client, 600)  # an aborted query moves no more
    status, after = await answer(await client.get(status_url(request_id), headers=FRED))
    assert status == 200
    assert after["status"] == {**body["status"], "aborted": True, "completed": False}
    assert after["result"] == body["result"]
    assert await answer(await client.get(abort, headers=FRED)) == (
        400, {"code": "B5040018", "error": f"Request for given requestId '{request_id}' is already aborted"}
    )


async def test_abort_a_finished_query_and_abort_errors(client: Client) -> None:
    base = "/dbapi.do?action=abortRequest&dataset=defaultDs"
    assert await answer(await client.get(base + "&requestId=12344", headers=FRED)) == (200, {"aborted": False, "id": "12344"})
    assert await answer(await client.get(status_url("12344"), headers=FRED)) == (200, DOC_EXAMPLE)
    assert await answer(await client.get(base, headers=FRED)) == (
        400, {"code": "B5020008", "error": "Mandatory parameter {requestId} is not specified."}
    )
    assert await answer(await client.get(base + "&requestId=316829382_14", headers=FRED)) == (
        404, {"code": "B5040016", "error": "Response is not present in cache for the given requestId '316829382_14'"}
    )


# ---- journal and control ------------------------------------------------------------------


async def test_requests_are_journalled_with_their_task(client: Client) -> None:
    _, body = await start_query(client)
    await client.get(status_url(body["requestId"]), headers=FRED)
    response = await client.get(f"/_emulator/requests?api=ops_center&task={body['requestId']}")
    entries = (await response.json())["requests"]
    assert [e["status"] for e in entries] == [206, 206]


# ---- scenarios ----------------------------------------------------------------------------

SCHEMAS = load_schemas()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  - phase: running\n    for: 5s\n    procesed: 10%\n", "s.yaml:6: lifecycle[0].procesed: unknown key"),
        ("  - phase: running\n    for: 5s\n    processed: lots\n", "s.yaml:6: lifecycle[0].processed:"),
        ("  - phase: running\n    for: 5s\n    error: {code: '720600E2'}\n", "s.yaml:4: lifecycle[0].phase: 'failed' was expected"),
    ],
)
def test_scenario_mistakes_are_reported_with_their_line(tmp_path: Path, text: str, expected: str) -> None:
    body = "api: ops_center\nname: s\nlifecycle:\n" + text + "  - phase: succeeded\n"
    path = write(tmp_path, "s.yaml", body)
    problems = [str(p).replace(str(path), "s.yaml") for p in check_files([path], API_CLASSES, SCHEMAS)]
    assert any(p.startswith(expected) for p in problems), problems


def test_results_and_options_are_checked(tmp_path: Path) -> None:
    body = (
        "api: ops_center\nname: s\nlifecycle:\n  - phase: succeeded\n"
        "results:\n  totl: 3\noptions:\n  licence: invalid\n"
    )
    path = write(tmp_path, "s.yaml", body)
    problems = [str(p).replace(str(path), "s.yaml") for p in check_files([path], API_CLASSES, SCHEMAS)]
    assert any(p.startswith("s.yaml:6: results.totl: unknown key") for p in problems), problems
    assert any(p.startswith("s.yaml:8: options.licence: unknown key") for p in problems), problems


# ---- the pure parts -----------------------------------------------------------------------


def test_counters_never_fall_and_keep_their_order() -> None:
    lifecycle = Lifecycle((
        Step(Phase.SCHEDULED, 1), Step(Phase.RUNNING, 1, fields={"processed": "80%"}),
        Step(Phase.RUNNING, 1, fields={"processed": "40%", "matched": 9}), Step(Phase.SUCCEEDED),
    ))
    seen = [step_counters(lifecycle, i, 10, 5) for i in range(4)]
    assert [(c.processed, c.matched, c.completed) for c in seen] == [
        (0, 0, False), (8, 4, False), (8, 5, False), (10, 5, True)
    ]
    for c in seen:
        assert 0 <= c.matched <= c.processed <= c.total == 10


def test_seconds_to_end_counts_time_steps_only() -> None:
    timed = Lifecycle((Step(Phase.SCHEDULED, 2), Step(Phase.RUNNING, 20), Step(Phase.SUCCEEDED)))
    assert seconds_to_end(timed, Position(0, 100.0, 0), 105.0) == 17.0
    assert seconds_to_end(timed, Position(2, 122.0, 0), 500.0) == 0.0
    polled = Lifecycle((Step(Phase.RUNNING, polls=2), Step(Phase.SUCCEEDED)))
    assert seconds_to_end(polled, Position(0, 0.0, 0), 0.0) is None


@pytest.mark.parametrize(("raw", "seconds"), [(None, 10.0), ("0", 0.0), ("15", 15.0), ("-1", 10.0), ("x", 10.0), ("9" * 30, 86400.0)])
def test_wait_seconds(raw: str | None, seconds: float) -> None:
    assert wait_seconds(raw) == seconds


# ---- the docs page's examples -------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "apis" / "ops_center.md"


def _block(marker: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("```", text.index(marker))
    return text[text.index("\n", start) + 1 : text.index("```", start + 3)]


async def test_the_docs_scenario_example_runs(make_client: MakeClient, tmp_path: Path) -> None:
    write(tmp_path, "storage.yaml", _block("<!-- ops-center-example -->"))
    client = await make_client(scenario_paths=(tmp_path,))
    _, body = await start_query(client, body={"query": "storage[~port]"})
    assert body["status"]["total"] == 50
    url = status_url(body["requestId"])
    await advance(client, 10)
    status, body = await answer(await client.get(url, headers=FRED))
    assert status == 206 and (body["status"]["processed"], body["status"]["matched"]) == (20, 2)
    await advance(client, 30)
    status, body = await answer(await client.get(url, headers=FRED))
    assert status == 200 and len(body["result"]) == 6
    row = body["result"][0]
    assert row["capacity"]["data"] in ("512", "1024", "2048") and row["capacity"]["unit"] == "GB"
    (series,) = row["port IOPS"]
    assert series["interval"] == 300 and series["unit"] == "IO/s"
    # Other queries still go to the built-in scenario.
    assert (await start_query(client, body={"query": "vm[~memory]"}))[1]["status"]["total"] == 20


def test_the_docs_config_example_is_valid() -> None:
    import yaml

    from emulator.state import api_settings

    settings = yaml.safe_load(_block("Replace them with `--config`"))
    merged = api_settings(API_CLASSES["ops_center"], settings["ops_center"], SCHEMAS)
    assert merged["datasets"] == ["defaultDs", "lab-2"] and merged["license"] == "valid"


async def test_basic_credentials_that_are_not_ascii_are_refused_not_a_crash(client: Client) -> None:
    # Found by an odd-input probe: base64 of a non-ASCII str raised ValueError (a 500).
    path = "/dbapi.do?action=getStatus&dataset=defaultDs&requestId=1"
    assert await raw_status(client, "GET", path, {"Authorization": b"Basic " + NOT_UTF8}) == 401


async def test_the_control_api_refuses_a_task_in_a_dataset_the_server_does_not_have(client: Client) -> None:
    before = (await (await client.get("/_emulator/tasks?api=ops_center")).json())["tasks"]
    response = await client.post(
        "/_emulator/tasks", json={"api": "ops_center", "scenario": "vm-metrics", "scope": {"dataset": "nowhere"}}
    )
    assert response.status == 400
    assert (await response.json())["error"] == (
        "scope.dataset: this server has no dataset 'nowhere' (it has: defaultDs)"
    )
    assert (await (await client.get("/_emulator/tasks?api=ops_center")).json())["tasks"] == before


async def test_expiring_credentials_changes_nothing_and_head_is_refused(client: Client) -> None:
    response = await client.post("/_emulator/credentials/expire", json={"api": "ops_center"})
    assert response.status == 200 and (await response.json()) == {"expired": ["ops_center"]}
    assert await answer(await client.get(status_url("12344"), headers=FRED)) == (200, DOC_EXAMPLE)
    head = await client.head(status_url("12344"), headers=FRED)
    assert head.status == 405 and head.headers["Allow"] == "GET,POST"

"""DataArts Factory system tasks over plain HTTP: the doc's examples byte for byte, the
import trigger, subtasks, project and workspace isolation, and the API gateway's answers to
AK/SK signatures and IAM tokens.

Credentials are judged by the wall clock: every app here gets a wall clock of its own that a
test moves (`wall(client)`), independent of the emulator clock (`advance`).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from emulator.apis import API_CLASSES
from emulator.apis.dataarts import DataArts, render, signing
from emulator.apis.dataarts.gateway import Gateway
from emulator.keyring import Keyrings
from emulator.scenario_loader import check_files
from emulator.state import load_schemas

from .conftest import MakeClient
from .helpers import CLOCK_START, NOT_UTF8, Client, raw_status, runtime_of, write

PROJECT = "b384b9e9ab9b4ee8994c8633aabc9505"
OTHER_PROJECT = "0f5c1e2d3b4a49d8a6e7f8091a2b3c4d"
AK = "EMULATORAK0000000001"
SK = "EMULATORSK00000000000000000000000000000001"
TOKEN = {"X-Auth-Token": "emulator-iam-token"}
DLF_JSON = "application/json;charset=UTF-8"

# Settings with a second project, a key and a token for it, over the built-in ones.
TWO_PROJECTS: dict[str, Any] = {
    "dataarts": {
        "access_keys": [
            {"ak": AK, "sk": SK, "projects": [PROJECT]},
            {"ak": "OTHERAK", "sk": "OTHERSK", "projects": [OTHER_PROJECT]},
        ],
        "tokens": [
            {"token": "emulator-iam-token", "project_id": PROJECT},
            {"token": "other-token", "project_id": OTHER_PROJECT},
        ],
    }
}

DOC_EXAMPLES = {
    "008aae2e675d3bcb01675d3c66f20000": {
        "endTime": 1543457514000,
        "id": "008aae2e675d3bcb01675d3c66f20000",
        "lastUpdate": 1543457514000,
        "name": "Import the solution from OBS path obs://aaaaa/traffic.zip.",
        "projectId": PROJECT,
        "startTime": 1543457499000,
        "status": "SUCCESSFUL",
        "subtasks": [
            {
                "id": "008aae2e675d3bcb01675d3c9f5f0002",
                "lastUpdate": 1543457513000,
                "name": "Import the job_batch job.",
                "status": "SUCCESSFUL",
                "taskId": "008aae2e675d3bcb01675d3c66f20000",
            },
            {
                "id": "008aae2e675d3bcb01675d3c9fdc0003",
                "lastUpdate": 1543457513000,
                "name": "Import the job_stream job.",
                "status": "SUCCESSFUL",
                "taskId": "008aae2e675d3bcb01675d3c66f20000",
            },
        ],
    },
    "008aae2e675d3bcb01675d3e6b960004": {
        "endTime": 1543457631000,
        "id": "008aae2e675d3bcb01675d3e6b960004",
        "lastUpdate": 1543457631000,
        "message": "Failed to read the OBS file obs://aaaaa/traffic2.zip. ",
        "name": "Import the solution from OBS path obs://aaaaa/traffic2.zip.",
        "projectId": PROJECT,
        "startTime": 1543457631000,
        "status": "FAILED",
        "subtasks": [],
    },
    "008aae2e675d3bcb01675d40ab3f0005": {
        "endTime": 1543457794000,
        "id": "008aae2e675d3bcb01675d40ab3f0005",
        "lastUpdate": 1543457794000,
        "name": "Start the traffic solution",
        "projectId": PROJECT,
        "startTime": 1543457778000,
        "status": "FAILED",
        "subtasks": [
            {
                "id": "008aae2e675d3bcb01675d40e8560006",
                "lastUpdate": 1543457794000,
                "name": "Start the job_batch job",
                "status": "FAILED",
                "taskId": "008aae2e675d3bcb01675d40ab3f0005",
            }
        ],
    },
    "008aae2e67abe2ff0167abe3a28f0000": {
        "endTime": 1544777083000,
        "id": "008aae2e67abe2ff0167abe3a28f0000",
        "lastUpdate": 1544777083000,
        "name": "Import the job from obs://aaaaa/job_batch.zip.",
        "projectId": PROJECT,
        "startTime": 1544777081000,
        "status": "SUCCESSFUL",
        "subtasks": [
            {
                "id": "008aae2e67abe2ff0167abe3a7e70002",
                "lastUpdate": 1544777083000,
                "name": "Import the job_batch job.",
                "status": "SUCCESSFUL",
                "taskId": "008aae2e67abe2ff0167abe3a28f0000",
            }
        ],
    },
}


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def ms(seconds: float) -> int:
    return round(seconds * 1000)


async def advance(client: Client, seconds: float) -> None:
    await runtime_of(client).store.advance_clock(seconds)


class WallClock:
    """A wall clock a test sets: what the gateway and IAM judge credentials by."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def wall(client: Client) -> WallClock:
    clock = runtime_of(client).wall_clock
    assert isinstance(clock, WallClock)
    return clock


@pytest.fixture
def make_client(make_client: MakeClient) -> MakeClient:
    """The shared factory, with a wall clock that starts where the emulator clock does."""

    async def make(**overrides: Any) -> Client:
        client = await make_client(**overrides)
        runtime_of(client).wall_clock = WallClock(CLOCK_START)
        return client

    return make


async def now(client: Client) -> float:
    return await runtime_of(client).store.now()


async def import_job(
    client: Client, path: str = "obs://bucket/jobs.zip", *, project: str = PROJECT,
    headers: dict[str, str] | None = None, **extra: Any,
) -> str:
    response = await client.post(
        f"/v1/{project}/jobs/import", json={"path": path, **extra}, headers=headers or TOKEN
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert list(body) == ["taskId"] and re.fullmatch(r"[0-9a-f]{32}", body["taskId"])
    return str(body["taskId"])


async def get_task(
    client: Client, task_id: str, *, project: str = PROJECT, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    response = await client.get(f"/v1/{project}/system-tasks/{task_id}", headers=headers or TOKEN)
    return response.status, await response.json()


def signed(client: Client, method: str, target: str, body: bytes = b"", *, ak: str = AK, sk: str = SK,
           at: float | None = None, headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers as the SDK signs them, for a request to this test client's server."""
    base = {
        "Content-Type": "application/json",
        "Host": f"{client.server.host}:{client.server.port}",
        "X-Project-Id": PROJECT,
        **(headers or {}),
    }
    return signing.sign_headers(method, target, base, body, ak, sk, wall(client).now if at is None else at)


# ---- the doc's examples --------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["system-tasks", "systemTasks"])
@pytest.mark.parametrize("task_id", list(DOC_EXAMPLES))
async def test_doc_examples_are_preloaded_byte_for_byte(client: Client, task_id: str, spelling: str) -> None:
    response = await client.get(f"/v1/{PROJECT}/{spelling}/{task_id}", headers=TOKEN)
    assert response.status == 200
    assert response.headers["Content-Type"] == DLF_JSON
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])
    assert await response.text() == compact(DOC_EXAMPLES[task_id])


async def test_doc_failure_example_for_an_unknown_task(client: Client) -> None:
    response = await client.get(f"/v1/{PROJECT}/systemTasks/008aae2e675d3bcb01675d40ab3f0099", headers=TOKEN)
    assert response.status == 400
    assert response.headers["Content-Type"] == DLF_JSON
    assert await response.text() == '{"error_code":"DLF.0810","error_msg":"Task does not exist"}'


async def test_doc_examples_come_back_after_a_reset(client: Client) -> None:
    task_id = await import_job(client)
    response = await client.post("/_emulator/reset")
    assert response.status == 200
    assert (await get_task(client, task_id))[0] == 400
    status, body = await get_task(client, "008aae2e675d3bcb01675d3c66f20000")
    assert status == 200 and body == DOC_EXAMPLES["008aae2e675d3bcb01675d3c66f20000"]


# ---- the import trigger and lifecycles -----------------------------------------------------


async def test_import_then_poll_until_successful(client: Client) -> None:
    started = await now(client)
    task_id = await import_job(client, "obs://bucket/jobs.zip", sameNamePolicy="OVERWRITE")
    status, body = await get_task(client, task_id)
    assert status == 200
    assert body["status"] == "RUNNING" and "endTime" not in body and "message" not in body
    assert body["name"] == "Import the job from obs://bucket/jobs.zip."
    assert body["startTime"] == body["lastUpdate"] == ms(started)
    assert body["projectId"] == PROJECT
    [sub] = body["subtasks"]
    assert sub["name"] == "Import the job_batch job." and sub["status"] == "RUNNING"
    assert sub["taskId"] == task_id and re.fullmatch(r"[0-9a-f]{32}", sub["id"]) and sub["id"] != task_id
    await advance(client, 30)
    status, body = await get_task(client, task_id)
    assert body["status"] == "SUCCESSFUL"
    assert body["endTime"] == body["lastUpdate"] == ms(started + 30)
    assert body["subtasks"][0]["status"] == "SUCCESSFUL"
    assert list(body) == ["endTime", "id", "lastUpdate", "name", "projectId", "startTime", "status", "subtasks"]


async def test_three_reads_also_finish_the_default_import(client: Client) -> None:
    task_id = await import_job(client)
    statuses = []
    for _ in range(4):
        await advance(client, 1)
        statuses.append((await get_task(client, task_id))[1]["status"])
    assert statuses == ["RUNNING", "RUNNING", "RUNNING", "SUCCESSFUL"]


async def test_a_failing_subtask_fails_the_task_with_its_message(client: Client) -> None:
    started = await now(client)
    task_id = await import_job(client, "obs://bucket/jobs-fail.zip")
    await advance(client, 10)
    status, body = await get_task(client, task_id)
    assert status == 200 and body["status"] == "RUNNING" and "message" not in body
    # One subtask changed: the task's lastUpdate follows it.
    assert body["lastUpdate"] == ms(started + 10)
    assert [s["status"] for s in body["subtasks"]] == ["SUCCESSFUL", "RUNNING"]
    await advance(client, 10)
    _, body = await get_task(client, task_id)
    failed = body["subtasks"][1]
    assert body["status"] == "FAILED" == failed["status"]
    assert body["message"] == failed["message"] == (
        "Failed to import the job_stream job: the DLI queue dli_queue_01 of node stream_sql does not exist."
    )
    assert body["endTime"] == body["lastUpdate"] == failed["lastUpdate"] == ms(started + 20)
    assert list(failed) == ["id", "lastUpdate", "message", "name", "status", "taskId"]


async def test_the_task_fails_as_soon_as_one_subtask_fails(make_client: MakeClient, tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", """\
api: dataarts
name: early-failure
trigger: {method: POST, path: "/v1/{project_id}/jobs/import"}
task: {name: "Import ${body.path} for ${scope.workspace}"}
subtasks:
  - name: fails early
    lifecycle: [{phase: running, for: 5s}, {phase: failed, message: early}]
  - name: keeps going
    lifecycle: [{phase: running, for: 60s}, {phase: succeeded}]
""")
    client = await make_client(scenario_paths=(path,), builtin_scenarios=False)
    started = await now(client)
    task_id = await import_job(client, "obs://b/x.zip")
    await advance(client, 30)
    _, body = await get_task(client, task_id)
    assert body["name"] == "Import obs://b/x.zip for default"
    assert (body["status"], body["message"], body["endTime"]) == ("FAILED", "early", ms(started + 5))
    await advance(client, 60)
    _, body = await get_task(client, task_id)
    # Still failed at the same moment; lastUpdate follows the subtask that went on.
    assert body["endTime"] == ms(started + 5) and body["lastUpdate"] == ms(started + 60)
    assert [s["status"] for s in body["subtasks"]] == ["FAILED", "SUCCESSFUL"]


async def test_an_unreadable_obs_file_fails_with_the_path_in_the_message(client: Client) -> None:
    task_id = await import_job(client, "obs://bucket/missing.zip")
    _, body = await get_task(client, task_id)
    assert body["status"] == "RUNNING" and "message" not in body and body["subtasks"] == []
    await advance(client, 2)
    _, body = await get_task(client, task_id)
    assert body["status"] == "FAILED"
    assert body["message"] == "Failed to read the OBS file obs://bucket/missing.zip. "


async def test_task_ids_come_from_the_seed_and_the_clock(make_client: MakeClient) -> None:
    first = await make_client()
    second = await make_client()
    ids = [await import_job(first), await import_job(first)]
    assert ids == [await import_job(second), await import_job(second)]
    other = await make_client(seed=8)
    assert await import_job(other) != ids[0]
    # Hibernate's layout: the creation time in ms sits at hex digits 16..28.
    assert int(ids[0][16:28], 16) == ms(CLOCK_START)
    assert int(ids[1][28:], 16) == int(ids[0][28:], 16) + 2  # the subtask took one between


async def test_a_task_made_through_the_control_api_gets_a_seeded_obs_path(make_client: MakeClient) -> None:
    names = []
    for _ in range(2):
        client = await make_client()
        response = await client.post("/_emulator/tasks", json={"api": "dataarts", "scenario": "import-job"})
        assert response.status == 201
        task_id = (await response.json())["id"]
        _, body = await get_task(client, task_id)
        names.append(body["name"])
    assert names[0] == names[1]
    assert re.fullmatch(r"Import the job from obs://[a-z]+-[a-z]+/\w+\.zip\.", names[0]), names[0]


async def test_scenarios_can_write_subtask_times(make_client: MakeClient, tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", """\
api: dataarts
name: timed
options: {subtask_times: true}
subtasks:
  - name: one
    lifecycle: [{phase: running, for: 3s}, {phase: succeeded}]
preload:
  - id: 0123456789abcdef0123456789abcdef
    created_at: 2026-01-01T00:00:00Z
    task: {name: timed task}
""")
    client = await make_client(scenario_paths=(path,), builtin_scenarios=False)
    _, body = await get_task(client, "0123456789abcdef0123456789abcdef")
    [sub] = body["subtasks"]
    start = 1767225600000
    assert sub["startTime"] == start and sub["endTime"] == sub["lastUpdate"] == start + 3000
    assert list(sub) == ["endTime", "id", "lastUpdate", "name", "startTime", "status", "taskId"]


# ---- import errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"params": {"a": "b"}}, "DLF.0802", "The specified parameter is not configured: path"),
        ({"path": ""}, "DLF.0802", "The specified parameter is not configured: path"),
        ([], "DLF.0802", "The specified parameter is not configured: path"),
        ({"path": "s3://bucket/jobs.zip"}, "DLF.0803", "The OBS path is invalid."),
        ({"path": 5}, "DLF.0803", "The OBS path is invalid."),
        ({"path": "obs://bucket/j.zip", "sameNamePolicy": "REPLACE"}, "DLF.0802",
         "The parameter sameNamePolicy is invalid: 'REPLACE' is not one of ['SKIP', 'OVERWRITE']"),
        ({"path": "obs://bucket/j.zip", "params": "x"}, "DLF.0802",
         "The parameter params is invalid: 'x' is not of type 'object'"),
    ],
)
async def test_a_bad_import_body_is_refused_and_makes_nothing(
    client: Client, body: Any, code: str, message: str
) -> None:
    before = await runtime_of(client).store.count()
    response = await client.post(f"/v1/{PROJECT}/jobs/import", json=body, headers=TOKEN)
    assert response.status == 400
    assert response.headers["Content-Type"] == DLF_JSON
    assert await response.json() == {"error_code": code, "error_msg": message}
    assert await runtime_of(client).store.count() == before


async def test_an_import_body_that_is_not_json(client: Client) -> None:
    response = await client.post(f"/v1/{PROJECT}/jobs/import", data=b"{path:", headers=TOKEN)
    assert response.status == 400
    assert await response.json() == {"error_code": "DLF.0802", "error_msg": "The request body is not valid JSON."}


# ---- isolation -------------------------------------------------------------------------------


async def test_a_task_belongs_to_its_workspace(client: Client) -> None:
    ws1 = {**TOKEN, "workspace": "ws1"}
    task_id = await import_job(client, headers=ws1)
    assert (await get_task(client, task_id, headers=ws1))[0] == 200
    for elsewhere in (TOKEN, {**TOKEN, "workspace": "default"}, {**TOKEN, "workspace": "ws2"}):
        status, body = await get_task(client, task_id, headers=elsewhere)
        assert (status, body) == (400, {"error_code": "DLF.0810", "error_msg": "Task does not exist"})
    # No header means the default workspace, the same as naming it.
    default_id = await import_job(client)
    assert (await get_task(client, default_id, headers={**TOKEN, "workspace": "default"}))[0] == 200


async def test_a_task_belongs_to_its_project(make_client: MakeClient) -> None:
    client = await make_client(api_settings=TWO_PROJECTS)
    other = {"X-Auth-Token": "other-token"}
    task_id = await import_job(client, project=OTHER_PROJECT, headers=other)
    status, body = await get_task(client, task_id, project=OTHER_PROJECT, headers=other)
    assert status == 200 and body["projectId"] == OTHER_PROJECT
    assert await get_task(client, task_id) == (400, {"error_code": "DLF.0810", "error_msg": "Task does not exist"})
    assert (await get_task(client, "008aae2e675d3bcb01675d3c66f20000", project=OTHER_PROJECT, headers=other))[0] == 400


# ---- the gateway: tokens ---------------------------------------------------------------------


async def gateway_error(response: Any) -> tuple[int, str, str]:
    assert response.headers["Content-Type"] == "application/json"
    body = await response.json()
    assert list(body) == ["error_msg", "error_code", "request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert response.headers["X-Request-Id"] == body["request_id"]
    return response.status, body["error_code"], body["error_msg"]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_no_credentials(client: Client, method: str) -> None:
    path = f"/v1/{PROJECT}/system-tasks/008aae2e675d3bcb01675d3c66f20000"
    if method == "POST":
        path = f"/v1/{PROJECT}/jobs/import"
    before = await runtime_of(client).store.count()
    response = await client.request(method, path, json={"path": "obs://b/j.zip"})
    assert await gateway_error(response) == (
        401, "APIGW.0301", "Incorrect IAM authentication information: x-auth-token not found"
    )
    assert await runtime_of(client).store.count() == before


async def test_an_unknown_token(client: Client) -> None:
    response = await client.get(f"/v1/{PROJECT}/system-tasks/x", headers={"X-Auth-Token": "nope"})
    assert await gateway_error(response) == (
        401, "APIGW.0301", "Incorrect IAM authentication information: decrypt token fail"
    )


async def test_a_token_for_another_project(make_client: MakeClient) -> None:
    client = await make_client(api_settings=TWO_PROJECTS)
    for path in (f"/v1/{OTHER_PROJECT}/system-tasks/x", f"/v1/{OTHER_PROJECT}/jobs/import"):
        method = "POST" if path.endswith("import") else "GET"
        response = await client.request(method, path, headers=TOKEN, json={"path": "obs://b/j.zip"})
        assert await gateway_error(response) == (
            403, "APIGW.0302", "The IAM user is not authorized to access the API."
        )


def token_request(password: str = "emulator-password", project: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": "emulator", "password": password, "domain": {"name": "emulator"}}},
            },
            "scope": {"project": project or {"id": PROJECT}},
        }
    }


@pytest.mark.parametrize("project", [{"id": PROJECT}, {"name": "cn-north-4"}])
async def test_iam_issues_a_token_for_a_project(client: Client, project: dict[str, str]) -> None:
    response = await client.post("/v3/auth/tokens?nocatalog=true", json=token_request(project=project))
    assert response.status == 201
    token = response.headers["X-Subject-Token"]
    assert token.startswith("MII") and len(token) > 40
    body = (await response.json())["token"]
    assert body["project"]["id"] == PROJECT and body["project"]["name"] == "cn-north-4"
    assert body["methods"] == ["password"] and body["user"]["name"] == "emulator"
    # Written from the wall clock, 24 h apart.
    assert body["issued_at"] == "2026-01-02T03:04:05.000000Z"
    assert body["expires_at"] == "2026-01-03T03:04:05.000000Z"
    task_id = await import_job(client, headers={"X-Auth-Token": token})
    assert (await get_task(client, task_id, headers={"X-Auth-Token": token}))[0] == 200
    # The emulator clock moving a month is time in which the client kept polling: the token
    # is still good.
    await advance(client, 30 * 86400)
    assert (await get_task(client, task_id, headers={"X-Auth-Token": token}))[0] == 200
    # A day of wall time later it has expired.
    wall(client).now += 24 * 3600 - 1
    assert (await get_task(client, task_id, headers={"X-Auth-Token": token}))[0] == 200
    wall(client).now += 1
    response = await client.get(f"/v1/{PROJECT}/system-tasks/{task_id}", headers={"X-Auth-Token": token})
    assert await gateway_error(response) == (
        401, "APIGW.0301",
        "Incorrect IAM authentication information: token expires, expires_at: 2026-01-03T03:04:05.000000Z",
    )


async def test_the_token_lifetime_is_a_setting(make_client: MakeClient) -> None:
    client = await make_client(api_settings={"dataarts": {"token_lifetime_seconds": 60}})
    response = await client.post("/v3/auth/tokens", json=token_request())
    assert (await response.json())["token"]["expires_at"] == "2026-01-02T03:05:05.000000Z"
    token = {"X-Auth-Token": response.headers["X-Subject-Token"]}
    wall(client).now += 60
    response = await client.get(f"/v1/{PROJECT}/system-tasks/x", headers=token)
    assert (await gateway_error(response))[2].endswith("token expires, expires_at: 2026-01-02T03:05:05.000000Z")


async def issue(client: Client) -> dict[str, str]:
    response = await client.post("/v3/auth/tokens", json=token_request())
    assert response.status == 201
    return {"X-Auth-Token": response.headers["X-Subject-Token"]}


async def test_expire_credentials_expires_every_token_issued_so_far(client: Client) -> None:
    first, second = await issue(client), await issue(client)
    task_id = await import_job(client, headers=first)
    wall(client).now += 3600
    response = await client.post("/_emulator/credentials/expire", json={"api": "dataarts"})
    assert response.status == 200 and await response.json() == {"expired": ["dataarts"]}
    for token in (first, second):
        response = await client.get(f"/v1/{PROJECT}/system-tasks/{task_id}", headers=token)
        assert await gateway_error(response) == (
            401, "APIGW.0301",
            # expired at the moment it was done
            "Incorrect IAM authentication information: token expires, expires_at: 2026-01-02T04:04:05.000000Z",
        )
    # A client that logs in again goes on; the configured token and AK/SK were never issued.
    assert (await get_task(client, task_id, headers=await issue(client)))[0] == 200
    assert (await get_task(client, task_id, headers=TOKEN))[0] == 200
    target = f"/v1/{PROJECT}/system-tasks/{task_id}"
    assert (await client.get(target, headers=signed(client, "GET", target))).status == 200


async def test_a_token_is_checked_by_what_it_carries(client: Client) -> None:
    token = (await issue(client))["X-Auth-Token"]
    path = f"/v1/{PROJECT}/system-tasks/x"
    for forged in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token + "A", "MII", "MII!!!!"):
        response = await client.get(path, headers={"X-Auth-Token": forged})
        assert await gateway_error(response) == (
            401, "APIGW.0301", "Incorrect IAM authentication information: decrypt token fail"
        )


def test_the_first_token_stays_valid_however_many_come_after() -> None:
    # The store used to drop its oldest token after 10,000: a valid token then answered 401.
    gateway = Gateway({**DataArts.default_settings}, Keyrings().ring("dataarts"))
    first, _ = gateway.issue(PROJECT, "emulator", CLOCK_START)
    for _ in range(10_001):
        gateway.issue(PROJECT, "emulator", CLOCK_START)
    caller = gateway.authenticate(
        method="GET", raw_target="/", headers={"x-auth-token": first}, body=b"", now=CLOCK_START + 1
    )
    assert (caller.name, caller.projects) == ("emulator", frozenset({PROJECT}))


async def test_issued_tokens_are_scoped_and_forgotten_on_reset(make_client: MakeClient) -> None:
    client = await make_client(api_settings=TWO_PROJECTS)
    response = await client.post("/v3/auth/tokens", json=token_request())
    token = {"X-Auth-Token": response.headers["X-Subject-Token"]}
    response = await client.get(f"/v1/{OTHER_PROJECT}/system-tasks/x", headers=token)
    assert (await gateway_error(response))[:2] == (403, "APIGW.0302")
    await client.post("/_emulator/reset")
    response = await client.get(f"/v1/{PROJECT}/system-tasks/x", headers=token)
    assert (await gateway_error(response))[2].endswith("decrypt token fail")
    # Tokens issued after the reset work.
    response = await client.get(f"/v1/{PROJECT}/system-tasks/x", headers=await issue(client))
    assert response.status == 400  # past the gateway: DLF.0810


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (token_request(password="wrong"), 401, "The username or password is wrong."),
        (token_request(project={"id": OTHER_PROJECT}), 401, "The request you have made requires authentication."),
        ({"auth": {}}, 400, "The request body is invalid: 'identity' is a required property"),
        ("not json", 400, "The request body is invalid: the body is not of type 'object'"),
        # A lone surrogate (JSON "\ud800") is a password no user has, not a crash.
        (token_request(password="\ud800"), 401, "The username or password is wrong."),
        (token_request(project={"name": "\udc00"}), 401, "The request you have made requires authentication."),
        # The schema's reason would quote the value: never for a password.
        (
            {"auth": {"identity": {"methods": ["password"], "password": "DA-s3cr3t"}, "scope": {"project": {"id": PROJECT}}}},
            400, "The request body is invalid: auth.identity.password is not of type 'object'",
        ),
    ],
)
async def test_iam_refusals(client: Client, body: Any, status: int, message: str) -> None:
    response = await client.post("/v3/auth/tokens", json=body)
    assert response.status == status
    assert "X-Subject-Token" not in response.headers
    error = (await response.json())["error"]
    assert error["code"] == status and error["message"] == message


# ---- the gateway: AK/SK ----------------------------------------------------------------------


async def test_a_signed_request_is_let_through(client: Client) -> None:
    body = b'{"path": "obs://bucket/jobs.zip", "sameNamePolicy": "SKIP"}'
    target = f"/v1/{PROJECT}/jobs/import"
    headers = signed(client, "POST", target, body, headers={"workspace": "ws1"})
    response = await client.post(target, data=body, headers=headers)
    assert response.status == 200, await response.text()
    task_id = (await response.json())["taskId"]
    target = f"/v1/{PROJECT}/system-tasks/{task_id}?b=2&a=x%20y"
    response = await client.get(target, headers=signed(client, "GET", target, headers={"workspace": "ws1"}))
    assert response.status == 200, await response.text()


async def test_a_wrong_secret_key_is_refused_and_the_canonical_request_shown(client: Client) -> None:
    target = f"/v1/{PROJECT}/system-tasks/008aae2e675d3bcb01675d3c66f20000"
    response = await client.get(target, headers=signed(client, "GET", target, sk="wrong"))
    status, code, message = await gateway_error(response)
    assert (status, code) == (401, "APIGW.0301")
    prefix = "Incorrect IAM authentication information: verify aksk signature fail,canonicalRequest:GET|"
    assert message.startswith(prefix + target + "/||content-type:application/json|host:")


async def test_a_changed_body_breaks_the_signature(client: Client) -> None:
    target = f"/v1/{PROJECT}/jobs/import"
    headers = signed(client, "POST", target, b'{"path": "obs://b/a.zip"}')
    before = await runtime_of(client).store.count()
    response = await client.post(target, data=b'{"path": "obs://b/b.zip"}', headers=headers)
    assert (await gateway_error(response))[2].startswith(
        "Incorrect IAM authentication information: verify aksk signature fail"
    )
    assert await runtime_of(client).store.count() == before


async def test_an_unknown_access_key(client: Client) -> None:
    target = f"/v1/{PROJECT}/system-tasks/x"
    response = await client.get(target, headers=signed(client, "GET", target, ak="NOSUCHAK"))
    assert await gateway_error(response) == (
        401, "APIGW.0301", "Incorrect IAM authentication information: Get secretKey failed,ak:NOSUCHAK,err:ak not exist"
    )


@pytest.mark.parametrize(("offset", "accepted"), [(-14 * 60, True), (14 * 60, True), (-16 * 60, False), (16 * 60, False)])
async def test_x_sdk_date_must_be_within_15_minutes_of_the_wall_clock(
    client: Client, offset: int, accepted: bool
) -> None:
    # The emulator clock is far away: it plays no part.
    await advance(client, 30 * 86400)
    target = f"/v1/{PROJECT}/system-tasks/008aae2e675d3bcb01675d3c66f20000"
    response = await client.get(target, headers=signed(client, "GET", target, at=CLOCK_START + offset))
    if accepted:
        assert response.status == 200
        return
    status, code, message = await gateway_error(response)
    assert (status, code) == (401, "APIGW.0301")
    signed_at = signing.format_sdk_date(CLOCK_START + offset)
    assert message == (
        "Incorrect IAM authentication information: signature expired, "
        f"signature time:{signed_at},server time:20260102T030405Z"
    )


async def test_the_allowed_skew_is_a_setting(make_client: MakeClient) -> None:
    client = await make_client(api_settings={"dataarts": {"max_clock_skew_seconds": 3600}})
    target = f"/v1/{PROJECT}/system-tasks/008aae2e675d3bcb01675d3c66f20000"
    response = await client.get(target, headers=signed(client, "GET", target, at=CLOCK_START - 50 * 60))
    assert response.status == 200


async def test_a_key_for_another_project(make_client: MakeClient) -> None:
    client = await make_client(api_settings=TWO_PROJECTS)
    target = f"/v1/{PROJECT}/system-tasks/x"
    response = await client.get(target, headers=signed(client, "GET", target, ak="OTHERAK", sk="OTHERSK"))
    assert (await gateway_error(response))[:2] == (403, "APIGW.0302")


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("SDK-HMAC-SHA256 Access=EMULATORAK0000000001", "verify aksk signature fail, invalid Authorization header"),
        (
            "SDK-HMAC-SM3 Access=EMULATORAK0000000001, SignedHeaders=host;x-sdk-date, Signature=00",
            "verify aksk signature fail, unsupported algorithm SDK-HMAC-SM3",
        ),
        (
            "SDK-HMAC-SHA256 Access=EMULATORAK0000000001, SignedHeaders=host, Signature=00",
            "verify aksk signature fail, SignedHeaders must include host and x-sdk-date",
        ),
    ],
)
async def test_malformed_signatures(client: Client, authorization: str, message: str) -> None:
    response = await client.get(
        f"/v1/{PROJECT}/system-tasks/x", headers={"Authorization": authorization, "X-Sdk-Date": "20260102T030405Z"}
    )
    assert await gateway_error(response) == (401, "APIGW.0301", f"Incorrect IAM authentication information: {message}")


async def test_a_malformed_sdk_date(client: Client) -> None:
    target = f"/v1/{PROJECT}/system-tasks/x"
    headers = signed(client, "GET", target)
    headers["X-Sdk-Date"] = "2026-01-02 03:04:05"
    response = await client.get(target, headers=headers)
    assert (await gateway_error(response))[2].endswith("is not in the format YYYYMMDDTHHMMSSZ")


# ---- the signer, against the SDK's own ------------------------------------------------------


def test_canonical_request_matches_the_sdk_signer() -> None:
    core = pytest.importorskip("huaweicloudsdkcore.signer.signer")
    from huaweicloudsdkcore.sdk_request import SdkRequest

    body = b'{"path": "obs://b/jobs.zip"}'
    headers = {
        "Content-Type": "application/json;charset=utf-8",
        "Host": "127.0.0.1:8080",
        "workspace": "ws 1",
        "X-Project-Id": PROJECT,
        "X-Sdk-Date": "20260102T030405Z",
    }
    request = SdkRequest(
        method="POST", schema="http", host="127.0.0.1:8080", resource_path=f"/v1/{PROJECT}/jobs/a%2Fb c",
        query_params=[("z", "1"), ("a", "x y")], header_params=dict(headers), body=body,
    )
    sdk_signed = core.Signer(_Credentials(AK, SK)).sign(request)  # type: ignore[arg-type]
    ours = signing.sign_headers(
        "POST", f"/v1/{PROJECT}/jobs/a%2Fb%20c?z=1&a=x%20y",
        {k: v for k, v in headers.items() if k != "X-Sdk-Date"}, body, AK, SK,
        signing.parse_sdk_date("20260102T030405Z") or 0.0,
    )
    assert ours["Authorization"] == sdk_signed.header_params["Authorization"]


class _Credentials:
    def __init__(self, ak: str, sk: str) -> None:
        self.ak = ak
        self.sk = sk


def test_hex_ids_decode_like_the_docs() -> None:
    assert render.hex_task_id("008aae2e675d3bcb", 0x01675D3C66F2, 0) == "008aae2e675d3bcb01675d3c66f20000"
    # A wrapped counter moves the time part on, so a frozen clock still gives unique ids.
    assert render.hex_task_id("00000000aaaaaaaa", 1000, 0x8000 + 3) == render.hex_task_id(
        "00000000aaaaaaaa", 1001, 3
    )


# ---- scenario files --------------------------------------------------------------------------


SCHEMAS = load_schemas()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("task: {nam: x}\nsubtasks: [{name: a, lifecycle: [{phase: succeeded}]}]\n",
         "s.yaml:3: task.nam: unknown key (allowed here: failure_message, message, name)"),
        ("subtasks:\n  - name: a\n    lifecycle:\n      - {phase: running, for: 1s, mesage: x}\n      - {phase: succeeded}\n",
         "s.yaml:6: subtasks[0].lifecycle[0].mesage: unknown key (allowed here: for, message, phase, polls)"),
        ("trigger:\n  method: POST\n  path: /v1/{project_id}/jobs/import\n  when: {body.pth: '*'}\nlifecycle: [{phase: succeeded}]\n",
         "s.yaml:6: trigger.when.body.pth: POST /v1/{project_id}/jobs/import cannot be matched on 'body.pth'"),
        ("lifecycle: [{phase: succeeded}]\npreload: [{id: 0123456789abcdef0123456789abcdef, scope: {region: x}}]\n",
         "s.yaml:4: preload[0].scope.region: unknown key (allowed here: project_id, workspace)"),
        ("lifecycle: [{phase: succeeded}]\npreload: [{id: ABC}]\n",
         "s.yaml:4: preload[0].id: 'ABC' does not match"),
        ("lifecycle: [{phase: succeeded}]\noptions: {subtasktimes: true}\n",
         "s.yaml:4: options.subtasktimes: unknown key (allowed here: subtask_times)"),
    ],
)
def test_scenario_mistakes_are_reported_with_their_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "s.yaml", "api: dataarts\nname: s\n" + text)
    problems = [str(p).replace(str(path), "s.yaml") for p in check_files([path], API_CLASSES, SCHEMAS)]
    assert any(p.startswith(expected) for p in problems), problems


def test_the_built_in_scenarios_load() -> None:
    from emulator.resources import builtin_scenarios

    assert check_files([builtin_scenarios() / "dataarts"], API_CLASSES, SCHEMAS) == []


# ---- the user page's examples ----------------------------------------------------------------


DOC_PAGE = Path(__file__).resolve().parent.parent / "docs" / "apis" / "dataarts.md"


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC_PAGE.read_text(encoding="utf-8"), re.DOTALL)


async def test_the_pages_scenario_example_runs(make_client: MakeClient, tmp_path: Path) -> None:
    [scenario] = [block for block in yaml_blocks() if block.startswith("api: dataarts")]
    path = write(tmp_path, "example.yaml", scenario)
    client = await make_client(scenario_paths=(path,))
    started = await now(client)
    task_id = await import_job(client, "obs://etl/nightly-2026.zip")
    _, body = await get_task(client, task_id)
    assert body["name"] == "Import the job from obs://etl/nightly-2026.zip."
    assert [s["name"] for s in body["subtasks"]] == ["Import the nightly_batch job.", "Import the nightly_stream job."]
    await advance(client, 40)
    _, body = await get_task(client, task_id)
    assert body["status"] == "SUCCESSFUL" and body["endTime"] == ms(started + 40)
    # Other paths still go to the built-in scenarios.
    _, other = await get_task(client, await import_job(client, "obs://etl/weekly.zip"))
    assert [s["name"] for s in other["subtasks"]] == ["Import the job_batch job."]


async def test_the_pages_config_example_is_valid_settings(make_client: MakeClient) -> None:
    import yaml

    [config] = [yaml.safe_load(block) for block in yaml_blocks() if block.startswith("# config.yaml")]
    client = await make_client(api_settings=config)
    project = config["dataarts"]["tokens"][0]["project_id"]
    token = {"X-Auth-Token": "my-token"}
    task_id = await import_job(client, project=project, headers=token)
    assert (await get_task(client, task_id, project=project, headers=token))[0] == 200
    # Replaced key by key: the built-in token is gone, the built-in users are not.
    response = await client.get(f"/v1/{PROJECT}/system-tasks/{task_id}", headers=TOKEN)
    assert response.status == 401


async def test_an_import_no_scenario_answers_says_so(make_client: MakeClient) -> None:
    client = await make_client(builtin_scenarios=False)
    response = await client.post(f"/v1/{PROJECT}/jobs/import", json={"path": "obs://b/j.zip"}, headers=TOKEN)
    assert response.status == 500
    assert await response.json() == {
        "error_code": "DLF.0000",
        "error_msg": "task-emulator: no dataarts scenario has the trigger POST /v1/{project_id}/jobs/import "
        "matching path 'obs://b/j.zip'",
    }
    assert await runtime_of(client).store.count() == 0


async def test_a_token_that_is_not_utf8_is_refused_not_a_crash(client: Client) -> None:
    # Found by an odd-input probe: the token comparison raised UnicodeEncodeError (a 500).
    status = await raw_status(client, "GET", "/v1/p/system-tasks/x", {"X-Auth-Token": NOT_UTF8})
    assert status == 401


# ---- the gateway: an AK locked after failed signatures -------------------------------------

LOCKED = "Incorrect IAM authentication information: AK access failed to reach the limit,forbidden."
DOC_TASK = "008aae2e675d3bcb01675d3c66f20000"


async def signed_get(client: Client, *, sk: str = SK) -> Any:
    target = f"/v1/{PROJECT}/system-tasks/{DOC_TASK}"
    return await client.get(target, headers=signed(client, "GET", target, sk=sk))


async def test_five_failed_signatures_lock_the_key_for_five_minutes(client: Client) -> None:
    for _ in range(5):
        assert (await gateway_error(await signed_get(client, sk="wrong")))[2].startswith(
            "Incorrect IAM authentication information: verify aksk signature fail,canonicalRequest:"
        )
    # Locked: even the right signature is refused, with the gateway's text.
    assert await gateway_error(await signed_get(client)) == (401, "APIGW.0301", LOCKED)
    # Moving the emulator clock does nothing; five minutes of wall time do.
    await advance(client, 3600)
    wall(client).now += 5 * 60 - 1
    assert (await gateway_error(await signed_get(client)))[2] == LOCKED
    wall(client).now += 1
    assert (await signed_get(client)).status == 200
    # Tokens are not locked with it.
    assert (await get_task(client, DOC_TASK))[0] == 200


async def test_a_good_signature_ends_a_run_of_failures(client: Client) -> None:
    for _ in range(4):
        assert (await signed_get(client, sk="wrong")).status == 401
    assert (await signed_get(client)).status == 200
    for _ in range(4):
        assert (await signed_get(client, sk="wrong")).status == 401
    assert (await signed_get(client)).status == 200


async def test_a_reset_unlocks_the_key(client: Client) -> None:
    for _ in range(5):
        await signed_get(client, sk="wrong")
    assert (await gateway_error(await signed_get(client)))[2] == LOCKED
    await client.post("/_emulator/reset")
    assert (await signed_get(client)).status == 200


@pytest.mark.parametrize(
    ("settings", "locked"),
    [({"ak_lock_after_failures": 0}, False), ({"ak_lock_after_failures": 2, "ak_lock_seconds": 10}, True)],
)
async def test_the_lock_is_a_setting(make_client: MakeClient, settings: dict[str, int], locked: bool) -> None:
    client = await make_client(api_settings={"dataarts": settings})
    for _ in range(2 if locked else 20):
        await signed_get(client, sk="wrong")
    response = await signed_get(client)
    if not locked:
        assert response.status == 200
        return
    assert (await gateway_error(response))[2] == LOCKED
    wall(client).now += 10
    assert (await signed_get(client)).status == 200


# ---- input no answer could carry -------------------------------------------------------------


async def raw_request(
    client: Client, method: str, target: str, headers: dict[str, bytes], body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    """A request written byte for byte (header bytes that are not UTF-8, which no HTTP client
    sends): the status and the JSON body of the answer."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}".encode())
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


async def test_an_import_whose_text_is_not_utf8_is_refused_and_makes_nothing(client: Client) -> None:
    # Found by an odd-input probe: the import answered 200, and every read of the task 500.
    before = await runtime_of(client).store.count()
    target = f"/v1/{PROJECT}/jobs/import"
    for body, expected in [
        ({"path": "obs://bucket/\ud800.zip"}, {"error_code": "DLF.0803", "error_msg": "The OBS path is invalid."}),
        (
            {"path": "obs://bucket/a.zip", "params": {"env": ["x", "\udfff"]}},
            {"error_code": "DLF.0802", "error_msg": "The parameter params.env[1] is invalid: not UTF-8 text"},
        ),
        (
            {"path": "obs://bucket/a.zip", "jobsParam": [{"\ud800": "x"}]},
            {"error_code": "DLF.0802", "error_msg": "The parameter jobsParam[0] is invalid: not UTF-8 text"},
        ),
    ]:
        response = await client.post(target, json=body, headers=TOKEN)  # json.dumps writes \\ud800
        assert response.status == 400
        assert await response.json() == expected
    # A surrogate pair is a character like any other.
    await import_job(client, "obs://bucket/\U0001f600.zip")
    assert await runtime_of(client).store.count() == before + 1


async def test_a_workspace_that_is_not_utf8_is_refused(client: Client) -> None:
    before = await runtime_of(client).store.count()
    headers = {"Host": b"x", "X-Auth-Token": b"emulator-iam-token", "Content-Type": b"application/json",
               "workspace": NOT_UTF8}
    status, body = await raw_request(client, "POST", f"/v1/{PROJECT}/jobs/import", headers, b'{"path": "obs://b/a.zip"}')
    assert (status, body) == (
        400, {"error_code": "DLF.0802", "error_msg": "The parameter workspace is invalid: not UTF-8 text"}
    )
    assert await runtime_of(client).store.count() == before


def raw_signed(client: Client, target: str, signed_value: str) -> dict[str, bytes]:
    """Headers of a GET signed as if `X-Custom` held `signed_value`; it is sent as NOT_UTF8."""
    headers = signed(client, "GET", target, headers={"X-Custom": signed_value})
    raw = {name: value.encode() for name, value in headers.items() if name != "X-Custom"}
    return {**raw, "X-Custom": NOT_UTF8}


async def test_a_signed_header_that_is_not_utf8_is_a_signature_mismatch(client: Client) -> None:
    # Found by an odd-input probe: the string to sign raised UnicodeEncodeError (a 500).
    target = f"/v1/{PROJECT}/system-tasks/{DOC_TASK}"
    # A client that signed the text its library would have sent (latin-1 "éÿ" as UTF-8).
    status, body = await raw_request(client, "GET", target, raw_signed(client, target, "\xe9\xff"))
    assert (status, body["error_code"]) == (401, "APIGW.0301")
    assert body["error_msg"].startswith("Incorrect IAM authentication information: verify aksk signature fail")
    # The canonical request quotes the bytes it could not read as U+FFFD.
    assert "|x-custom:\ufffd\ufffd|" in body["error_msg"]


async def test_a_signature_over_the_bytes_sent_is_good(client: Client) -> None:
    # The gateway hashes the bytes it received: a client that signed those gets through.
    target = f"/v1/{PROJECT}/system-tasks/{DOC_TASK}"
    status, body = await raw_request(client, "GET", target, raw_signed(client, target, NOT_UTF8.decode("utf-8", "surrogateescape")))
    assert status == 200 and body["id"] == DOC_TASK


async def test_an_unknown_access_key_that_is_not_utf8(client: Client) -> None:
    target = f"/v1/{PROJECT}/system-tasks/x"
    headers = {name: value.encode() for name, value in signed(client, "GET", target, ak="AKX").items()}
    headers["Authorization"] = headers["Authorization"].replace(b"Access=AKX", b"Access=AK" + NOT_UTF8)
    status, body = await raw_request(client, "GET", target, headers)
    assert (status, body["error_msg"]) == (
        401, "Incorrect IAM authentication information: Get secretKey failed,ak:AK\ufffd\ufffd,err:ak not exist"
    )

"""The real Huawei Cloud SDK (huaweicloudsdkdgc) against the emulator: it signs every request
with AK/SK, imports a job and polls the system task on a virtual clock.

The SDK signs with the real time, which the emulator's gateway compares with the real time
(never the emulator clock, which the tests move as they like). Every connection is checked to go to
127.0.0.1, and the project id is always given, so the SDK never asks IAM for it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.config import EmulatorConfig
from emulator.server import EmulatorServer

PROJECT = "b384b9e9ab9b4ee8994c8633aabc9505"
AK = "EMULATORAK0000000001"
SK = "EMULATORSK00000000000000000000000000000001"


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The SDK's modules, imported with HOME in a temporary folder: importing it writes
    ~/.huaweicloud/application_id."""
    home = os.environ.get("HOME")
    os.environ["HOME"] = str(tmp_path_factory.mktemp("home"))
    try:
        pytest.importorskip("huaweicloudsdkdgc")
        from huaweicloudsdkcore.auth import credentials
        from huaweicloudsdkcore.exceptions import exceptions
        from huaweicloudsdkdgc import v1

        yield type("Sdk", (), {"credentials": credentials, "exceptions": exceptions, "v1": v1})
    finally:
        if home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = home


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    import urllib3.util.connection

    real_connect = urllib3.util.connection.create_connection

    def local_only(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        assert address[0] == "127.0.0.1", f"the SDK tried to reach {address}"
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", local_only)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    # A virtual clock that starts at the real time: the SDK's X-Sdk-Date is real time.
    with EmulatorServer(EmulatorConfig(clock="virtual", seed=7)) as running:
        yield running


def client_for(sdk: Any, server: EmulatorServer, sk: str = SK) -> Any:
    credentials = sdk.credentials.BasicCredentials(AK, sk, PROJECT)
    return sdk.v1.DgcClient.new_builder().with_credentials(credentials).with_endpoint(server.url).build()


def advance(server: EmulatorServer, seconds: float) -> None:
    server.call(lambda: server.runtime.engine.advance_clock(seconds))


def start_import(sdk: Any, client: Any, path: str, workspace: str | None = None) -> str:
    body = sdk.v1.ImportFileReq(path=path, same_name_policy="OVERWRITE", params={"env": "test"})
    response = client.import_job(sdk.v1.ImportJobRequest(workspace=workspace, body=body))
    assert response.status_code == 200
    return str(response.task_id)


def poll(sdk: Any, client: Any, server: EmulatorServer, task_id: str, workspace: str | None = None,
         step: float = 5, limit: int = 20) -> tuple[list[str], Any]:
    seen = []
    for _ in range(limit):
        task = client.list_system_tasks(sdk.v1.ListSystemTasksRequest(task_id=task_id, workspace=workspace))
        seen.append(task.status)
        if task.status in ("SUCCESSFUL", "FAILED"):
            return seen, task
        advance(server, step)
    raise AssertionError(f"the task never ended: {seen}")


def test_import_job_then_poll_until_successful(sdk: Any, server: EmulatorServer) -> None:
    client = client_for(sdk, server)
    started = server.call(server.runtime.engine.clock.now)
    task_id = start_import(sdk, client, "obs://my-bucket/jobs/job_batch.zip", workspace="ws1")
    assert len(task_id) == 32
    seen, task = poll(sdk, client, server, task_id, workspace="ws1", step=12)
    assert seen == ["RUNNING", "RUNNING", "RUNNING", "SUCCESSFUL"]
    assert task.id == task_id
    assert task.name == "Import the job from obs://my-bucket/jobs/job_batch.zip."
    assert task.start_time == round(started * 1000)
    assert task.end_time == task.last_update == round((started + 24) * 1000)  # the third read ended it
    [sub] = task.subtasks
    assert (sub.name, sub.status, sub.last_update) == ("Import the job_batch job.", "SUCCESSFUL", task.end_time)
    # The journal saw the SDK's signed requests.
    entries = server.call(lambda: list(server.runtime.journal.entries(api="dataarts")))
    assert entries and all(e.headers["Authorization"] == "[redacted]" for e in entries)
    assert {e.headers["workspace"] for e in entries} == {"ws1"}


def test_a_failing_subtask_surfaces_its_message(sdk: Any, server: EmulatorServer) -> None:
    client = client_for(sdk, server)
    task_id = start_import(sdk, client, "obs://my-bucket/jobs-fail.zip")
    seen, task = poll(sdk, client, server, task_id)
    assert seen[-1] == "FAILED" and seen[:-1] == ["RUNNING"] * (len(seen) - 1)
    assert task.message == (
        "Failed to import the job_stream job: the DLI queue dli_queue_01 of node stream_sql does not exist."
    )
    assert [(s.status, s.message) for s in task.subtasks] == [("SUCCESSFUL", None), ("FAILED", task.message)]


def test_a_doc_example_through_the_sdk(sdk: Any, server: EmulatorServer) -> None:
    client = client_for(sdk, server)
    task = client.list_system_tasks(
        sdk.v1.ListSystemTasksRequest(task_id="008aae2e675d3bcb01675d3c66f20000")
    )
    assert (task.status, task.start_time, task.end_time, task.last_update) == (
        "SUCCESSFUL", 1543457499000, 1543457514000, 1543457514000
    )
    assert [s.id for s in task.subtasks] == ["008aae2e675d3bcb01675d3c9f5f0002", "008aae2e675d3bcb01675d3c9fdc0003"]


def test_an_unknown_task_raises_dlf_0810(sdk: Any, server: EmulatorServer) -> None:
    client = client_for(sdk, server)
    task_id = start_import(sdk, client, "obs://my-bucket/jobs.zip", workspace="ws1")
    for request in (
        sdk.v1.ListSystemTasksRequest(task_id="0" * 32),
        sdk.v1.ListSystemTasksRequest(task_id=task_id, workspace="ws2"),  # another workspace
    ):
        with pytest.raises(sdk.exceptions.ClientRequestException) as raised:
            client.list_system_tasks(request)
        error = raised.value
        assert (error.status_code, error.error_code, error.error_msg) == (400, "DLF.0810", "Task does not exist")
        assert error.request_id and len(error.request_id) == 32


def test_an_import_without_a_path_raises_a_dlf_error(sdk: Any, server: EmulatorServer) -> None:
    client = client_for(sdk, server)
    with pytest.raises(sdk.exceptions.ClientRequestException) as raised:
        client.import_job(sdk.v1.ImportJobRequest(body=sdk.v1.ImportFileReq(params={"a": "b"})))
    assert (raised.value.status_code, raised.value.error_code) == (400, "DLF.0802")


def test_a_wrong_secret_key_raises_an_auth_error(sdk: Any, server: EmulatorServer) -> None:
    client = client_for(sdk, server, sk="not-the-secret-key")
    with pytest.raises(sdk.exceptions.ClientRequestException) as raised:
        start_import(sdk, client, "obs://my-bucket/jobs.zip")
    error = raised.value
    assert (error.status_code, error.error_code) == (401, "APIGW.0301")
    assert error.error_msg.startswith("Incorrect IAM authentication information: verify aksk signature fail")
    assert error.request_id and len(error.request_id) == 32
    preloaded = sum(len(s.preload) for s in server.runtime.engine.catalog.scenarios.values())
    assert server.call(lambda: server.runtime.engine.count()) == preloaded  # nothing was made


def test_a_jump_of_the_emulator_clock_never_refuses_the_sdk(sdk: Any, server: EmulatorServer) -> None:
    # The SDK signs with the real time and the gateway compares it with the real time: a
    # month of emulator time is a month in which the client kept polling.
    client = client_for(sdk, server)
    task_id = start_import(sdk, client, "obs://my-bucket/jobs.zip")
    advance(server, 30 * 86400)
    task = client.list_system_tasks(sdk.v1.ListSystemTasksRequest(task_id=task_id))
    assert task.status == "SUCCESSFUL"


def test_a_signature_more_than_15_minutes_from_the_wall_clock_is_refused(
    sdk: Any, server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(sdk, server)
    monkeypatch.setattr(server.runtime, "wall_clock", lambda: time.time() + 16 * 60)
    with pytest.raises(sdk.exceptions.ClientRequestException) as raised:
        client.list_system_tasks(sdk.v1.ListSystemTasksRequest(task_id="0" * 32))
    assert (raised.value.status_code, raised.value.error_code) == (401, "APIGW.0301")
    assert raised.value.error_msg.startswith("Incorrect IAM authentication information: signature expired")


def test_five_wrong_secret_keys_lock_the_access_key(sdk: Any, server: EmulatorServer) -> None:
    wrong, right = client_for(sdk, server, sk="not-the-secret-key"), client_for(sdk, server)
    request = sdk.v1.ListSystemTasksRequest(task_id="008aae2e675d3bcb01675d3c66f20000")
    for _ in range(5):
        with pytest.raises(sdk.exceptions.ClientRequestException):
            wrong.list_system_tasks(request)
    with pytest.raises(sdk.exceptions.ClientRequestException) as raised:
        right.list_system_tasks(request)
    assert (raised.value.status_code, raised.value.error_code, raised.value.error_msg) == (
        401, "APIGW.0301", "Incorrect IAM authentication information: AK access failed to reach the limit,forbidden."
    )
    server.run(server.runtime.reset())  # as the pytest fixtures do between tests
    assert right.list_system_tasks(request).status == "SUCCESSFUL"

"""DataArts Factory journeys: Huawei Cloud's own SDKs (AK/SK signed with the real time) and a
plain `requests` client with an IAM token import a job, the emulator clock jumps, and the
next poll sees the scripted phase with the same credentials. The re-login path is run by
`expire_credentials`.

The built-in `import-job` scenario imports one job in 30 s (or 3 reads); a path with `fail`
in it imports job_batch in 10 s and fails job_stream at 20 s. Every jump is longer than that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from emulator.testing import TaskEmulator

FAIL_MESSAGE = "Failed to import the job_stream job: the DLI queue dli_queue_01 of node stream_sql does not exist."
EXPIRED = "Incorrect IAM authentication information: token expires, expires_at: "


@pytest.fixture(scope="module")
def huawei(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """Both Huawei SDKs, imported with HOME in a temporary folder: importing the core writes
    ~/.huaweicloud/application_id."""
    home = os.environ.get("HOME")
    os.environ["HOME"] = str(tmp_path_factory.mktemp("home"))
    try:
        pytest.importorskip("huaweicloudsdkdgc")
        pytest.importorskip("huaweicloudsdkdlf")
        from huaweicloudsdkcore.auth.credentials import BasicCredentials
        from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
        from huaweicloudsdkdgc import v1 as dgc
        from huaweicloudsdkdlf import v1 as dlf

        yield SimpleNamespace(
            credentials=BasicCredentials, error=ClientRequestException, dgc=dgc, dlf=dlf
        )
    finally:
        if home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = home


@pytest.fixture(autouse=True)
def local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection the SDKs make goes to 127.0.0.1, never through a proxy."""
    import urllib3.util.connection

    real_connect = urllib3.util.connection.create_connection

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        assert address[0] == "127.0.0.1", f"a client tried to reach {address}"
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", connect)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


def sdk_client(emulator: TaskEmulator, module: Any, client_class: Any, credentials: Any) -> Any:
    """A client of `module` (dgc or dlf) with the built-in AK/SK and project, pointed at the
    emulator: with the project id given, the SDK never asks IAM for it."""
    found = emulator.credentials("dataarts")
    return (
        client_class.new_builder()
        .with_credentials(credentials(found["ak"], found["sk"], found["project_id"]))
        .with_endpoint(emulator.url_for("dataarts").rstrip("/"))
        .build()
    )


def test_dgc_sdk_polls_across_a_jump(emulator: TaskEmulator, jump: int, huawei: SimpleNamespace) -> None:
    dgc = huawei.dgc
    client = sdk_client(emulator, dgc, dgc.DgcClient, huawei.credentials)
    body = dgc.ImportFileReq(path="obs://my-bucket/jobs/nightly.zip", same_name_policy="OVERWRITE")
    started = emulator.now()
    task_id = client.import_job(dgc.ImportJobRequest(workspace="ws1", body=body)).task_id
    first = client.list_system_tasks(dgc.ListSystemTasksRequest(task_id=task_id, workspace="ws1"))
    assert (first.status, first.end_time) == ("RUNNING", None)
    emulator.advance(jump)
    task = client.list_system_tasks(dgc.ListSystemTasksRequest(task_id=task_id, workspace="ws1"))
    assert task.status == "SUCCESSFUL"
    assert task.start_time == round(started * 1000)
    assert task.end_time == task.last_update == round((started + 30) * 1000)
    [sub] = task.subtasks
    assert (sub.name, sub.status) == ("Import the job_batch job.", "SUCCESSFUL")


def test_the_older_dlf_sdk_polls_across_a_jump(
    emulator: TaskEmulator, jump: int, huawei: SimpleNamespace
) -> None:
    dlf = huawei.dlf
    client = sdk_client(emulator, dlf, dlf.DlfClient, huawei.credentials)
    started = emulator.now()
    body = dlf.ImportFileReq(path="obs://my-bucket/jobs-fail.zip")
    task_id = client.import_job(dlf.ImportJobRequest(body=body)).task_id
    emulator.advance(jump)
    task = client.list_system_tasks(dlf.ListSystemTasksRequest(task_id=task_id))
    assert (task.id, task.status, task.message) == (task_id, "FAILED", FAIL_MESSAGE)
    # As against the real service: this SDK models times as strings (it turns the numbers
    # into their digits) and reads subtasks from `subTasks`, a key the service no longer
    # writes, so it sees none.
    assert task.start_time == str(round(started * 1000))
    assert task.end_time == task.last_update == str(round((started + 20) * 1000))
    assert task.sub_tasks is None


def iam_token(base: str, emulator: TaskEmulator) -> str:
    """A token from IAM's POST /v3/auth/tokens, as a plain HTTP client gets one."""
    project = emulator.credentials("dataarts")["project_id"]
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "emulator", "password": "emulator-password", "domain": {"name": "emulator"}}
                },
            },
            "scope": {"project": {"id": project}},
        }
    }
    response = requests.post(f"{base}v3/auth/tokens", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def test_a_token_client_polls_across_a_jump(emulator: TaskEmulator, jump: int) -> None:
    base = emulator.url_for("dataarts")
    project = emulator.credentials("dataarts")["project_id"]
    session = requests.Session()
    session.headers["X-Auth-Token"] = iam_token(base, emulator)
    response = session.post(f"{base}v1/{project}/jobs/import", json={"path": "obs://b/nightly.zip"}, timeout=10)
    assert response.status_code == 200, response.text
    task_id = response.json()["taskId"]
    emulator.advance(jump)
    response = session.get(f"{base}v1/{project}/system-tasks/{task_id}", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "SUCCESSFUL"


def test_an_expired_token_gets_the_gateways_answer_and_a_new_one_works(emulator: TaskEmulator) -> None:
    base = emulator.url_for("dataarts")
    project = emulator.credentials("dataarts")["project_id"]
    token = iam_token(base, emulator)
    response = requests.post(
        f"{base}v1/{project}/jobs/import", json={"path": "obs://b/nightly.zip"},
        headers={"X-Auth-Token": token}, timeout=10,
    )
    task_id = response.json()["taskId"]
    status = f"{base}v1/{project}/system-tasks/{task_id}"
    assert emulator.expire_credentials("dataarts") == ["dataarts"]
    response = requests.get(status, headers={"X-Auth-Token": token}, timeout=10)
    assert response.status_code == 401
    body = response.json()
    assert list(body) == ["error_msg", "error_code", "request_id"]
    assert body["error_code"] == "APIGW.0301" and body["error_msg"].startswith(EXPIRED)
    assert response.headers["X-Request-Id"] == body["request_id"]
    # The client logs in again and goes on where it was.
    response = requests.get(status, headers={"X-Auth-Token": iam_token(base, emulator)}, timeout=10)
    assert response.status_code == 200 and response.json()["id"] == task_id


def test_expiring_credentials_leaves_the_sdks_keys_alone(
    emulator: TaskEmulator, huawei: SimpleNamespace
) -> None:
    # An AK/SK pair is a permanent key: there is nothing of it to expire.
    dgc = huawei.dgc
    client = sdk_client(emulator, dgc, dgc.DgcClient, huawei.credentials)
    task_id = client.import_job(dgc.ImportJobRequest(body=dgc.ImportFileReq(path="obs://b/a.zip"))).task_id
    emulator.expire_credentials("dataarts")
    assert client.list_system_tasks(dgc.ListSystemTasksRequest(task_id=task_id)).id == task_id

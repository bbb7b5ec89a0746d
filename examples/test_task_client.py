"""The example client's tests: every vendor API, with the task_emulator fixture."""

from __future__ import annotations

import pytest
import requests

from emulator.testing import TaskEmulator
from task_client import (
    TaskFailed, TaskTimeout, dataarts_status, ops_center_status, spectrum_discover_status,
    traffic_ops_status, wait_for_task,
)

pytestmark = pytest.mark.task_emulator(scenarios=["scenarios"])


def on_virtual_time(emu: TaskEmulator) -> dict[str, object]:
    """Let the client's waits move the emulator's clock instead of the test's wall clock."""
    return {"sleep": emu.advance, "clock": emu.now}


def traffic_ops_session(emu: TaskEmulator) -> requests.Session:
    http = requests.Session()
    creds = emu.credentials("traffic_ops")
    http.post(f"{emu.url}/api/4.0/user/login", json={"u": creds["username"], "p": creds["password"]}, timeout=10).raise_for_status()
    return http


def test_a_half_hour_renewal_in_milliseconds(task_emulator: TaskEmulator) -> None:
    task = task_emulator.create_task("traffic_ops", "half-hour-renewal")
    poll = traffic_ops_status(traffic_ops_session(task_emulator), task_emulator.url, int(task.id))
    status = wait_for_task(poll, timeout=3600, max_delay=300, **on_virtual_time(task_emulator))
    assert status.detail == "ACME renewal complete. 80 certs renewed, 0 errors."
    polls = task_emulator.requests(task=task)
    assert 5 <= len(polls) <= 15  # backoff, not a busy loop


def test_a_failed_renewal_raises(task_emulator: TaskEmulator) -> None:
    task = task_emulator.create_task("traffic_ops", "acme-autorenew-fails")
    poll = traffic_ops_status(traffic_ops_session(task_emulator), task_emulator.url, int(task.id))
    with pytest.raises(TaskFailed, match="0 certs renewed, 2 errors"):
        wait_for_task(poll, timeout=3600, **on_virtual_time(task_emulator))


def test_the_client_gives_up_after_its_timeout(task_emulator: TaskEmulator) -> None:
    task = task_emulator.create_task("traffic_ops", "stuck-renewal")
    poll = traffic_ops_status(traffic_ops_session(task_emulator), task_emulator.url, int(task.id))
    start = task_emulator.now()
    with pytest.raises(TaskTimeout, match="still pending after 600 s"):
        wait_for_task(poll, timeout=600, max_delay=120, **on_virtual_time(task_emulator))
    assert task_emulator.now() - start == pytest.approx(600)


def test_spectrum_discover_query(task_emulator: TaskEmulator) -> None:
    creds = task_emulator.credentials("spectrum_discover")
    http = requests.Session()
    token = http.get(f"{task_emulator.url}/auth/v1/token", auth=(creds["username"], creds["password"]), timeout=10)
    http.headers["Authorization"] = f"Bearer {token.headers['X-Auth-Token']}"
    task = task_emulator.create_task("spectrum_discover", "half-hour-query")
    status = wait_for_task(spectrum_discover_status(http, task_emulator.url, task.id), timeout=3600, **on_virtual_time(task_emulator))
    assert status.detail == "work complete"


def test_spectrum_discover_query_that_fails(task_emulator: TaskEmulator) -> None:
    creds = task_emulator.credentials("spectrum_discover")
    http = requests.Session()
    http.auth = (creds["username"], creds["password"])
    http.headers["X-ALLOW-BASIC-AUTH-SD"] = "true"
    task = task_emulator.create_task("spectrum_discover", "sql-query-undefined-table")
    with pytest.raises(TaskFailed, match="work failed"):
        wait_for_task(spectrum_discover_status(http, task_emulator.url, task.id), timeout=60, **on_virtual_time(task_emulator))


def test_ops_center_query(task_emulator: TaskEmulator) -> None:
    creds = task_emulator.credentials("ops_center")
    http = requests.Session()
    http.auth = (creds["username"], creds["password"])
    task = task_emulator.create_task("ops_center", "half-hour-query")
    poll = ops_center_status(http, task_emulator.url, creds["dataset"], task.id)
    status = wait_for_task(poll, timeout=3600, **on_virtual_time(task_emulator))
    assert status.detail == "4 resources"


def test_ops_center_query_that_fails(task_emulator: TaskEmulator) -> None:
    creds = task_emulator.credentials("ops_center")
    http = requests.Session()
    http.auth = (creds["username"], creds["password"])
    task = task_emulator.create_task("ops_center", "query-fails")
    with pytest.raises(TaskFailed, match="720600E2"):
        wait_for_task(ops_center_status(http, task_emulator.url, creds["dataset"], task.id), timeout=3600, **on_virtual_time(task_emulator))


def test_dataarts_import(task_emulator: TaskEmulator) -> None:
    creds = task_emulator.credentials("dataarts")
    http = requests.Session()
    http.headers["X-Auth-Token"] = creds["token"]
    task = task_emulator.create_task("dataarts", "half-hour-import")
    poll = dataarts_status(http, task_emulator.url, creds["project_id"], task.id)
    assert wait_for_task(poll, timeout=3600, **on_virtual_time(task_emulator)).state == "succeeded"


def test_dataarts_import_that_fails(task_emulator: TaskEmulator) -> None:
    creds = task_emulator.credentials("dataarts")
    http = requests.Session()
    http.headers["X-Auth-Token"] = creds["token"]
    task = task_emulator.create_task("dataarts", "import-jobs-one-fails")
    with pytest.raises(TaskFailed, match="job_stream"):
        wait_for_task(dataarts_status(http, task_emulator.url, creds["project_id"], task.id), timeout=3600, **on_virtual_time(task_emulator))

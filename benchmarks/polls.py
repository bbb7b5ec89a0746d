"""The requests the benchmark sends: each API's status poll, as its clients send it."""

from __future__ import annotations

import json
from collections.abc import Callable

from .load import Load
from .procs import basic, call, spectrum_discover_token, traffic_ops_cookie

STATUS_1 = "/api/4.0/async_status/1"
DATAARTS_TASK = "/v1/b384b9e9ab9b4ee8994c8633aabc9505/system-tasks/008aae2e675d3bcb01675d3c66f20000"


def traffic_ops_poll(base: str) -> Load:
    return Load(f"{base}{STATUS_1}", {"Cookie": traffic_ops_cookie(base)})


def spectrum_discover_poll(base: str) -> Load:
    return Load(
        f"{base}{spectrum_discover_running_task(base)}", {"Authorization": f"Bearer {spectrum_discover_token(base)}"}
    )


def ops_center_poll(base: str) -> Load:
    return Load(
        f"{base}/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344", {"Authorization": basic("fred", "fred")}
    )


def dataarts_poll(base: str) -> Load:
    return Load(f"{base}{DATAARTS_TASK}", {"X-Auth-Token": "emulator-iam-token"})


API_POLLS: dict[str, Callable[[str], Load]] = {
    "Traffic Ops async_status": traffic_ops_poll,
    "Spectrum Discover task_status (303)": spectrum_discover_poll,
    "Ops Center getStatus": ops_center_poll,
    "DataArts system-task": dataarts_poll,
}


def spectrum_discover_running_task(base: str) -> str:
    """The status path of a query held in progress: every poll answers 303. (The docs'
    in-progress example completes after three reads, and a completed task streams rows.)"""
    status, _, body = call(f"{base}/_emulator/tasks", method="POST",
                           body={"api": "spectrum_discover", "scenario": "sql-query"})
    if status != 201:
        raise RuntimeError(f"creating a Spectrum Discover task answered {status}: {body!r}")
    task_id = json.loads(body)["id"]
    call(f"{base}/_emulator/tasks/spectrum_discover/{task_id}/transition", method="POST", body={"phase": "running"})
    return f"/db2whrest/v1/task_status/{task_id}"

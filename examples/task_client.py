"""A small client library of the kind task-emulator is for: start nothing, just wait.

`wait_for_task()` polls a status function with exponential backoff until the task is done,
fails, or a deadline passes. One status function per vendor API turns its wire format into a
`Status`. `sleep` and `clock` are parameters so tests can run a 30-minute job in
milliseconds on the emulator's virtual clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

import requests

State = Literal["pending", "succeeded", "failed"]


@dataclass(frozen=True)
class Status:
    state: State
    detail: str = ""


class TaskFailed(Exception):
    """The task ended in failure; the message is the vendor's."""


class TaskTimeout(Exception):
    """The task was still pending when the deadline passed."""


def wait_for_task(
    poll: Callable[[], Status],
    *,
    timeout: float,
    initial_delay: float = 1.0,
    max_delay: float = 60.0,
    factor: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Status:
    """Poll until the task succeeds (returned), fails (TaskFailed) or `timeout` seconds pass
    (TaskTimeout). Waits grow from `initial_delay` by `factor` up to `max_delay`."""
    deadline = clock() + timeout
    delay = initial_delay
    polls = 0
    while True:
        status = poll()
        polls += 1
        if status.state == "succeeded":
            return status
        if status.state == "failed":
            raise TaskFailed(status.detail)
        remaining = deadline - clock()
        if remaining <= 0:
            raise TaskTimeout(f"still pending after {timeout:g} s and {polls} polls: {status.detail}")
        sleep(min(delay, remaining))
        delay = min(delay * factor, max_delay)


# ---- one status function per API -----------------------------------------------------------


def traffic_ops_status(http: requests.Session, base_url: str, job_id: int) -> Callable[[], Status]:
    """Traffic Ops `GET /api/4.0/async_status/{id}` (an http session already logged in)."""

    def poll() -> Status:
        response = http.get(f"{base_url}/api/4.0/async_status/{job_id}", timeout=10)
        response.raise_for_status()
        body = response.json()["response"]
        state: State = {"SUCCEEDED": "succeeded", "FAILED": "failed"}.get(body["status"], "pending")  # type: ignore[assignment]
        return Status(state, body.get("message", ""))

    return poll


def spectrum_discover_status(http: requests.Session, base_url: str, task_id: str) -> Callable[[], Status]:
    """Spectrum Discover `task_status/<id>/peek` (an http session carrying a Bearer token)."""
    phrases: dict[str, State] = {"work complete": "succeeded", "work failed": "failed"}

    def poll() -> Status:
        response = http.get(f"{base_url}/db2whrest/v1/task_status/{task_id}/peek", timeout=10)
        response.raise_for_status()
        text = response.json()["status"]
        return Status(phrases.get(text, "pending"), text)

    return poll


def ops_center_status(http: requests.Session, base_url: str, dataset: str, request_id: str) -> Callable[[], Status]:
    """Ops Center Analyzer `dbapi.do?action=getStatus`: 206 while running, 200 when done."""

    def poll() -> Status:
        response = http.get(
            f"{base_url}/dbapi.do",
            params={"action": "getStatus", "dataset": dataset, "requestId": request_id},
            timeout=10,
        )
        body = response.json()
        if response.status_code == 206:
            return Status("pending", f"{body['status']['processed']}/{body['status']['total']} processed")
        if response.status_code == 200:
            return Status("succeeded", f"{len(body['result'])} resources")
        return Status("failed", f"{body.get('code')}: {body.get('error')}")

    return poll


def dataarts_status(http: requests.Session, base_url: str, project_id: str, task_id: str) -> Callable[[], Status]:
    """DataArts Factory `GET /v1/{project_id}/system-tasks/{task_id}` (X-Auth-Token set)."""

    def poll() -> Status:
        response = http.get(f"{base_url}/v1/{project_id}/system-tasks/{task_id}", timeout=10)
        response.raise_for_status()
        body = response.json()
        state: State = {"SUCCESSFUL": "succeeded", "FAILED": "failed"}.get(body["status"], "pending")  # type: ignore[assignment]
        return Status(state, body.get("message", ""))

    return poll

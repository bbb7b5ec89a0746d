"""Ops Center Analyzer polled as a client of its detail view API does it: `requests` with
HTTP Basic credentials on every call, an MQL query (POST dbapi.do?action=query), then
getStatus until 200, across clock jumps from a minute to a month. Basic credentials have no
lifetime, so neither a jump nor `expire_credentials` changes anything for the client."""

from __future__ import annotations

from typing import Any

import requests
from requests.auth import HTTPBasicAuth

from emulator.testing import TaskEmulator

API = "ops_center"


def client(emulator: TaskEmulator) -> tuple[requests.Session, str]:
    """A session with the API's Basic credentials, and the dataset to query."""
    creds = emulator.credentials(API)
    session = requests.Session()
    session.auth = HTTPBasicAuth(creds["username"], creds["password"])
    return session, creds["dataset"]


def run_query(emulator: TaskEmulator, session: requests.Session, dataset: str) -> str:
    """The request id of a new query, answered 206 after the default wait (10 s)."""
    body = {"query": "vm[~memory]", "startTime": "20260101_000000", "endTime": "20260101_010000"}
    params = {"action": "query", "dataset": dataset}
    answer = session.post(f"{emulator.url}/dbapi.do", params=params, json=body, timeout=10)
    assert answer.status_code == 206, answer.text
    request_id: str = answer.json()["requestId"]
    return request_id


def get_status(
    emulator: TaskEmulator, session: requests.Session, dataset: str, request_id: str
) -> Any:
    """One getStatus; its status code and body agree with the phase the scenario has the
    query in (read without counting as a poll)."""
    phase = emulator.phase(request_id, API)
    answer = session.get(
        f"{emulator.url}/dbapi.do",
        params={"action": "getStatus", "dataset": dataset, "requestId": request_id},
        timeout=10,
    )
    assert answer.headers["Content-Type"] == "application/json;charset=utf-8"
    body = answer.json()
    if phase == "succeeded":
        assert answer.status_code == 200, answer.text
        assert body["status"]["completed"] is True
        assert body["status"]["processed"] == body["status"]["total"]
        assert len(body["result"]) == body["status"]["matched"] > 0
    else:
        assert answer.status_code == 206, answer.text
        assert body["status"]["completed"] is False
    assert "requestId" not in body
    return body


def test_a_client_polls_across_a_clock_jump(emulator: TaskEmulator, jump: int) -> None:
    session, dataset = client(emulator)
    request_id = run_query(emulator, session, dataset)
    first = get_status(emulator, session, dataset, request_id)
    assert first["status"]["processed"] < first["status"]["total"]
    for _ in range(2):
        emulator.advance(jump)
        get_status(emulator, session, dataset, request_id)
    assert emulator.phase(request_id, API) == "succeeded"


def test_expiring_credentials_changes_nothing_for_basic_auth(emulator: TaskEmulator) -> None:
    session, dataset = client(emulator)
    request_id = run_query(emulator, session, dataset)
    assert emulator.expire_credentials(API) == [API]
    get_status(emulator, session, dataset, request_id)
    emulator.advance(3600)
    assert get_status(emulator, session, dataset, request_id)["status"]["completed"] is True
    # The doc's own example header, fred:fred, works as before.
    doc = requests.get(
        f"{emulator.url}/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344",
        headers={"Authorization": "Basic ZnJlZDpmcmVk"},
        timeout=10,
    )
    assert doc.status_code == 200

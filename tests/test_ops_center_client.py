"""A client written the way an Ops Center Analyzer user writes one (`requests` with Basic
auth: run an MQL query, poll getStatus on 206 until 200) against a real server on a
virtual clock."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
import requests
from requests.auth import HTTPBasicAuth

from emulator.config import EmulatorConfig
from emulator.server import EmulatorServer

from .helpers import advance_over_http as advance

AUTH = HTTPBasicAuth("fred", "fred")


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(clock="virtual", seed=11)) as server:
        yield server




def run_query(server: EmulatorServer, wait: int) -> requests.Response:
    return requests.post(
        f"{server.url}/dbapi.do",
        params={"action": "query", "dataset": "defaultDs", "processSync": "false"},
        json={"query": "vm[~memory]"},
        headers={"x-waitTime": str(wait)},
        auth=AUTH,
        timeout=5,
    )


def poll(server: EmulatorServer, request_id: str, step: float) -> list[requests.Response]:
    """Poll until the query is done: every answer, the last one the 200."""
    answers = []
    for _ in range(100):
        response = requests.get(
            f"{server.url}/dbapi.do",
            params={"action": "getStatus", "dataset": "defaultDs", "requestId": request_id},
            auth=AUTH,
            timeout=5,
        )
        answers.append(response)
        if response.status_code != 206:
            return answers
        advance(server, step)
    raise AssertionError("the query never finished")


def test_a_polling_client_sees_counters_and_results_grow_until_200(server: EmulatorServer) -> None:
    accepted = run_query(server, wait=0)
    assert accepted.status_code == 206
    request_id = accepted.json()["requestId"]

    answers = poll(server, request_id, step=5)
    assert [r.status_code for r in answers[:-1]] == [206] * (len(answers) - 1)
    assert answers[-1].status_code == 200
    bodies: list[dict[str, Any]] = [r.json() for r in answers]
    statuses = [b["status"] for b in bodies]

    assert {s["total"] for s in statuses} == {20}
    for earlier, later in pairwise(bodies):
        assert later["status"]["processed"] >= earlier["status"]["processed"]
        assert later["status"]["matched"] >= earlier["status"]["matched"]
        # Each poll's result starts with everything the one before had.
        assert later["result"][: len(earlier["result"])] == earlier["result"]
    for body in bodies:
        status = body["status"]
        assert 0 <= status["matched"] <= status["processed"] <= status["total"]
        assert len(body["result"]) == status["matched"]
        assert status["hasErrors"] == "false" and status["aborted"] is False
    assert [s["completed"] for s in statuses] == [False] * (len(statuses) - 1) + [True]
    # The counters really moved: 0 → 25 % → 50 % → 80 % → all of it.
    assert sorted({s["processed"] for s in statuses}) == [0, 5, 10, 16, 20]
    assert statuses[-1]["matched"] == 8 and len(bodies[-1]["result"]) == 8


def test_a_client_waiting_long_enough_gets_the_result_in_one_call(server: EmulatorServer) -> None:
    response = run_query(server, wait=120)
    assert response.status_code == 200
    body = response.json()
    assert "requestId" not in body
    assert body["status"]["completed"] is True and len(body["result"]) == 8


def test_a_client_aborts_its_query(server: EmulatorServer) -> None:
    request_id = run_query(server, wait=0).json()["requestId"]
    advance(server, 30)
    aborted = requests.get(
        f"{server.url}/dbapi.do",
        params={"action": "abortRequest", "dataset": "defaultDs", "requestId": request_id},
        auth=AUTH,
        timeout=5,
    )
    assert aborted.status_code == 200 and aborted.json() == {"aborted": True, "id": request_id}
    (final,) = poll(server, request_id, step=5)
    assert final.status_code == 200
    assert final.json()["status"]["aborted"] is True and final.json()["status"]["completed"] is False


def test_the_doc_example_over_the_wire(server: EmulatorServer) -> None:
    response = requests.get(
        f"{server.url}/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344",
        headers={"Authorization": "Basic ZnJlZDpmcmVk"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    assert response.json()["status"] == {
        "total": 10, "matched": 1, "processed": 10, "completed": True, "aborted": False, "hasErrors": "false"
    }
    assert requests.get(f"{server.url}/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344", timeout=5).json() == {
        "code": "720000E9", "error": "Authorization needed."
    }

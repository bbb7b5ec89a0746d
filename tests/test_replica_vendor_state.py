"""What a vendor keeps about its tasks acts across replicas too: Traffic Ops runs one DNSSEC
refresh at a time whichever replica is asked, and an Ops Center request held (x-waitTime) on
one replica answers at once when its query is aborted through another."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .helpers import CLOCK_START, write
from .redis_server import RedisServer
from .serve_process import ADMIN_OPS_CENTER, ServeProcess

REFRESH = "/api/4.0/cdns/dnsseckeys/refresh"
BUSY = {"alerts": [{"text": "the server is already executing a DNSSEC refresh", "level": "success"}]}
# Ends by reads only: a request waiting on it is held until its wait ends, or an abort.
POLLED = """\
api: ops_center
name: polled
lifecycle:
  - {phase: running, polls: 3}
  - phase: succeeded
results: {total: 4, matched: 2}
"""
HELD_FOR = 60  # seconds a held request would wait without the abort


def replicas(redis: RedisServer, *args: str) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    redis.flush()
    a = b = None
    try:
        a = ServeProcess("--store", redis.url, "--log-level", "warning", *args).wait_healthy()
        b = ServeProcess("--store", redis.url, "--log-level", "warning", *args).wait_healthy()
        yield a, b
        assert a.stop() == 0 and b.stop() == 0
    finally:
        for replica in (a, b):
            if replica is not None:
                replica.close()


@pytest.fixture
def virtual_pair(redis_server: RedisServer) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    yield from replicas(redis_server, "--clock", "virtual", "--clock-start", str(CLOCK_START))


def test_one_dnssec_refresh_at_a_time_across_replicas(virtual_pair: tuple[ServeProcess, ServeProcess]) -> None:
    a, b = virtual_pair
    with requests.Session() as client:  # one login: good on both replicas
        assert client.post(f"{a.url}/api/4.0/user/login", json={"u": "admin", "p": "twelve12"},
                           timeout=10).status_code == 200
        started = client.put(a.url + REFRESH, timeout=10)
        assert started.status_code == 202
        location = started.headers["Location"]
        busy = client.put(b.url + REFRESH, timeout=10)
        assert busy.status_code == 202 and busy.json() == BUSY
        assert busy.headers["Location"] == "/api/4.0/async_status/0"

        assert b.post("/_emulator/clock/advance", json={"seconds": 20}).status_code == 200
        assert client.get(a.url + location, timeout=10).json()["response"]["status"] == "SUCCEEDED"
        next_one = client.put(b.url + REFRESH, timeout=10)  # the last one is over: a new one starts
        assert next_one.status_code == 202 and next_one.headers["Location"] not in (location, busy.headers["Location"])
        assert client.put(a.url + REFRESH, timeout=10).json() == BUSY

        assert a.post("/_emulator/reset").status_code == 200  # a reset forgets the running one
        assert client.post(f"{b.url}/api/4.0/user/login", json={"u": "admin", "p": "twelve12"},
                           timeout=10).status_code == 200
        after_reset = client.put(b.url + REFRESH, timeout=10)
        assert after_reset.status_code == 202 and after_reset.json() != BUSY


@pytest.fixture
def real_clock_pair(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    """Two replicas on a real clock (where requests are held), with the `polled` scenario."""
    yield from replicas(redis_server, "--scenarios", str(write(tmp_path, "polled.yaml", POLLED)))


def test_an_abort_through_one_replica_answers_a_request_held_on_the_other(
    real_clock_pair: tuple[ServeProcess, ServeProcess],
) -> None:
    a, b = real_clock_pair
    made = a.post("/_emulator/tasks", json={"api": "ops_center", "scenario": "polled"})
    assert made.status_code == 201, made.text
    task_id = made.json()["id"]
    query = f"/dbapi.do?dataset=defaultDs&requestId={task_id}"
    answers: list[tuple[requests.Response, float]] = []

    def held() -> None:
        began = time.monotonic()
        response = requests.get(f"{a.url}{query}&action=getStatus",
                                headers={**ADMIN_OPS_CENTER, "x-waitTime": str(HELD_FOR)}, timeout=HELD_FOR + 30)
        answers.append((response, time.monotonic() - began))

    holder = threading.Thread(target=held)
    holder.start()
    deadline = time.monotonic() + 10
    while a.get(f"/_emulator/tasks/ops_center/{task_id}").json()["reads"] < 1:  # counted: now held
        assert time.monotonic() < deadline, "the status request never arrived"
        time.sleep(0.02)
    abort = requests.get(f"{b.url}{query}&action=abortRequest", headers=ADMIN_OPS_CENTER, timeout=10)
    assert abort.status_code == 200 and abort.json()["aborted"] is True
    holder.join(HELD_FOR + 40)
    ((response, took),) = answers
    assert response.status_code == 200 and response.json()["status"]["aborted"] is True
    assert took < HELD_FOR / 2  # woken by the abort, not by the end of its wait

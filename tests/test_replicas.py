"""Replicas on one Redis act as one server: separate `serve` processes (and `serve
--workers 2`) share tasks, status-read counts, the clock and resets; concurrent polls
through both are each counted once; a Redis lost mid-run is a 503, not a crash, and the
replicas go on when it is back."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from .helpers import CLOCK_START
from .redis_server import RedisServer, free_port

ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}


class Replica:
    def __init__(self, store: str, *extra: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulator",
                "serve",
                "--port",
                str(self.port),
                "--store",
                store,
                "--clock",
                "virtual",
                "--clock-start",
                str(CLOCK_START),
                "--seed",
                "7",
                "--loop",
                "asyncio",
                "--log-level",
                "warning",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/_emulator/health", timeout=1).status_code in (
                    200,
                    503,
                ):
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the replica did not start")

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.base + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return requests.post(self.base + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=20)
        assert self.process.stderr is not None
        errors = self.process.stderr.read().decode()
        assert "Traceback" not in errors, errors
        return code


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pair(redis: RedisServer) -> Iterator[tuple[Replica, Replica]]:
    a = Replica(redis.url)
    b = Replica(redis.url)
    yield a, b
    assert a.stop() == 0 and b.stop() == 0


def status(replica: Replica, task_id: str) -> requests.Response:
    """A status poll: 206 while the query runs, 200 when it is over."""
    return replica.get(
        f"/dbapi.do?action=getStatus&dataset=defaultDs&requestId={task_id}", headers=ADMIN
    )


def make_task(replica: Replica) -> str:
    response = replica.post(
        "/_emulator/tasks", json={"api": "ops_center", "scenario": "vm-metrics"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_two_replicas_share_tasks_reads_clock_and_reset(pair: tuple[Replica, Replica]) -> None:
    a, b = pair
    task_id = make_task(a)
    assert status(b, task_id).status_code == 206  # made on a, polled on b
    assert status(a, task_id).status_code == 206
    assert b.get(f"/_emulator/tasks/ops_center/{task_id}").json()["reads"] == 2
    a.post("/_emulator/clock/advance", json={"seconds": 30})
    assert b.get("/_emulator/clock").json()["now"] == CLOCK_START + 30
    assert b.get(f"/_emulator/tasks/ops_center/{task_id}").json()["phase"] == "running"
    second = make_task(b)
    assert second != task_id  # ids never repeat across replicas
    assert b.post("/_emulator/reset").status_code == 200
    assert a.get(f"/_emulator/tasks/ops_center/{task_id}").status_code == 404
    assert status(a, task_id).status_code == 404  # a replica that knew it looks again
    assert a.get("/_emulator/clock").json()["now"] == CLOCK_START


def test_concurrent_polls_through_both_replicas_are_each_counted_once(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    task_id = make_task(a)
    polls = 200
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(lambda i: status(a if i % 2 else b, task_id).status_code, range(polls))
        )
    assert codes == [206] * polls
    assert a.get(f"/_emulator/tasks/ops_center/{task_id}").json()["reads"] == polls


def test_a_lost_redis_is_a_503_and_the_replicas_go_on_when_it_is_back(
    redis: RedisServer, pair: tuple[Replica, Replica]
) -> None:
    a, _ = pair
    task_id = make_task(a)
    redis.stop()
    health = a.get("/_emulator/health")
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    lost = status(a, task_id)
    assert lost.status_code == 503
    assert lost.json()["code"]  # Ops Center's own error body, not a traceback
    redis.start()  # same port, empty: the tasks went with it
    assert a.get("/_emulator/health").json()["status"] == "ok"
    again = make_task(a)
    assert status(a, again).status_code == 206


def test_serve_workers_shares_one_port(redis: RedisServer) -> None:
    replica = Replica(redis.url, "--workers", "2")
    try:
        task_id = make_task(replica)
        for _ in range(20):  # new connections: the kernel spreads them over the workers
            assert status(replica, task_id).status_code == 206
        assert replica.get(f"/_emulator/tasks/ops_center/{task_id}").json()["reads"] == 20
    finally:
        assert replica.stop() == 0


def test_workers_without_a_shared_store_are_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--workers", "2"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "TASK_EMULATOR_STORE": "memory"},
    )
    assert result.returncode != 0
    assert "--store redis://host:port/db" in result.stderr

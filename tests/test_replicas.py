"""Two `serve` processes on one Redis act as one server: a task made on one is polled on the
other, a `polls: 3` step ends after three reads whichever replica answered them, the clock
and a reset are shared, concurrent polls through both are each counted once; a Redis lost
mid-run is the vendor's 503 and health's 503, not a traceback, and when Redis is back on
its port the replicas go on without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from .helpers import CLOCK_START, write
from .redis_server import RedisServer
from .serve_process import ServeProcess, make_ops_center_task, ops_center_status

THREE_POLLS = """\
api: ops_center
name: three-polls
lifecycle:
  - phase: running
    polls: 3
    processed: 50%
  - phase: succeeded
results:
  total: 20
  matched: 8
"""


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own: one test stops and restarts it."""
    server = RedisServer(tmp_path / "redis")
    server.folder.mkdir()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pair(redis: RedisServer, tmp_path: Path) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    scenario = write(tmp_path, "three-polls.yaml", THREE_POLLS)
    args = ("--store", redis.url, "--clock", "virtual", "--clock-start", str(CLOCK_START), "--seed", "7",
            "--scenarios", str(scenario), "--log-level", "warning")
    a, b = ServeProcess(*args), ServeProcess(*args)
    try:
        a.wait_healthy()
        b.wait_healthy()
        yield a, b
        assert a.stop() == 0 and b.stop() == 0
    finally:
        a.close()
        b.close()


def test_a_task_made_on_one_replica_is_polled_on_the_other_and_its_reads_count_once(
    pair: tuple[ServeProcess, ServeProcess],
) -> None:
    a, b = pair
    assert a.get("/_emulator/health").json()["pid"] != b.get("/_emulator/health").json()["pid"]
    task_id = make_ops_center_task(a, "three-polls")
    # Three reads, spread over both, are the step's three polls.
    assert [ops_center_status(r.url, task_id).status_code for r in (b, a, b)] == [206, 206, 206]
    seen = b.get(f"/_emulator/tasks/ops_center/{task_id}").json()
    assert (seen["reads"], seen["phase"]) == (3, "succeeded")
    done = ops_center_status(a.url, task_id)
    assert done.status_code == 200, done.text
    assert a.get(f"/_emulator/tasks/ops_center/{task_id}").json()["reads"] == 4


@pytest.mark.parametrize("faults", [False, True], ids=["plain", "with-a-fault-rule"])
def test_the_clock_and_a_reset_are_shared(pair: tuple[ServeProcess, ServeProcess], faults: bool) -> None:
    a, b = pair
    if faults:  # b's vendor routes then answer through the fault path
        rule = {"kind": "error", "status": 500, "api": "traffic_ops"}
        assert b.post("/_emulator/faults", json=rule).status_code == 201
    task_id = make_ops_center_task(a)  # vm-metrics: scheduled for 2 s, then running
    assert b.get(f"/_emulator/tasks/ops_center/{task_id}").json()["phase"] == "scheduled"
    assert a.post("/_emulator/clock/advance", json={"seconds": 30}).status_code == 200
    assert b.get("/_emulator/clock").json()["now"] == CLOCK_START + 30
    assert b.get(f"/_emulator/tasks/ops_center/{task_id}").json()["phase"] == "running"
    other = make_ops_center_task(b)
    assert other != task_id  # ids drawn on either replica never repeat

    assert a.post("/_emulator/reset").status_code == 200
    assert b.get("/_emulator/clock").json()["now"] == CLOCK_START
    assert b.get(f"/_emulator/tasks/ops_center/{task_id}").status_code == 404
    # b had seen it: it finds it gone when it reads it, and answers as for an unknown id.
    gone = ops_center_status(b.url, other)
    assert gone.status_code == 404 and gone.json()["code"] == "720600E6", gone.text


def test_concurrent_polls_through_both_replicas_are_each_counted_once(
    pair: tuple[ServeProcess, ServeProcess],
) -> None:
    a, b = pair
    task_id = make_ops_center_task(a)  # the clock stands still: it stays scheduled, 206
    polls = 200

    def poll(i: int) -> int:
        return ops_center_status((a, b)[i % 2].url, task_id).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(poll, range(polls)))
    assert codes == [206] * polls
    for replica in (a, b):
        assert replica.get(f"/_emulator/tasks/ops_center/{task_id}").json()["reads"] == polls


def test_a_lost_redis_is_a_503_and_the_replicas_go_on_when_it_is_back(
    redis: RedisServer, pair: tuple[ServeProcess, ServeProcess],
) -> None:
    a, b = pair
    task_id = make_ops_center_task(a)
    assert ops_center_status(b.url, task_id).status_code == 206
    login = requests.post(f"{a.url}/api/4.0/user/login", json={"u": "admin", "p": "twelve12"}, timeout=10)
    assert login.status_code == 200

    assert redis.process is not None
    redis.process.kill()  # SIGKILL: no goodbye to its clients
    redis.process.wait(timeout=10)
    redis.process = None
    for replica in (a, b):
        lost = ops_center_status(replica.url, task_id)
        assert lost.status_code == 503, lost.text
        assert lost.headers["Retry-After"] == "1"
        # Ops Center's own error body, as when its database is down: not a traceback.
        assert lost.json() == {"code": "720600E2", "error": "Application encountered an internal error."}
        health = replica.get("/_emulator/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable" and health.json()["error"]
        refused = replica.post("/_emulator/tasks", json={"api": "ops_center", "scenario": "vm-metrics"})
        assert refused.status_code == 503 and "error" in refused.json()

    redis.start()  # on the same port, and empty: the tasks went with it
    for replica in (a, b):
        health = replica.get("/_emulator/health")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    # Its sequences start again with Redis (with --seed, the first id is the same again).
    again = make_ops_center_task(b)
    assert ops_center_status(a.url, again).status_code == 206
    assert ops_center_status(b.url, again).status_code == 206
    assert a.get(f"/_emulator/tasks/ops_center/{again}").json()["reads"] == 2
    # The replicas kept their keys, and gave them back to the empty Redis: the login holds.
    for replica in (b, a):
        polled = requests.get(f"{replica.url}/api/4.0/async_status/1", cookies=login.cookies, timeout=10)
        assert polled.status_code == 200, polled.text
    late = ServeProcess("--store", redis.url, "--log-level", "warning").wait_healthy()
    try:
        polled = requests.get(f"{late.url}/api/4.0/async_status/1", cookies=login.cookies, timeout=10)
        assert polled.status_code == 200, polled.text
        assert late.stop() == 0
    finally:
        late.close()


def test_replicas_with_their_own_sessions_still_share_one_poll_count(
    pair: tuple[ServeProcess, ServeProcess],
) -> None:
    """Keep-alive connections (a client's usual session) to each replica: the same count."""
    a, b = pair
    task_id = make_ops_center_task(b, "three-polls")
    with requests.Session() as to_a, requests.Session() as to_b:
        codes = [ops_center_status(a.url, task_id, to_a).status_code,
                 ops_center_status(b.url, task_id, to_b).status_code,
                 ops_center_status(a.url, task_id, to_a).status_code,
                 ops_center_status(b.url, task_id, to_b).status_code]
    assert codes == [206, 206, 206, 200]


def test_a_fault_added_on_one_replica_hits_exactly_times_requests_across_both(
    pair: tuple[ServeProcess, ServeProcess],
) -> None:
    a, b = pair
    task_id = make_ops_center_task(a)
    rule = {"kind": "error", "status": 503, "api": "ops_center", "method": "GET", "times": 3}
    added = a.post("/_emulator/faults", json=rule)
    assert added.status_code == 201, added.text
    fault_id = added.json()["id"]
    # Both replicas know the rule as soon as the call returned, under one id.
    for replica in (a, b):
        assert [f["id"] for f in replica.get("/_emulator/faults").json()["faults"]] == [fault_id]

    def poll(i: int) -> int:
        return ops_center_status((a, b)[i % 2].url, task_id).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(poll, range(40)))
    assert codes.count(503) == 3 and codes.count(206) == 37, codes
    for replica in (a, b):
        (listed,) = replica.get("/_emulator/faults").json()["faults"]
        assert (listed["applied"], listed["remaining"]) == (3, 0)
    # Only the 37 answered reads counted: a fault answering in the vendor's place is no read.
    assert a.get(f"/_emulator/tasks/ops_center/{task_id}").json()["reads"] == 37

    # Removed on b: gone on a too; a reset on a brings neither back.
    assert b.delete(f"/_emulator/faults/{fault_id}").status_code == 200
    assert a.get("/_emulator/faults").json()["faults"] == []
    assert ops_center_status(a.url, task_id).status_code == 206
    again = b.post("/_emulator/faults", json={**rule, "times": 1}).json()["id"]
    assert again != fault_id  # ids never repeat across replicas
    assert a.post("/_emulator/reset").status_code == 200
    assert b.get("/_emulator/faults").json()["faults"] == []


def test_credentials_expired_through_one_replica_are_expired_on_the_other(
    pair: tuple[ServeProcess, ServeProcess],
) -> None:
    a, b = pair
    login = {"u": "admin", "p": "twelve12"}
    with requests.Session() as on_b:
        assert on_b.post(f"{b.url}/api/4.0/user/login", json=login, timeout=10).status_code == 200
        assert on_b.get(f"{b.url}/api/4.0/async_status/1", timeout=10).status_code == 200
        assert a.post("/_emulator/credentials/expire", json={"api": "traffic_ops"}).json() == {"expired": ["traffic_ops"]}
        assert on_b.get(f"{b.url}/api/4.0/async_status/1", timeout=10).status_code == 401


def test_the_journal_shows_every_replicas_requests_and_a_clear_reaches_both(
    pair: tuple[ServeProcess, ServeProcess],
) -> None:
    a, b = pair
    task_id = make_ops_center_task(a)
    assert a.post("/_emulator/clock/advance", json={"seconds": 3600}).status_code == 200
    for replica in (a, b, b, a):
        assert ops_center_status(replica.url, task_id).status_code in (200, 206)
    for replica in (a, b):
        entries = replica.get("/_emulator/requests", params={"task": task_id}).json()["requests"]
        assert len(entries) == 4, entries
        assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
        # The shared clock's time, not each process's own: an hour on from the start.
        assert all(e["time"] == CLOCK_START + 3600 for e in entries)
        # Built and redacted before it left the replica that answered.
        assert all(e["headers"]["Authorization"] == "[redacted]" for e in entries)
    newest = a.get("/_emulator/requests", params={"task": task_id, "limit": 1}).json()["requests"]
    assert len(newest) == 1 and newest[0]["seq"] == entries[-1]["seq"]
    assert b.delete("/_emulator/requests").status_code == 200
    assert a.get("/_emulator/requests").json()["requests"] == []
    assert ops_center_status(b.url, task_id).status_code in (200, 206)
    after = a.get("/_emulator/requests").json()["requests"]
    assert len(after) == 1 and after[0]["seq"] > entries[-1]["seq"]

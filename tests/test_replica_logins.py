"""Logins are good on every replica: three `serve` processes on one Redis behind a round-robin
balancer without sticky sessions, each request on a connection of its own (so each goes to
the next replica), and the vendors' real clients logging in once and polling through it
across clock jumps of hours and days. Expiring credentials and a reset reach every replica,
and a replica started later knows what the others did before it came."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests
from requests.auth import HTTPBasicAuth
from trafficops import TOSession
from trafficops.restapi import OperationError

from .balancer import RoundRobinProxy, behind_a_balancer
from .helpers import CLOCK_START
from .redis_server import RedisServer
from .serve_process import ServeProcess

ONE_REQUEST_PER_CONNECTION = {"Connection": "close"}
REPLICAS = 3
JUMPS = (2 * 3600, 86400, 7 * 86400)  # past a Traffic Ops cookie's 6 hours, an IAM token's day
TO_EXPIRED = {"alerts": [{"text": "signature expired - unauthorized, please log in", "level": "error"}]}
TO_FORGOTTEN = {"alerts": [{"text": "bad signature - unauthorized, please log in", "level": "error"}]}
PROJECT = "b384b9e9ab9b4ee8994c8633aabc9505"  # DataArts' built-in project
IAM_BODY = {
    "auth": {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": "emulator", "password": "emulator-password", "domain": {"name": "emulator"}}},
        },
        "scope": {"project": {"id": PROJECT}},
    }
}


def serve(redis: RedisServer) -> ServeProcess:
    return ServeProcess("--store", redis.url, "--clock", "virtual", "--clock-start", str(CLOCK_START),
                        "--log-level", "warning")


@pytest.fixture
def balanced(redis_server: RedisServer) -> Iterator[tuple[RoundRobinProxy, list[ServeProcess]]]:
    redis_server.flush()
    with behind_a_balancer([lambda: serve(redis_server)] * REPLICAS) as topology:
        yield topology


def every_replica_answered(proxy: RoundRobinProxy, replicas: list[ServeProcess]) -> bool:
    return all(proxy.sent_to[replica.port] >= 2 for replica in replicas)


def test_a_traffic_ops_login_is_good_on_every_replica_across_days(
    balanced: tuple[RoundRobinProxy, list[ServeProcess]],
) -> None:
    proxy, replicas = balanced
    session = TOSession("127.0.0.1", host_port=proxy.port, api_version="4.0", ssl=False,
                        headers=ONE_REQUEST_PER_CONNECTION)
    session.login("admin", "twelve12")
    _, response = session.post("acme_autorenew")
    assert response.status_code == 202
    job = int(response.headers["Location"].rsplit("/", 1)[1])
    for jump in JUMPS:
        assert replicas[0].post("/_emulator/clock/advance", json={"seconds": jump}).status_code == 200
        for _ in range(REPLICAS):  # the cookie each answer set, on the next replica
            status, response = session.get("async_status/{id:d}", id=job)
            assert status.status == "SUCCEEDED" and "Max-Age=3600" in response.headers["Set-Cookie"]
    assert every_replica_answered(proxy, replicas), proxy.sent_to

    assert replicas[1].post("/_emulator/credentials/expire", json={"api": "traffic_ops"}).status_code == 200
    for _ in range(REPLICAS):
        with pytest.raises(OperationError) as caught:
            session.get("async_status/{id:d}", id=job)
        assert caught.value.resp.status_code == 401 and caught.value.resp.json() == TO_EXPIRED
    session.login("admin", "twelve12")  # the client's way back, on one replica: good on all
    for _ in range(REPLICAS):
        assert session.get("async_status/{id:d}", id=job)[0].status == "SUCCEEDED"


def test_a_spectrum_discover_token_is_good_on_every_replica_until_expired_or_reset(
    balanced: tuple[RoundRobinProxy, list[ServeProcess]],
) -> None:
    proxy, replicas = balanced
    with requests.Session() as script:
        script.headers.update(ONE_REQUEST_PER_CONNECTION)
        answer = script.get(f"{proxy.url}/auth/v1/token", auth=HTTPBasicAuth("sdadmin", "Passw0rd"), timeout=10)
        assert answer.status_code == 200, answer.text
        script.headers["Authorization"] = f"Bearer {answer.headers['X-Auth-Token']}"
        sql = quote("select * from metaocean where owner='root'")
        created = script.get(f"{proxy.url}/db2whrest/v1/sql_query_async?{sql}", timeout=10)
        assert created.status_code == 202, created.text
        location = created.headers["Location"]
        for jump in JUMPS:  # a token lives an hour on the wall clock: jumps never age it
            assert replicas[2].post("/_emulator/clock/advance", json={"seconds": jump}).status_code == 200
            for _ in range(REPLICAS):
                peek = script.get(location + "/peek", timeout=10)
                assert peek.status_code == 200 and peek.json() == {"status": "work complete"}, peek.text
        assert every_replica_answered(proxy, replicas), proxy.sent_to

        assert replicas[0].post("/_emulator/credentials/expire", json={"api": "spectrum_discover"}).status_code == 200
        for _ in range(REPLICAS):
            refused = script.get(location + "/peek", timeout=10)
            assert refused.status_code == 401
            assert refused.json() == {"reason": "Token has expired", "status": "error"}
        assert replicas[1].post("/_emulator/reset").status_code == 200
        for _ in range(REPLICAS):
            refused = script.get(location + "/peek", timeout=10)
            assert refused.status_code == 401 and refused.json()["reason"] == "Invalid token"


def test_an_iam_token_is_good_on_every_replica_and_expires_on_all(
    balanced: tuple[RoundRobinProxy, list[ServeProcess]],
) -> None:
    proxy, replicas = balanced
    with requests.Session() as client:
        client.headers.update(ONE_REQUEST_PER_CONNECTION)
        issued = client.post(f"{proxy.url}/v3/auth/tokens", json=IAM_BODY, timeout=10)
        assert issued.status_code == 201, issued.text
        client.headers["X-Auth-Token"] = issued.headers["X-Subject-Token"]
        started = client.post(f"{proxy.url}/v1/{PROJECT}/jobs/import", json={"path": "obs://b/nightly.zip"}, timeout=10)
        assert started.status_code == 200, started.text
        status_url = f"{proxy.url}/v1/{PROJECT}/system-tasks/{started.json()['taskId']}"
        assert replicas[1].post("/_emulator/clock/advance", json={"seconds": 3600}).status_code == 200
        for _ in range(2 * REPLICAS):
            polled = client.get(status_url, timeout=10)
            assert polled.status_code == 200 and polled.json()["status"] == "SUCCESSFUL", polled.text
        assert every_replica_answered(proxy, replicas), proxy.sent_to

        assert replicas[2].post("/_emulator/credentials/expire", json={"api": "dataarts"}).status_code == 200
        for _ in range(REPLICAS):
            refused = client.get(status_url, timeout=10)
            assert refused.status_code == 401 and "token expires" in refused.json()["error_msg"], refused.text


def test_a_replica_started_later_knows_the_expiries_and_faults_made_before_it(
    redis_server: RedisServer,
) -> None:
    redis_server.flush()
    first = serve(redis_server).wait_healthy()
    late: ServeProcess | None = None
    try:
        with requests.Session() as client:
            login = client.post(f"{first.url}/api/4.0/user/login", json={"u": "admin", "p": "twelve12"}, timeout=10)
            assert login.status_code == 200
            old_cookies = client.cookies.copy()
            assert first.post("/_emulator/credentials/expire", json={"api": "traffic_ops"}).status_code == 200
            assert client.post(f"{first.url}/api/4.0/user/login", json={"u": "admin", "p": "twelve12"},
                               timeout=10).status_code == 200
            rule = {"kind": "error", "status": 503, "api": "ops_center", "times": 1}
            assert first.post("/_emulator/faults", json=rule).status_code == 201

            late = serve(redis_server).wait_healthy()
            fresh = client.get(f"{late.url}/api/4.0/async_status/1", timeout=10)
            assert fresh.status_code == 200, fresh.text
            expired = requests.get(f"{late.url}/api/4.0/async_status/1", cookies=old_cookies, timeout=10)
            assert expired.status_code == 401 and expired.json() == TO_EXPIRED, expired.text
            assert [f["kind"] for f in late.get("/_emulator/faults").json()["faults"]] == ["error"]
            assert late.post("/_emulator/reset").status_code == 200
            forgotten = client.get(f"{first.url}/api/4.0/async_status/1", timeout=10)
            assert forgotten.status_code == 401 and forgotten.json() == TO_FORGOTTEN, forgotten.text
        assert first.stop() == 0 and late.stop() == 0
    finally:
        first.close()
        if late is not None:
            late.close()

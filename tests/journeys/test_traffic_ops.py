"""Traffic Ops through its own Python client, `trafficops.TOSession`: log in once, start an
ACME renewal, and follow it across clock jumps of a minute to a month on the session the
login gave; then the expiry path, where the client meets the server's expired answer and
logs in again."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from trafficops import TOSession
from trafficops.restapi import OperationError

from emulator.testing import TaskEmulator

# What the acme-autorenew scenario scripts, by seconds since the renewal started: the
# status and message from that moment on.
ACME_AUTORENEW = [
    (0, "PENDING", "ACME async job has started."),
    (5, "PENDING", "ACME renewal in progress. 1 certs renewed, 0 errors."),
    (35, "PENDING", "ACME renewal in progress. 2 certs renewed, 0 errors."),
    (60, "SUCCEEDED", "ACME renewal complete. 2 certs renewed, 0 errors."),
]
FIRST_LOOK = 10  # seconds after the start: mid-renewal, before any jump


def scripted(seconds: float) -> tuple[str, str]:
    """(status, message) the scenario gives `seconds` after the renewal started."""
    return next(
        (status, message) for start, status, message in reversed(ACME_AUTORENEW) if seconds >= start
    )


def logged_in(emulator: TaskEmulator) -> TOSession:
    """A TOSession pointed at the emulator, as a client configures one for a real server."""
    session = TOSession(
        "127.0.0.1", host_port=urlsplit(emulator.url).port, api_version="4.0", ssl=False
    )
    credentials = emulator.credentials("traffic_ops")
    session.login(credentials["username"], credentials["password"])
    return session


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_renewal_followed_across_a_clock_jump_on_one_login(
    emulator: TaskEmulator, jump: int
) -> None:
    session = logged_in(emulator)
    alerts, response = session.post("acme_autorenew")
    assert response.status_code == 202
    assert alerts.alerts[0].text.startswith("Beginning async call to renew certificates.")
    job = int(response.headers["Location"].rsplit("/", 1)[1])

    emulator.advance(FIRST_LOOK)
    status, _ = session.get("async_status/{id:d}", id=job)
    assert (status.status, status.message) == scripted(FIRST_LOOK)
    assert "end_time" not in status

    emulator.advance(jump)  # time in which a real client kept polling: its session holds
    status, response = session.get("async_status/{id:d}", id=job)
    assert (status.status, status.message) == scripted(FIRST_LOOK + jump)
    assert when(status.end_time) - when(status.start_time) == timedelta(seconds=60)
    # The client asked for gzip (requests does) and read through it; the call refreshed the session.
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Max-Age=3600" in response.headers["Set-Cookie"]

    emulator.advance(jump)
    again, _ = session.get("async_status/{id:d}", id=job)
    assert again == status


def test_expired_credentials_get_the_servers_answer_and_a_new_login_works(
    emulator: TaskEmulator,
) -> None:
    session = logged_in(emulator)
    task = emulator.create_task("traffic_ops", "acme-autorenew")
    status, _ = session.get("async_status/{id:d}", id=int(task.id))
    assert status.status == "PENDING"

    assert emulator.expire_credentials("traffic_ops") == ["traffic_ops"]
    with pytest.raises(OperationError) as caught:
        session.get("async_status/{id:d}", id=int(task.id))
    assert caught.value.resp.status_code == 401
    assert caught.value.resp.json() == {
        "alerts": [{"text": "signature expired - unauthorized, please log in", "level": "error"}]
    }

    credentials = emulator.credentials("traffic_ops")
    session.login(credentials["username"], credentials["password"])
    emulator.advance(60)
    status, _ = session.get("async_status/{id:d}", id=int(task.id))
    assert (status.status, status.message) == scripted(60)

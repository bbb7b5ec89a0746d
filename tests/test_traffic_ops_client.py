"""The real Traffic Ops Python client (`apache-trafficcontrol`) against the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from trafficops import TOSession
from trafficops.restapi import OperationError

from emulator.config import EmulatorConfig
from emulator.server import EmulatorServer

from .helpers import advance_over_http as advance


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(clock="virtual", seed=3)) as server:
        yield server




def test_login_trigger_poll_and_unknown_id(server: EmulatorServer) -> None:
    session = TOSession("127.0.0.1", host_port=server.port, api_version="4.0", ssl=False)
    session.login("admin", "twelve12")

    alerts, response = session.post("acme_autorenew")
    assert response.status_code == 202
    assert alerts.alerts[0].text.startswith("Beginning async call to renew certificates.")
    job = int(response.headers["Location"].rsplit("/", 1)[1])

    status, _ = session.get("async_status/{id:d}", id=job)
    assert status.status == "PENDING"
    assert status.message == "ACME async job has started."
    assert "end_time" not in status

    advance(server, 120)
    status, _ = session.get("async_status/{id:d}", id=job)
    assert status.status == "SUCCEEDED"
    assert status.message == "ACME renewal complete. 2 certs renewed, 0 errors."
    assert status.end_time

    with pytest.raises(OperationError) as caught:
        session.get("async_status/{id:d}", id=987654)
    assert caught.value.resp.status_code == 404
    assert caught.value.resp.json() == {"alerts": [{"text": "Not Found", "level": "error"}]}


def test_a_wrong_password_fails_the_client_login(server: EmulatorServer) -> None:
    session = TOSession("127.0.0.1", host_port=server.port, api_version="4.0", ssl=False)
    with pytest.raises(OperationError, match="Logging in to Traffic Ops has failed"):
        session.login("admin", "wrong")


def test_a_read_only_user_is_refused_a_status(server: EmulatorServer) -> None:
    session = TOSession("127.0.0.1", host_port=server.port, api_version="5.0", ssl=False)
    session.login("readonly", "twelve12")
    with pytest.raises(OperationError) as caught:
        session.get("async_status/{id:d}", id=1)
    assert caught.value.resp.status_code == 403

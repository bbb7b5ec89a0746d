"""Spectrum Discover polled as IBM's scripts poll it: `requests`, one token from HTTP Basic
on GET /auth/v1/token, a query on sql_query_async, then task_status (redirects not followed:
its 303 is the "still working" answer) and peek, across clock jumps from a minute to a
month. The token is fetched once: a jump is time the script spent polling, not time its
token aged. Expiry is tested where it is made on purpose: `expire_credentials`."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import requests
from requests.auth import HTTPBasicAuth

from emulator.testing import TaskEmulator

API = "spectrum_discover"
PEEK = {"scheduled": "work scheduled", "running": "work in progress", "succeeded": "work complete"}
EXPIRED = {"reason": "Token has expired", "status": "error"}


def login(emulator: TaskEmulator) -> requests.Session:
    """A session carrying a fresh token, as a script sets it up once at its start."""
    creds = emulator.credentials(API)
    basic = HTTPBasicAuth(creds["username"], creds["password"])
    answer = requests.get(f"{emulator.url}/auth/v1/token", auth=basic, timeout=10)
    assert answer.status_code == 200, answer.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {answer.headers['X-Auth-Token']}"
    return session


def start_query(emulator: TaskEmulator, session: requests.Session) -> str:
    """The status URL of a new `select * from metaocean`."""
    sql = quote("select * from metaocean where owner='root'")
    created = session.get(f"{emulator.url}/db2whrest/v1/sql_query_async?{sql}", timeout=10)
    assert created.status_code == 202 and created.json() == {"status": "work scheduled"}
    location: str = created.headers["Location"]
    return location


def poll(emulator: TaskEmulator, session: requests.Session, location: str) -> None:
    """One round of a script's loop: peek, then task_status; both must agree with the phase
    the scenario has the task in (read without counting as a poll) at that moment."""
    task_id = location.rsplit("/", 1)[1]
    phase = emulator.phase(task_id, API)
    peek = session.get(location + "/peek", timeout=10)
    assert peek.status_code == 200, peek.text
    assert peek.json() == {"status": PEEK[phase]}
    phase = emulator.phase(task_id, API)  # the peek was a read: it may have moved the task on
    status = session.get(location, allow_redirects=False, timeout=10)
    if phase == "succeeded":
        assert status.status_code == 200, status.text
        assert status.headers["Location"] == location
        rows = list(csv.reader(io.StringIO(status.content.decode("utf-8"))))
        assert rows and [row[0] for row in rows] == [str(n) for n in range(len(rows))]
    else:
        assert status.status_code == 303, status.text
        assert status.json() == {"status": PEEK[phase]}


def test_a_script_polls_across_a_clock_jump_with_one_token(
    emulator: TaskEmulator, jump: int
) -> None:
    session = login(emulator)
    location = start_query(emulator, session)
    poll(emulator, session, location)  # at once: still scheduled or running
    assert emulator.phase(location.rsplit("/", 1)[1], API) != "succeeded"
    for _ in range(2):
        emulator.advance(jump)
        poll(emulator, session, location)
    assert emulator.phase(location.rsplit("/", 1)[1], API) == "succeeded"
    # One login for the whole run: the script never needed another token.
    logins = [r for r in emulator.requests(API) if r["path"] == "/auth/v1/token"]
    assert len(logins) == 1


def test_expired_credentials_take_the_script_back_to_login(emulator: TaskEmulator) -> None:
    session = login(emulator)
    location = start_query(emulator, session)
    emulator.expire_credentials(API)
    for url in (location, location + "/peek"):
        refused = session.get(url, allow_redirects=False, timeout=10)
        assert refused.status_code == 401
        assert refused.headers["Content-Type"] == "text/html; charset=utf-8"
        assert refused.json() == EXPIRED
    # The script's way back: a new token, and the task is where it was.
    session = login(emulator)
    poll(emulator, session, location)

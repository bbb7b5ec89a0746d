"""Spectrum Discover driven the way IBM's own Python clients drive it: `requests`, a token
from HTTP Basic, Bearer headers, peek until done, then the results as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from requests.auth import HTTPBasicAuth

from emulator.apis.spectrum_discover.metaocean import COLUMNS_FILE, csv_field_problem, load_columns
from emulator.config import EmulatorConfig
from emulator.resources import builtin_schemas
from emulator.server import EmulatorServer

from .helpers import CLOCK_START, write
from .helpers import advance_over_http as advance_clock

COLUMNS = load_columns(builtin_schemas() / COLUMNS_FILE)
STATUS_URL = "/db2whrest/v1/task_status/"

# Paced by the clock only, so the client's loop has to move it to get anywhere.
SLOW_QUERY = """\
api: spectrum_discover
name: slow-inventory
description: An inventory query that takes half a minute.
trigger:
  method: GET
  path: /db2whrest/v1/sql_query_async
  when:
    sql_normalized: "*inventory*"
lifecycle:
  - {phase: scheduled, for: 5s}
  - {phase: running, for: 25s}
  - phase: succeeded
results:
  count: 3000
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    scenarios = write(tmp_path, "slow.yaml", SLOW_QUERY)
    config = EmulatorConfig(clock="virtual", clock_start=CLOCK_START, seed=7, scenario_paths=(scenarios,))
    with EmulatorServer(config) as running:
        yield running


def get_token(server: EmulatorServer, username: str = "sdadmin", password: str = "Passw0rd") -> str:
    response = requests.get(server.url + "/auth/v1/token", auth=HTTPBasicAuth(username, password), timeout=10)
    if response.status_code != 200:
        raise RuntimeError(f"token request returned {response.status_code}")
    return response.headers["X-Auth-Token"]




def check_csv_rows(rows: list[list[str]]) -> None:
    for number, row in enumerate(rows):
        assert row[0] == str(number)
        assert len(row) == 1 + len(COLUMNS), f"row {number} has {len(row)} fields"
        problems = [p for column, text in zip(COLUMNS, row[1:]) if (p := csv_field_problem(column, text))]
        assert not problems, f"row {number}: {problems}"


def test_the_full_client_flow(server: EmulatorServer) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {get_token(server)}"
    sql = "SELECT * FROM metaocean WHERE datasource = 'inventory'"
    created = session.get(f"{server.url}/db2whrest/v1/sql_query_async?{quote(sql)}", timeout=10)
    assert created.status_code == 202
    assert created.json() == {"status": "work scheduled"}
    location = created.headers["Location"]
    assert location.startswith(server.url + STATUS_URL)

    seen = []
    for _ in range(20):
        status = session.get(location + "/peek", timeout=10).json()["status"]
        seen.append(status)
        if status == "work complete":
            break
        advance_clock(server, 5)
    assert seen == ["work scheduled"] + ["work in progress"] * 5 + ["work complete"]

    status = session.get(location, timeout=10)
    assert status.status_code == 200 and status.history == []
    results_location = status.headers["Location"]
    assert results_location == location  # the doc's results URI is the task's own

    results = session.get(results_location, timeout=10)
    assert results.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(results.content.decode("utf-8"))))
    assert len(rows) == 3000
    check_csv_rows(rows)
    # Awkward paths and names survive the round trip through the csv module.
    assert any("," in row[15] or "," in row[16] for row in rows)
    assert any('"' in row[16] for row in rows)
    assert any(not (row[15] + row[16]).isascii() for row in rows)


def test_a_client_following_redirects_sees_303_while_running(server: EmulatorServer) -> None:
    headers = {"Authorization": f"Bearer {get_token(server)}"}
    created = requests.get(f"{server.url}/db2whrest/v1/sql_query_async?inventory", headers=headers, timeout=10)
    # No Location on the 303 by default, so requests has nothing to follow and shows it.
    response = requests.get(created.headers["Location"], headers=headers, timeout=10)
    assert response.status_code == 303 and response.history == []
    assert response.json() == {"status": "work scheduled"}


def test_the_clients_relogin_path_after_the_token_expires(server: EmulatorServer) -> None:
    token = get_token(server)
    url = f"{server.url}{STATUS_URL}9c0db090-bd33-41c5-969f-a1603ddf49ab/peek"
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    # An hour on the emulator clock is an hour the client kept polling: no expiry.
    advance_clock(server, 3600)
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    # An hour of wall time is: the token's lifetime is over.
    start = server.runtime.wall_clock()
    server.call(lambda: setattr(server.runtime, "wall_clock", lambda: start + 3600))
    response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"reason": "Token has expired", "status": "error"}
    fresh = get_token(server)
    assert requests.get(url, headers={"Authorization": f"Bearer {fresh}"}, timeout=10).status_code == 200


def test_missing_token_and_denied_roles(server: EmulatorServer) -> None:
    url = f"{server.url}{STATUS_URL}9c0db090-bd33-41c5-969f-a1603ddf49ab"
    assert requests.get(url, timeout=10).status_code == 401
    with pytest.raises(RuntimeError):
        get_token(server, "sdadmin", "passw0rd")
    for username in ("admin", "serviceuser"):
        headers = {"Authorization": f"Bearer {get_token(server, username)}"}
        for suffix in ("", "/peek"):
            response = requests.get(url + suffix, headers=headers, timeout=10)
            assert response.status_code == 403
            assert response.json()["status"] == "error"


def test_unknown_and_malformed_ids(server: EmulatorServer) -> None:
    headers = {"Authorization": f"Bearer {get_token(server)}"}
    unknown = requests.get(f"{server.url}{STATUS_URL}00000000-0000-4000-8000-000000000000", headers=headers, timeout=10)
    assert unknown.status_code == 404
    assert unknown.json() == {"reason": "Task 00000000-0000-4000-8000-000000000000 not found", "status": "error"}
    malformed = requests.get(f"{server.url}{STATUS_URL}42/peek", headers=headers, timeout=10)
    assert malformed.status_code == 400
    assert malformed.json() == {"reason": "Invalid task id: 42", "status": "error"}


def test_json_results(server: EmulatorServer) -> None:
    headers = {"Authorization": f"Bearer {get_token(server)}", "Accept": "application/json"}
    response = requests.get(f"{server.url}{STATUS_URL}9c0db090-bd33-41c5-969f-a1603ddf49ab", headers=headers, timeout=10)
    assert response.headers["Content-Type"] == "application/json"
    rows = response.json()
    assert [row["inode"] for row in rows[:2]] == [3067343, 3067333]
    assert all(list(row) == [c.name for c in COLUMNS] for row in rows)
    violation = server.runtime.schemas.violation("spectrum_discover/results.schema.json", rows)
    assert violation is None


def test_the_failing_query_flow(server: EmulatorServer) -> None:
    headers = {"Authorization": f"Bearer {get_token(server)}"}
    created = requests.post(
        f"{server.url}/db2whrest/v1/sql_query_async", data="select * from no_such_table", headers=headers, timeout=10
    )
    assert created.status_code == 202
    advance_clock(server, 10)
    location = created.headers["Location"]
    assert requests.get(location + "/peek", headers=headers, timeout=10).json() == {"status": "work failed"}
    failed = requests.get(location, headers=headers, timeout=10)
    assert failed.status_code == 500
    assert failed.json()["reason"].startswith("SQL0204N")


def test_a_result_arrives_in_chunks(server: EmulatorServer) -> None:
    headers = {"Authorization": f"Bearer {get_token(server)}"}
    created = requests.get(f"{server.url}/db2whrest/v1/sql_query_async?inventory", headers=headers, timeout=10)
    advance_clock(server, 30)
    with requests.get(created.headers["Location"], headers=headers, stream=True, timeout=10) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in response.headers
        chunks = list(response.iter_content(chunk_size=None))
    assert len(chunks) >= 3  # 3000 rows, sent 1000 at a time
    assert b"".join(chunks).count(b"\n") == 3000


def test_100k_rows_stream_from_the_first_chunk(server: EmulatorServer) -> None:
    """The first rows of a 100,000-row result arrive before the rest is made: a client that
    stops early gets them at once and the server carries on serving."""
    headers = {"Authorization": f"Bearer {get_token(server)}"}
    created = requests.get(
        f"{server.url}/db2whrest/v1/sql_query_async?{quote('select * from metaocean limit 100000')}",
        headers=headers, timeout=10,
    )
    task_id = created.headers["Location"].rsplit("/", 1)[1]
    assert server.call(lambda: server.runtime.engine.get("spectrum_discover", task_id).scenario.name) == "sql-query-100k"
    advance_clock(server, 40)
    with requests.get(created.headers["Location"], headers=headers, stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["Transfer-Encoding"] == "chunked"
        lines = []
        for line in response.iter_lines(decode_unicode=False):
            lines.append(line.decode("utf-8"))
            if len(lines) == 2500:
                break
    check_csv_rows(list(csv.reader(lines)))
    # The server is still answering after the client hung up mid-stream.
    peek = requests.get(created.headers["Location"] + "/peek", headers=headers, timeout=10)
    assert json.loads(peek.content) == {"status": "work complete"}

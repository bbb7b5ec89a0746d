"""IBM Spectrum Discover (db2whrest): every route, every error code and body, the doc examples."""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from emulator.config import EmulatorConfig
from emulator.errors import ConfigError
from emulator.state import build_runtime

from .conftest import MakeClient
from .helpers import CLOCK_START, NOT_UTF8, Client, raw_status, runtime_of, write

API = "spectrum_discover"
TOKEN_URL = "/auth/v1/token"
QUERY_URL = "/db2whrest/v1/sql_query_async"
STATUS_URL = "/db2whrest/v1/task_status/"
COMPLETE_ID = "9c0db090-bd33-41c5-969f-a1603ddf49ab"
IN_PROGRESS_ID = "9c0db090-bd33-41c5-969f-a1603ddf8888"
TEXT_HTML = "text/html; charset=utf-8"
ALLOWED = [("sdadmin", "Data admin"), ("datauser", "Data user"), ("collectionadmin", "Collection Admin")]
DENIED = [("admin", "Admin"), ("serviceuser", "Service user")]

# The doc's two example rows, with the spaces its line wrapping put in taken out.
DOC_ROWS = [
    (
        "0,reflib,INDEX,SCAN,MO1,,Spectrum Scale,reflib.university.edu,3067343,root,root,-rw-r--r--,"
        "root,9,10,/reflib/cellranger-2.0.0/refdata-cellranger-ercc92-1.2.0/star/,sjdbList.out.tab,tab,"
        "resdnt,NA,2016-11-14 19:40:10,2017-06-02 21:30:26,2017-06-02 21:30:26,2018-07-24 16:32:47,"
        "system,0,1,reflib.university.edureflib3067343,,,,,,,,,,,,,,,,"
    ),
    (
        "1,reflib,INDEX,SCAN,MO1,,Spectrum Scale,reflib.university.edu,3067333,root,root,-rw-r--r--,"
        "root,9,10,/reflib/cellranger-2.0.0/refdata-cellranger-ercc92-1.2.0/star/,chrLength.txt,txt,"
        "resdnt,NA,2016-11-14 19:40:10,2017-06-02 23:28:21,2017-06-02 21:30:26,2018-07-24 16:32:47,"
        "system,412,1,reflib.university.edureflib3067333,,,,,,,,,,,,,,,,"
    ),
]


def basic(username: str, password: str = "Passw0rd") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def token_for(client: Client, username: str = "sdadmin") -> dict[str, str]:
    response = await client.get(TOKEN_URL, headers=basic(username))
    assert response.status == 200, await response.text()
    return {"Authorization": f"Bearer {response.headers['X-Auth-Token']}"}


async def start_query(client: Client, headers: dict[str, str], sql: str = "select * from metaocean") -> str:
    response = await client.get(f"{QUERY_URL}?{quote(sql)}", headers=headers)
    assert response.status == 202, await response.text()
    return response.headers["Location"].rsplit("/", 1)[1]


async def error_of(response: Any) -> tuple[int, str, dict[str, Any]]:
    return response.status, response.headers["Content-Type"], json.loads(await response.read())


async def advance(client: Client, seconds: float) -> None:
    await runtime_of(client).store.advance_clock(seconds)


# ---- auth -----------------------------------------------------------------------------------


async def test_token_is_an_opaque_fernet_like_header_with_an_empty_body(client: Client) -> None:
    first = await client.get(TOKEN_URL, headers=basic("sdadmin"))
    second = await client.get(TOKEN_URL, headers=basic("sdadmin"))
    assert first.status == 200
    assert await first.read() == b""
    assert first.headers["Content-Type"] == TEXT_HTML
    token = first.headers["X-Auth-Token"]
    assert token.startswith("gAAAAAB")
    assert len(base64.urlsafe_b64decode(token)) == 121
    assert token != second.headers["X-Auth-Token"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("sdadmin", "wrong"),
        basic("nobody"),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer something"},
    ],
)
async def test_token_refuses_missing_or_wrong_credentials(client: Client, headers: dict[str, str]) -> None:
    response = await client.get(TOKEN_URL, headers=headers)
    status, content_type, body = await error_of(response)
    assert status == 401
    assert content_type == TEXT_HTML
    assert body["status"] == "error" and body["reason"]
    assert "X-Auth-Token" not in response.headers


@pytest.mark.parametrize("url", [STATUS_URL + COMPLETE_ID, STATUS_URL + COMPLETE_ID + "/peek", QUERY_URL + "?select%201"])
async def test_routes_need_a_token(client: Client, url: str) -> None:
    status, _, body = await error_of(await client.get(url))
    assert status == 401 and body["status"] == "error"
    invalid = {"Authorization": "Bearer gAAAAABnot-a-real-token"}
    status, _, body = await error_of(await client.get(url, headers=invalid))
    assert status == 401 and body == {"reason": "Invalid token", "status": "error"}


async def test_basic_auth_alone_is_refused_on_task_status(client: Client) -> None:
    response = await client.get(STATUS_URL + COMPLETE_ID, headers=basic("sdadmin"))
    assert response.status == 401


async def test_basic_auth_with_the_allow_header_is_taken_instead_of_a_token(client: Client) -> None:
    headers = {**basic("datauser"), "X-ALLOW-BASIC-AUTH-SD": "true"}
    response = await client.get(STATUS_URL + COMPLETE_ID + "/peek", headers=headers)
    assert response.status == 200
    wrong = {**basic("datauser", "nope"), "X-ALLOW-BASIC-AUTH-SD": "true"}
    assert (await client.get(STATUS_URL + COMPLETE_ID + "/peek", headers=wrong)).status == 401
    denied = {**basic("admin"), "X-ALLOW-BASIC-AUTH-SD": "true"}
    assert (await client.get(STATUS_URL + COMPLETE_ID + "/peek", headers=denied)).status == 403


class WallClock:
    """A wall clock a test moves by hand, put in place of the server's."""

    def __init__(self, now: float = CLOCK_START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fake_wall_clock(client: Client) -> WallClock:
    clock = WallClock()
    runtime_of(client).wall_clock = clock
    return clock


async def test_token_expires_on_the_wall_clock(client: Client) -> None:
    wall = fake_wall_clock(client)
    headers = await token_for(client)
    url = STATUS_URL + COMPLETE_ID + "/peek"
    wall.now += 3599
    assert (await client.get(url, headers=headers)).status == 200
    wall.now += 1
    status, _, body = await error_of(await client.get(url, headers=headers))
    assert status == 401 and body == {"reason": "Token has expired", "status": "error"}
    # Still expired on the next call, and after other logins have come and gone.
    fresh = await token_for(client)
    status, _, body = await error_of(await client.get(url, headers=headers))
    assert status == 401 and body == {"reason": "Token has expired", "status": "error"}
    # The client's way back: a new token works again.
    assert (await client.get(url, headers=fresh)).status == 200


async def test_a_clock_jump_does_not_expire_a_token(client: Client) -> None:
    # Today's token, a query, two hours (twice the lifetime) on the emulator clock: the
    # client would have kept polling all that time, so its token still works.
    fake_wall_clock(client)
    headers = await token_for(client)
    task_id = await start_query(client, headers)
    await advance(client, 2 * 3600)
    response = await client.get(STATUS_URL + task_id, headers=headers)
    assert response.status == 200
    assert response.headers["Location"].endswith(STATUS_URL + task_id)


async def test_token_lifetime_and_users_come_from_settings(make_client: MakeClient) -> None:
    settings = {API: {"token_lifetime": "5m", "users": [{"username": "alice", "password": "s3cret", "roles": ["Admin", "Data user"]}]}}
    client = await make_client(api_settings=settings)
    wall = fake_wall_clock(client)
    assert (await client.get(TOKEN_URL, headers=basic("sdadmin"))).status == 401
    headers = await token_for_user(client, "alice", "s3cret")
    url = STATUS_URL + COMPLETE_ID + "/peek"
    assert (await client.get(url, headers=headers)).status == 200  # one allowed role is enough
    wall.now += 299
    assert (await client.get(url, headers=headers)).status == 200
    wall.now += 1
    assert (await client.get(url, headers=headers)).status == 401


@pytest.mark.parametrize("how", ["control API", "runtime"])
async def test_expiring_credentials_expires_every_token_issued_so_far(client: Client, how: str) -> None:
    url = STATUS_URL + COMPLETE_ID + "/peek"
    first, second = await token_for(client), await token_for(client, "datauser")
    if how == "control API":
        response = await client.post("/_emulator/credentials/expire", json={"api": API})
        assert response.status == 200 and (await response.json()) == {"expired": [API]}
    else:
        assert await runtime_of(client).expire_credentials(API) == [API]
    for headers in (first, second, first):
        status, content_type, body = await error_of(await client.get(url, headers=headers))
        assert (status, content_type) == (401, TEXT_HTML)
        assert body == {"reason": "Token has expired", "status": "error"}
    fresh = await token_for(client)
    assert (await client.get(url, headers=fresh)).status == 200
    # Basic credentials in a cluster are not a token: nothing of theirs expired.
    cluster = {**basic("datauser"), "X-ALLOW-BASIC-AUTH-SD": "true"}
    assert (await client.get(url, headers=cluster)).status == 200


async def token_for_user(client: Client, username: str, password: str) -> dict[str, str]:
    response = await client.get(TOKEN_URL, headers=basic(username, password))
    assert response.status == 200
    return {"Authorization": f"Bearer {response.headers['X-Auth-Token']}"}


@pytest.mark.parametrize(
    "settings, mistake",
    [
        ({"users": [{"username": "x", "password": "y", "role": "Data Admin"}]}, "users[0].role"),
        ({"users": [{"username": "x", "password": "y"}]}, "users[0]"),
        ({"token_lifetime": 0}, "token_lifetime"),
        ({"token_lifetime": "soon"}, "token_lifetime"),
        ({"public_url": "sd.example.com"}, "public_url"),
    ],
)
def test_wrong_settings_are_refused_with_where(settings: dict[str, Any], mistake: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_runtime(EmulatorConfig(api_settings={API: settings}))
    assert f"settings {API}.{mistake}" in str(caught.value)


@pytest.mark.parametrize("username, role", ALLOWED)
async def test_allowed_roles_read_status_and_peek(client: Client, username: str, role: str) -> None:
    headers = await token_for(client, username)
    assert (await client.get(STATUS_URL + COMPLETE_ID + "/peek", headers=headers)).status == 200
    assert (await client.get(STATUS_URL + COMPLETE_ID, headers=headers)).status == 200


@pytest.mark.parametrize("username, role", DENIED)
@pytest.mark.parametrize("suffix", ["", "/peek"])
async def test_denied_roles_get_403(client: Client, username: str, role: str, suffix: str) -> None:
    headers = await token_for(client, username)
    status, content_type, body = await error_of(await client.get(STATUS_URL + COMPLETE_ID + suffix, headers=headers))
    assert status == 403
    assert content_type == TEXT_HTML
    assert body == {"reason": f"User {username} does not have a role that may use this endpoint", "status": "error"}
    # Refused before the id is even looked at.
    status, _, _ = await error_of(await client.get(STATUS_URL + "not-an-id" + suffix, headers=headers))
    assert status == 403


# ---- triggers ---------------------------------------------------------------------------------


async def test_get_query_schedules_work_as_documented(client: Client) -> None:
    headers = await token_for(client)
    response = await client.get(QUERY_URL + "?select%20*%20from%20metaocean", headers=headers)
    assert response.status == 202
    assert await response.read() == b'{"status": "work scheduled"}'
    assert response.headers["Content-Type"] == TEXT_HTML
    location = response.headers["Location"]
    prefix = f"http://{client.host}:{client.port}{STATUS_URL}"
    assert location.startswith(prefix)
    task_id = location[len(prefix):]
    runtime = runtime_of(client)
    task = await runtime.store.get(API, task_id)
    assert task.scenario.name == "sql-query"
    assert str(uuid.UUID(task_id)) == task_id and uuid.UUID(task_id).version == 4


async def test_post_query_takes_the_sql_from_the_body(client: Client) -> None:
    headers = await token_for(client)
    response = await client.post(QUERY_URL, data="SELECT *\n  FROM no_such_table", headers=headers)
    assert response.status == 202
    assert await response.read() == b'{"status": "work scheduled"}'
    task_id = response.headers["Location"].rsplit("/", 1)[1]
    # A GET-written trigger serves POST too, matched on the normalised SQL.
    assert (await runtime_of(client).store.get(API, task_id)).scenario.name == "sql-query-undefined-table"


async def test_task_ids_follow_the_seed(make_client: MakeClient) -> None:
    ids = []
    for _ in range(2):
        client = await make_client(seed=11)
        ids.append(await start_query(client, await token_for(client)))
    assert ids[0] == ids[1]


@pytest.mark.parametrize("sql, scenario", [
    ("select * from metaocean limit 100000", "sql-query-100k"),
    ("SELECT path FROM metaocean LIMIT 100000", "sql-query-100k"),
    ("select * from No_Such_Table", "sql-query-undefined-table"),
    ("select count(*) from metaocean", "sql-query"),
])
async def test_the_sql_picks_the_scenario(client: Client, sql: str, scenario: str) -> None:
    task_id = await start_query(client, await token_for(client), sql)
    assert (await runtime_of(client).store.get(API, task_id)).scenario.name == scenario


async def test_an_empty_query_is_refused_and_makes_no_task(client: Client) -> None:
    headers = await token_for(client)
    before = await runtime_of(client).store.count()
    for response in (await client.get(QUERY_URL, headers=headers), await client.post(QUERY_URL, data=b"  ", headers=headers)):
        status, content_type, body = await error_of(response)
        assert status == 400 and content_type == TEXT_HTML
        assert body == {"reason": "No SQL query was given", "status": "error"}
    bad = await client.post(QUERY_URL, data=b"select \xff", headers=headers)
    assert bad.status == 400
    assert await runtime_of(client).store.count() == before


async def test_user_scenarios_match_on_sql_first(make_client: MakeClient, tmp_path: Path) -> None:
    path = write(tmp_path, "mine.yaml", """\
api: spectrum_discover
name: quota-report
description: A POST-only scenario for quota queries.
trigger:
  method: POST
  path: /db2whrest/v1/sql_query_async
  when:
    sql: "*metaocean_quota*"
lifecycle:
  - phase: failed
    reason: "quota report for ${query.sql} failed"
    status_code: 503
""")
    client = await make_client(scenario_paths=(path,))
    headers = await token_for(client)
    response = await client.post(QUERY_URL, data="select * from metaocean_quota", headers=headers)
    task_id = response.headers["Location"].rsplit("/", 1)[1]
    assert (await runtime_of(client).store.get(API, task_id)).scenario.name == "quota-report"
    # A GET looks at GET triggers first: the built-in catch-all takes it.
    other = await start_query(client, headers, "select * from metaocean_quota")
    assert (await runtime_of(client).store.get(API, other)).scenario.name == "sql-query"
    status, _, body = await error_of(await client.get(STATUS_URL + task_id, headers=headers))
    assert status == 503
    assert body == {"reason": "quota report for ${query.sql} failed", "status": "error"}


async def test_placeholders_in_the_task_reason_see_the_sql(make_client: MakeClient, tmp_path: Path) -> None:
    path = write(tmp_path, "mine.yaml", """\
api: spectrum_discover
name: echo
trigger: {method: GET, path: /db2whrest/v1/sql_query_async, when: {sql_normalized: "*echo*"}}
task:
  reason: "could not run: ${query.sql}"
lifecycle:
  - phase: failed
""")
    client = await make_client(scenario_paths=(path,))
    headers = await token_for(client)
    task_id = await start_query(client, headers, "select 'echo'")
    _, _, body = await error_of(await client.get(STATUS_URL + task_id, headers=headers))
    assert body == {"reason": "could not run: select 'echo'", "status": "error"}


# ---- peek and task_status -----------------------------------------------------------------


async def test_peek_walks_through_the_phase_strings(client: Client) -> None:
    headers = await token_for(client)
    task_id = await start_query(client, headers)
    seen = []
    for _ in range(6):
        response = await client.get(STATUS_URL + task_id + "/peek", headers=headers)
        assert response.status == 200 and response.headers["Content-Type"] == TEXT_HTML
        seen.append(json.loads(await response.read())["status"])
    # sql-query: scheduled for one read, running for three, then complete.
    assert seen == ["work scheduled", "work in progress", "work in progress", "work in progress", "work complete", "work complete"]


async def test_task_status_answers_303_until_done_then_200_with_rows(client: Client) -> None:
    headers = await token_for(client)
    task_id = await start_query(client, headers)
    response = await client.get(STATUS_URL + task_id, headers=headers, allow_redirects=False)
    assert response.status == 303
    assert "Location" not in response.headers  # off unless a scenario asks
    assert await response.read() == b'{"status": "work scheduled"}'
    await advance(client, 2)
    response = await client.get(STATUS_URL + task_id, headers=headers, allow_redirects=False)
    assert response.status == 303
    assert json.loads(await response.read()) == {"status": "work in progress"}
    await advance(client, 10)
    response = await client.get(STATUS_URL + task_id, headers=headers, allow_redirects=False)
    assert response.status == 200
    assert response.headers["Location"].endswith(STATUS_URL + task_id)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO((await response.read()).decode())))
    assert len(rows) == 25
    assert [row[0] for row in rows] == [str(n) for n in range(25)]
    assert all(len(row) == 44 for row in rows)


async def test_scenarios_set_peek_strings_the_303_location_and_a_header_row(make_client: MakeClient, tmp_path: Path) -> None:
    path = write(tmp_path, "mine.yaml", """\
api: spectrum_discover
name: custom
trigger: {method: GET, path: /db2whrest/v1/sql_query_async}
lifecycle:
  - {phase: running, for: 5s, peek: "work in progress (50%)"}
  - phase: succeeded
    peek: done
options:
  location_on_303: true
  csv_header: true
results:
  count: 3
  fields: {datasource: proj, cluster: proj.example.org, tag_01: gold}
""")
    client = await make_client(scenario_paths=(path,))
    headers = await token_for(client)
    task_id = await start_query(client, headers)
    peek = await client.get(STATUS_URL + task_id + "/peek", headers=headers)
    assert json.loads(await peek.read()) == {"status": "work in progress (50%)"}
    response = await client.get(STATUS_URL + task_id, headers=headers, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"http://{client.host}:{client.port}{STATUS_URL}{task_id}"
    await advance(client, 5)
    peek = await client.get(STATUS_URL + task_id + "/peek", headers=headers)
    assert json.loads(await peek.read()) == {"status": "done"}
    text = (await (await client.get(STATUS_URL + task_id, headers=headers)).read()).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:6] == ["", "datasource", "operation", "ingesttype", "revision", "site"] and len(rows) == 4
    assert {row[1] for row in rows[1:]} == {"proj"}
    assert all(row[15].startswith("/proj/") for row in rows[1:])  # path follows the data source
    assert all(row[27] == f"proj.example.orgproj{row[8]}" for row in rows[1:])  # fkey
    assert all(row[28] == "gold" for row in rows[1:])


async def test_a_failed_task_answers_the_documented_error_shape(client: Client) -> None:
    headers = await token_for(client)
    task_id = await start_query(client, headers, "select * from no_such_table")
    await advance(client, 4)
    peek = await client.get(STATUS_URL + task_id + "/peek", headers=headers)
    assert json.loads(await peek.read()) == {"status": "work failed"}
    response = await client.get(STATUS_URL + task_id, headers=headers)
    assert response.status == 500
    assert response.headers["Content-Type"] == TEXT_HTML
    assert await response.read() == (
        b'{"reason": "SQL0204N  \\"BLUADMIN.NO_SUCH_TABLE\\" is an undefined name.  SQLSTATE=42704", '
        b'"status": "error"}'
    )


async def test_a_failure_forced_over_the_control_api_keeps_the_shape(client: Client) -> None:
    headers = await token_for(client)
    task_id = await start_query(client, headers)
    forced = await client.post(f"/_emulator/tasks/{API}/{task_id}/transition", json={"phase": "failed"})
    assert forced.status == 200
    status, _, body = await error_of(await client.get(STATUS_URL + task_id, headers=headers))
    assert status == 500 and body == {"reason": "The asynchronous operation failed", "status": "error"}


@pytest.mark.parametrize("suffix", ["", "/peek"])
async def test_unknown_and_malformed_ids(client: Client, suffix: str) -> None:
    headers = await token_for(client)
    unknown = "9c0db090-bd33-41c5-969f-a1603ddf0000"
    status, content_type, body = await error_of(await client.get(STATUS_URL + unknown + suffix, headers=headers))
    assert (status, content_type) == (404, TEXT_HTML)
    assert body == {"reason": f"Task {unknown} not found", "status": "error"}
    for bad in ("12345", "9c0db090-bd33-41c5-969f-a1603ddf49a", "9c0db090bd3341c5969fa1603ddf49ab", "zc0db090-bd33-41c5-969f-a1603ddf49ab"):
        status, _, body = await error_of(await client.get(STATUS_URL + bad + suffix, headers=headers))
        assert status == 400
        assert body == {"reason": f"Invalid task id: {bad}", "status": "error"}


async def test_ids_are_case_insensitive(client: Client) -> None:
    headers = await token_for(client)
    response = await client.get(STATUS_URL + COMPLETE_ID.upper() + "/peek", headers=headers)
    assert response.status == 200


async def test_public_url_is_written_into_locations(make_client: MakeClient) -> None:
    client = await make_client(api_settings={API: {"public_url": "https://sd.example.com"}})
    headers = await token_for(client)
    response = await client.get(QUERY_URL + "?select%201", headers=headers)
    assert response.headers["Location"].startswith("https://sd.example.com/db2whrest/v1/task_status/")


# ---- the doc examples -------------------------------------------------------------------------


async def test_doc_example_complete_task(client: Client) -> None:
    headers = await token_for(client)
    response = await client.get(STATUS_URL + COMPLETE_ID, headers=headers)
    assert response.status == 200
    assert response.headers["Location"].endswith(STATUS_URL + COMPLETE_ID)
    lines = (await response.read()).decode().split("\n")
    assert lines[:2] == DOC_ROWS
    assert lines[-1] == "" and len(lines) == 51
    peek = await client.get(STATUS_URL + COMPLETE_ID + "/peek", headers=headers)
    assert json.loads(await peek.read()) == {"status": "work complete"}


async def test_doc_example_in_progress_task(client: Client) -> None:
    headers = await token_for(client)
    for _ in range(3):
        peek = await client.get(STATUS_URL + IN_PROGRESS_ID + "/peek", headers=headers)
        assert await peek.read() == b'{"status": "work scheduled"}'
    response = await client.get(STATUS_URL + IN_PROGRESS_ID, headers=headers, allow_redirects=False)
    assert response.status == 200
    lines = (await response.read()).decode().split("\n")
    assert lines[:2] == DOC_ROWS


async def test_doc_example_in_progress_moves_on_with_the_clock(client: Client) -> None:
    headers = await token_for(client)
    response = await client.get(STATUS_URL + IN_PROGRESS_ID, headers=headers, allow_redirects=False)
    assert response.status == 303
    await advance(client, 60)
    response = await client.get(STATUS_URL + IN_PROGRESS_ID, headers=headers, allow_redirects=False)
    assert response.status == 200


# ---- JSON results, validation, journal ------------------------------------------------------------


async def test_json_results_with_accept_application_json(client: Client) -> None:
    headers = {**(await token_for(client)), "Accept": "application/json"}
    response = await client.get(STATUS_URL + COMPLETE_ID, headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    body = (await response.read()).decode("ascii")
    rows = json.loads(body)
    assert len(rows) == 50
    assert rows[1]["filename"] == "chrLength.txt" and rows[1]["size"] == 412 and rows[1]["site"] == ""
    violation = runtime_of(client).schemas.violation(f"{API}/results.schema.json", rows)
    assert violation is None
    # IBM's JSON example of select * from metaocean: compact, its keys in this order.
    assert body.startswith(
        '[{"datasource":"reflib","operation":"INDEX","ingesttype":"SCAN","revision":"MO1","site":"",'
        '"platform":"Spectrum Scale","cluster":"reflib.university.edu","inode":3067343,"owner":"root",'
    )
    assert '},{"datasource":"reflib",' in body and body.endswith("}]")
    # One column list for both formats: the JSON keys are the CSV columns, in order.
    names = [c.name for c in runtime_of(client).apis[API].columns]  # type: ignore[attr-defined]
    assert all(list(row) == names for row in rows)


async def test_results_are_the_same_whatever_the_read_order(make_client: MakeClient) -> None:
    bodies = []
    for order in ((0, 1), (1, 0)):
        client = await make_client(seed=3)
        headers = await token_for(client)
        ids = [await start_query(client, headers) for _ in range(2)]
        await advance(client, 20)
        got = {}
        for index in order:
            got[index] = await (await client.get(STATUS_URL + ids[index], headers=headers)).read()
        bodies.append(got)
    assert bodies[0] == bodies[1]
    assert bodies[0][0] != bodies[0][1]


async def test_a_bad_literal_row_is_caught_when_the_scenario_loads(tmp_path: Path) -> None:
    from emulator.apis import API_CLASSES
    from emulator.scenario_loader import check_files
    from emulator.state import load_schemas

    path = write(tmp_path, "bad.yaml", """\
api: spectrum_discover
name: bad-rows
lifecycle:
  - phase: succeeded
    peeek: typo
results:
  rows:
    - {inode: "12", colour: red}
options:
  location_on_303: yes please
""")
    problems = [str(p) for p in check_files([path], API_CLASSES, load_schemas())]
    text = "\n".join(problems)
    assert "lifecycle[0].peeek: unknown key" in text
    assert "results.rows[0].colour: unknown key" in text
    assert "results.rows[0].inode: '12' is not of type 'integer'" in text
    assert "options.location_on_303: 'yes please' is not of type 'boolean'" in text


async def test_requests_are_journaled_with_their_task(client: Client) -> None:
    headers = await token_for(client)
    await client.get(STATUS_URL + COMPLETE_ID, headers=headers)
    await client.get(STATUS_URL + COMPLETE_ID + "/peek", headers=headers)
    journal = await (await client.get(f"/_emulator/requests?api={API}")).json()
    entries = journal["requests"]
    assert [(e["path"], e["status"], e["task"]) for e in entries] == [
        (TOKEN_URL, 200, None),
        (STATUS_URL + COMPLETE_ID, 200, COMPLETE_ID),
        (STATUS_URL + COMPLETE_ID + "/peek", 200, COMPLETE_ID),
    ]


async def test_reset_forgets_tokens_and_brings_the_doc_tasks_back(client: Client) -> None:
    headers = await token_for(client)
    for _ in range(3):
        await client.get(STATUS_URL + IN_PROGRESS_ID + "/peek", headers=headers)
    assert (await client.post("/_emulator/reset")).status == 200
    assert (await client.get(STATUS_URL + IN_PROGRESS_ID + "/peek", headers=headers)).status == 401
    headers = await token_for(client)
    peek = await client.get(STATUS_URL + IN_PROGRESS_ID + "/peek", headers=headers)
    assert json.loads(await peek.read()) == {"status": "work scheduled"}


async def test_control_api_shows_the_status_url(client: Client) -> None:
    body = await (await client.get(f"/_emulator/tasks/{API}/{COMPLETE_ID}")).json()
    assert body["status_path"] == STATUS_URL + COMPLETE_ID
    assert body["phase"] == "succeeded" and body["scenario"] == "doc-example-complete"


# ---- the API page's examples run ---------------------------------------------------------------

DOC_PAGE = Path(__file__).resolve().parent.parent / "docs" / "apis" / "spectrum_discover.md"


def block_after(marker: str) -> str:
    import re

    match = re.search(re.escape(marker) + r"\s*```[a-z]*\n(.*?)```", DOC_PAGE.read_text(encoding="utf-8"), re.DOTALL)
    assert match, f"no code block after {marker}"
    return match.group(1)


def test_the_settings_example_is_valid() -> None:
    import yaml

    settings = yaml.safe_load(block_after("<!-- settings-example -->"))
    runtime = build_runtime(EmulatorConfig(api_settings=settings))
    api = runtime.apis[API]
    assert api.auth.lifetime == 900  # type: ignore[attr-defined]
    assert sorted(api.auth.users) == ["auditor", "ci-bot"]  # type: ignore[attr-defined]


async def test_the_scenario_example_runs(make_client: MakeClient, tmp_path: Path) -> None:
    path = write(tmp_path, "example.yaml", block_after("<!-- scenario-example -->"))
    client = await make_client(scenario_paths=(path,))
    headers = await token_for(client)
    created = await client.post(QUERY_URL, data="SELECT * FROM metaocean\nWHERE tag_01 = 'project-x'", headers=headers)
    location = created.headers["Location"]
    task_id = location.rsplit("/", 1)[1]
    assert (await runtime_of(client).store.get(API, task_id)).scenario.name == "tag-report"
    await advance(client, 11)
    peek = await client.get(STATUS_URL + task_id + "/peek", headers=headers)
    assert json.loads(await peek.read()) == {"status": "work in progress (indexing)"}
    await advance(client, 120)
    response = await client.get(STATUS_URL + task_id, headers=headers)
    rows = list(csv.reader(io.StringIO((await response.read()).decode())))
    assert len(rows) == 5000
    assert rows[0][15:17] == ["/projects/x/Q3, 2024/", 'budget "final".xlsx']
    assert {row[28] for row in rows} == {"project-x"}


@pytest.mark.parametrize("mode, status", [("strict", 500), ("warn", 200), ("off", 200)])
async def test_rows_breaking_the_schema_are_caught_before_sending(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, mode: str, status: int
) -> None:
    from emulator.apis.spectrum_discover import api as api_module

    real = api_module.iter_rows

    def broken(*args: Any, **kwargs: Any) -> Any:
        for row in real(*args, **kwargs):
            yield {**row, "inode": "not a number"}

    monkeypatch.setattr(api_module, "iter_rows", broken)
    client = await make_client(validate=mode)
    headers = await token_for(client)
    response = await client.get(STATUS_URL + COMPLETE_ID, headers=headers)
    assert response.status == status
    journal = (await (await client.get(f"/_emulator/requests?api={API}")).json())["requests"]
    if mode == "off":
        assert journal[-1]["violation"] is None
    else:
        assert "results.schema.json" in journal[-1]["violation"]
    if mode == "strict":
        assert response.headers["X-Task-Emulator-Violation"] == f"{API}/results.schema.json"


async def test_basic_credentials_that_are_not_ascii_are_refused_not_a_crash(client: Client) -> None:
    # Found by an odd-input probe: base64 of a non-ASCII str raised ValueError (a 500).
    status = await raw_status(client, "GET", "/auth/v1/token", {"Authorization": b"Basic " + NOT_UTF8})
    assert status == 401


# ---- HEAD: answered as Flask answers it, but never a status read ----------------------------------


async def test_head_shows_what_get_would_without_moving_the_task(client: Client) -> None:
    headers = await token_for(client)
    # The in-progress doc task says "work scheduled" for three reads: HEADs are not reads.
    for suffix in ("", "/peek", "", "/peek", ""):
        response = await client.head(STATUS_URL + IN_PROGRESS_ID + suffix, headers=headers)
        assert response.status == (303 if suffix == "" else 200)
        assert response.headers["Content-Type"] == TEXT_HTML
        assert await response.read() == b""
    task = await runtime_of(client).store.get(API, IN_PROGRESS_ID)
    assert task.reads == 0
    peek = await client.get(STATUS_URL + IN_PROGRESS_ID + "/peek", headers=headers)
    assert json.loads(await peek.read()) == {"status": "work scheduled"}
    assert (await runtime_of(client).store.get(API, IN_PROGRESS_ID)).reads == 1
    entries = (await (await client.get("/_emulator/requests", params={"task": IN_PROGRESS_ID})).json())["requests"]
    assert [e["method"] for e in entries] == ["HEAD"] * 5 + ["GET"]


async def test_head_on_a_complete_task_gives_the_results_headers_without_rows(client: Client) -> None:
    headers = await token_for(client)
    for accept, content_type in ((None, "text/csv; charset=utf-8"), ("application/json", "application/json")):
        sent = {**headers, **({"Accept": accept} if accept else {})}
        head = await client.head(STATUS_URL + COMPLETE_ID, headers=sent)
        get = await client.get(STATUS_URL + COMPLETE_ID, headers=sent)
        assert head.status == get.status == 200
        assert head.headers["Location"] == get.headers["Location"]
        assert head.headers["Content-Type"] == get.headers["Content-Type"] == content_type
        assert await head.read() == b""


async def test_head_is_refused_like_get_without_a_token(client: Client) -> None:
    response = await client.head(STATUS_URL + COMPLETE_ID)
    assert response.status == 401 and await response.read() == b""

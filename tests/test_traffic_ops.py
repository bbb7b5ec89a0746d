"""Traffic Ops: every route, every error, byte for byte where the server is known."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from .conftest import MakeClient
from .helpers import CLOCK_START, NOT_UTF8, Client, raw_status

DOC_EXAMPLE = (
    b'{"response":{"id":1,"status":"PENDING","start_time":"2021-02-18T17:13:56.352261Z",'
    b'"message":"Async job has started."}}\n'
)


async def login(client: Client, user: str = "admin", password: str = "twelve12", version: str = "4.0") -> None:
    response = await client.post(f"/api/{version}/user/login", json={"u": user, "p": password})
    assert response.status == 200, await response.text()


async def start_acme(client: Client) -> str:
    response = await client.post("/api/4.0/acme_autorenew")
    assert response.status == 202, await response.text()
    return response.headers["Location"].rsplit("/", 1)[1]


def alert(text: str, level: str = "error") -> bytes:
    return json.dumps({"alerts": [{"text": text, "level": level}]}, separators=(",", ":")).encode() + b"\n"


async def status_of(client: Client, task_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/4.0/async_status/{task_id}")
    assert response.status == 200, await response.text()
    return (await response.json())["response"]  # type: ignore[no-any-return]


async def test_the_doc_example_answers_exactly(client: Client) -> None:
    await login(client)
    response = await client.get("/api/4.0/async_status/1")
    assert response.status == 200
    body = await response.read()
    assert body == DOC_EXAMPLE
    assert response.headers["Content-Type"] == "application/json"
    expected_sha = base64.b64encode(hashlib.sha512(body).digest()).decode()
    assert response.headers["Whole-Content-Sha512"] == expected_sha
    assert response.headers["X-Server-Name"].startswith("traffic_ops_golang/")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Permissions-Policy"] == "interest-cohort=()"
    assert response.headers["Vary"] == "Accept-Encoding"


async def test_login_sets_the_session_cookies(client: Client) -> None:
    response = await client.post("/api/4.0/user/login", json={"u": "admin", "p": "twelve12"})
    assert response.status == 200
    assert await response.read() == alert("Successfully logged in.", "success")
    session = response.cookies["mojolicious"]
    assert session["max-age"] == "21600" and session["path"] == "/" and session["httponly"]
    assert session["expires"] == "Fri, 02 Jan 2026 09:04:05 GMT"  # six hours on the emulator clock
    assert "--" in session.value
    payload = json.loads(base64.urlsafe_b64decode(session.value.split("--")[0] + "=="))
    assert payload == {"auth_data": "admin", "expires": int(CLOCK_START) + 21600, "by": "trafficcontrol-go-tocookie"}
    assert response.cookies["access_token"].value.count(".") == 2  # a JWT
    # Written as Go's http.Cookie.String writes them: attributes in its order and spelling.
    for header in response.headers.getall("Set-Cookie"):
        name, _, attributes = header.partition("; ")
        assert name.split("=")[0] in ("mojolicious", "access_token")
        assert attributes == "Path=/; Expires=Fri, 02 Jan 2026 09:04:05 GMT; Max-Age=21600; HttpOnly"


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (b'{"u":"admin","p":"wrong"}', 401, "Invalid username or password."),
        (b'{"u":"nobody","p":"twelve12"}', 401, "Invalid username or password."),
        (b'{"u":"admin"}', 400, "username and password are required"),
        (b'{"u":"","p":""}', 400, "username and password are required"),
        (b"", 400, "EOF"),
        (b"xyz", 400, "invalid character 'x' looking for beginning of value"),
        (b'{"u":"admin",', 400, "unexpected EOF"),
        # Go's decoder knows no NaN or Infinity (Python's does).
        (b'{"u":"admin","p":NaN}', 400, "invalid character 'N' looking for beginning of value"),
        (b'{"u":"admin","p":-Infinity}', 400, "invalid character 'I' in numeric literal"),
    ],
)
async def test_login_errors(client: Client, body: bytes, status: int, text: str) -> None:
    response = await client.post("/api/4.0/user/login", data=body)
    assert response.status == status
    assert await response.read() == alert(text)
    assert "mojolicious" not in response.cookies


async def test_token_login(client: Client) -> None:
    response = await client.post("/api/4.0/user/login/token", json={"t": "emulator-login-token"})
    assert response.status == 200
    assert await response.read() == alert("Successfully logged in.", "success")
    assert "access_token" not in response.cookies
    assert (await client.get("/api/4.0/async_status/1")).status == 200
    response = await client.post("/api/4.0/user/login/token", json={"t": "wrong"})
    assert response.status == 401
    assert await response.read() == alert("Invalid token. Please contact your administrator.")
    response = await client.post("/api/4.0/user/login/token", data=b"{")
    assert response.status == 400
    assert await response.read() == alert("Invalid request: unexpected EOF")


async def test_bearer_access_token_is_accepted(make_client: MakeClient) -> None:
    issuer = await make_client()
    response = await issuer.post("/api/4.0/user/login", json={"u": "admin", "p": "twelve12"})
    token = response.cookies["access_token"].value
    issuer.session.cookie_jar.clear()
    response = await issuer.get("/api/4.0/async_status/1", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    response = await issuer.get("/api/4.0/async_status/1", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status == 401
    assert await response.read() == alert("unauthorized, please log in.")


@pytest.mark.parametrize(
    ("cookie", "text"),
    [
        ("nodashes", "error parsing cookie: malformed cookie 'nodashes' - no dashes"),
        ("eyJhIjoxfQ--0000", "bad signature - unauthorized, please log in"),
    ],
)
async def test_bad_session_cookies(client: Client, cookie: str, text: str) -> None:
    response = await client.get("/api/4.0/async_status/1", headers={"Cookie": f"mojolicious={cookie}"})
    assert response.status == 401
    assert await response.read() == alert(text)


async def test_no_session_is_401(client: Client) -> None:
    response = await client.get("/api/4.0/async_status/1")
    assert response.status == 401
    assert await response.read() == alert("unauthorized, please log in.")
    assert response.headers["Whole-Content-Sha512"]


async def test_sessions_expire_on_the_emulator_clock(client: Client) -> None:
    await login(client)
    await client.post("/_emulator/clock/advance", json={"seconds": 3599})
    assert (await client.get("/api/4.0/async_status/1")).status == 200  # refreshes for an hour
    await client.post("/_emulator/clock/advance", json={"seconds": 3601})
    response = await client.get("/api/4.0/async_status/1")
    assert response.status == 401
    assert await response.read() == alert("signature expired - unauthorized, please log in")


async def test_authenticated_calls_refresh_the_session(client: Client) -> None:
    await login(client)
    response = await client.get("/api/4.0/async_status/1")
    assert response.cookies["mojolicious"]["max-age"] == "3600"


async def test_read_only_users_are_forbidden(client: Client) -> None:
    await login(client, "readonly")
    response = await client.get("/api/4.0/async_status/1")
    assert response.status == 403
    assert await response.read() == alert("Forbidden.")


async def test_operations_users_may_read(client: Client) -> None:
    await login(client, "operations")
    assert (await client.get("/api/4.0/async_status/1")).status == 200


async def test_role_based_permissions(make_client: MakeClient) -> None:
    settings = {
        "role_based_permissions": True,
        "roles": {
            "admin": {"priv_level": 30},
            "read-only": {"priv_level": 10, "permissions": ["ASYNC-STATUS:READ"]},
            "guest": {"priv_level": 20, "permissions": ["CDN:READ"]},
        },
        "users": [
            {"username": "admin", "password": "pw", "role": "admin"},
            {"username": "viewer", "password": "pw", "role": "read-only"},
            {"username": "guest", "password": "pw", "role": "guest"},
        ],
    }
    client = await make_client(api_settings={"traffic_ops": settings})
    await login(client, "guest", "pw")
    response = await client.get("/api/4.0/async_status/1")
    assert response.status == 403
    assert await response.read() == alert("missing required Permissions: ASYNC-STATUS:READ")
    response = await client.post("/api/4.0/acme_autorenew")
    assert await response.read() == alert(
        "missing required Permissions: ACME:READ, DS-SECURITY-KEY:UPDATE, DELIVERY-SERVICE:UPDATE"
    )
    await login(client, "viewer", "pw")  # a permission, whatever the privilege level
    assert (await client.get("/api/4.0/async_status/1")).status == 200
    await login(client, "admin", "pw")  # admin has every permission
    assert (await client.post("/api/4.0/acme_autorenew")).status == 202


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/api/4.0/async_status/abc", 400, alert("getting integer parameters: parameter 'id' not an integer")),
        ("/api/4.0/async_status/1.5", 400, alert("getting integer parameters: parameter 'id' not an integer")),
        ("/api/4.0/async_status/999", 404, alert("Not Found")),
        ("/api/4.0/async_status/1.json", 200, DOC_EXAMPLE),
        ("/api/4.0/async_status/+01", 200, DOC_EXAMPLE),
        ("/api/4.1/async_status/1", 200, DOC_EXAMPLE),
        ("/api/5.0/async_status/1", 200, DOC_EXAMPLE),
        ("/api/3.1/async_status/1", 404, alert("The requested path '/api/3.1/async_status/1' does not exist.")),
        ("/api/4.0/async_status/1/", 404, alert("The requested path '/api/4.0/async_status/1/' does not exist.")),
        ("/api/4.0/no_such_thing", 404, alert("The requested path '/api/4.0/no_such_thing' does not exist.")),
    ],
)
async def test_async_status_paths(client: Client, path: str, status: int, body: bytes) -> None:
    await login(client)
    response = await client.get(path)
    assert response.status == status
    assert await response.read() == body


async def test_unknown_api_versions_are_501(client: Client) -> None:
    response = await client.get("/api/9.9/async_status/1")
    assert response.status == 501
    text = await response.text()
    assert text.startswith('{"alerts":[{"level":"error","text":"The requested api version is not implemented')
    assert not text.endswith("\n")


async def test_a_renewal_goes_from_pending_to_succeeded(client: Client) -> None:
    await login(client)
    response = await client.post("/api/5.0/acme_autorenew/")
    assert response.status == 202
    task_id = response.headers["Location"].rsplit("/", 1)[1]
    assert response.headers["Location"] == f"/api/4.0/async_status/{task_id}"  # 4.0 even on 5.0
    assert await response.read() == alert(
        "Beginning async call to renew certificates. This may take a few minutes. "
        f"Status updates can be found here: /api/4.0/async_status/{task_id}", "success"
    )
    assert await status_of(client, task_id) == {
        "id": int(task_id), "status": "PENDING", "start_time": "2026-01-02T03:04:05Z",
        "message": "ACME async job has started.",
    }
    await client.post("/_emulator/clock/advance", json={"seconds": 10.5})
    assert (await status_of(client, task_id))["message"] == "ACME renewal in progress. 1 certs renewed, 0 errors."
    await client.post("/_emulator/clock/advance", json={"seconds": 1800})
    assert await status_of(client, task_id) == {
        "id": int(task_id), "status": "SUCCEEDED", "start_time": "2026-01-02T03:04:05Z",
        "end_time": "2026-01-02T03:05:05Z", "message": "ACME renewal complete. 2 certs renewed, 0 errors.",
    }


async def test_forced_failure_shows_failed_with_end_time(client: Client) -> None:
    await login(client)
    task_id = await start_acme(client)
    await client.post("/_emulator/clock/advance", json={"seconds": 0.25})
    await client.post(f"/_emulator/tasks/traffic_ops/{task_id}/transition", json={"phase": "failed", "message": "ACME renewal failed."})
    body = await status_of(client, task_id)
    assert (body["status"], body["end_time"], body["message"]) == ("FAILED", "2026-01-02T03:04:05.25Z", "ACME renewal failed.")


async def test_dnssec_refresh_runs_one_at_a_time(client: Client) -> None:
    await login(client)
    response = await client.put("/api/4.0/cdns/dnsseckeys/refresh")
    assert response.status == 202
    location = response.headers["Location"]
    assert await response.read() == alert(
        "Starting DNSSEC key refresh in the background. This may take a few minutes. "
        f"Status updates can be found here: {location}", "success"
    )
    again = await client.put("/api/4.0/cdns/dnsseckeys/refresh")
    assert again.status == 202 and again.headers["Location"] == "/api/4.0/async_status/0"
    assert await again.read() == alert("the server is already executing a DNSSEC refresh", "success")
    await client.post("/_emulator/clock/advance", json={"seconds": 20})
    body = await status_of(client, location.rsplit("/", 1)[1])
    assert (body["status"], body["message"]) == ("SUCCEEDED", "DNSSEC refresh completed successfully (4 keys were updated)")
    third = await client.put("/api/4.0/cdns/dnsseckeys/refresh")
    assert third.headers["Location"] not in (location, "/api/4.0/async_status/0")


async def test_creators_need_a_session(client: Client) -> None:
    response = await client.post("/api/4.0/acme_autorenew")
    assert response.status == 401
    assert (await client.get("/_emulator/tasks?api=traffic_ops")).status == 200
    assert len((await (await client.get("/_emulator/tasks?api=traffic_ops")).json())["tasks"]) == 1  # nothing made


async def test_messages_are_html_escaped_as_go_does(client: Client) -> None:
    await login(client)
    await client.post("/_emulator/tasks", json={"api": "traffic_ops", "scenario": "doc-example", "id": 9, "fields": {"message": "a<b & c>d"}})
    body = await (await client.get("/api/4.0/async_status/9")).read()
    assert b'"message":"a\\u003cb \\u0026 c\\u003ed"' in body
    assert json.loads(body)["response"]["message"] == "a<b & c>d"


async def test_wrong_methods_are_unknown_paths(client: Client) -> None:
    response = await client.delete("/api/4.0/async_status/1")
    assert response.status == 404
    assert await response.read() == alert("The requested path '/api/4.0/async_status/1' does not exist.")


@pytest.mark.parametrize(
    "credential",
    [
        {"Authorization": b"Bearer " + NOT_UTF8},
        {"Cookie": b"access_token=" + NOT_UTF8},
        {"Cookie": b"mojolicious=" + NOT_UTF8},
        {"Cookie": b"mojolicious=" + NOT_UTF8 + b"--" + NOT_UTF8},
    ],
)
async def test_credentials_that_are_not_utf8_are_refused_not_a_crash(client: Client, credential: dict[str, bytes]) -> None:
    # Found by an odd-input probe: encoding the token or cookie raised UnicodeEncodeError (a 500).
    assert await raw_status(client, "GET", "/api/4.0/async_status/1", credential) == 401

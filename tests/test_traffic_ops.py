"""Traffic Ops: every route, every error, byte for byte where the server is known."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
from typing import Any

import pytest

from .conftest import MakeClient
from .helpers import NOT_UTF8, Client, raw_status

UNKNOWN_VERSION = (
    b'{"alerts":[{"level":"error","text":"The requested api version is not implemented by this server. '
    b"If you are using a newer client with an older server, you will need to use an older client "
    b'version or upgrade your server."}]}'
)
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
    body = {"alerts": [{"text": text, "level": level}]}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"  # Go writes UTF-8


async def status_of(client: Client, task_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/4.0/async_status/{task_id}")
    assert response.status == 200, await response.text()
    return (await response.json())["response"]  # type: ignore[no-any-return]


@pytest.mark.both_stores
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
        # Go's decoder reads UTF-8 only: a UTF-16 body, with or without its byte-order mark,
        # or a UTF-8 byte-order mark, is an invalid character (Python's json takes them all).
        ('{"u":"admin","p":"twelve12"}'.encode("utf-16"), 400, "invalid character 'ÿ' looking for beginning of value"),
        ('{"u":"admin","p":"twelve12"}'.encode("utf-16-be"), 400, "invalid character '\\x00' looking for beginning of value"),
        ('{"u":"admin","p":"twelve12"}'.encode("utf-16-le"), 400,
         "invalid character '\\x00' looking for beginning of object key string"),
        (b'\xef\xbb\xbf{"u":"admin","p":"twelve12"}', 400, "invalid character 'ï' looking for beginning of value"),
        # A password that is not ASCII, or a lone surrogate (U+FFFD to Go), is just wrong.
        (b'{"u":"admin","p":"tw\\u00e9lve12"}', 401, "Invalid username or password."),  # JSON escape
        ('{"u":"admin","p":"twélve12"}'.encode(), 401, "Invalid username or password."),
        (b'{"u":"admin","p":"\\ud800"}', 401, "Invalid username or password."),
        (b'{"u":"admin","p":"\xff"}', 401, "Invalid username or password."),
        # The struct's fields are strings; a value of another kind is refused once read.
        (b'{"u":5,"p":"twelve12"}', 400, "json: cannot unmarshal number into Go struct field PasswordForm.u of type string"),
        (b'{"u":"admin","p":["x"]}', 400, "json: cannot unmarshal array into Go struct field PasswordForm.p of type string"),
        (b"[]", 400, "json: cannot unmarshal array into Go value of type auth.PasswordForm"),
        (b'"admin"', 400, "json: cannot unmarshal string into Go value of type auth.PasswordForm"),
        (b"null", 400, "username and password are required"),
        # Go's scanner words.
        (b'{"u":tru}', 400, "invalid character '}' in literal true (expecting 'e')"),
        (b'{"u" "admin"}', 400, "invalid character '\"' after object key"),
        (b'{"u":"admin" "p":"x"}', 400, "invalid character '\"' after object key:value pair"),
        (b'{"u":["a" "b"]}', 400, "invalid character '\"' after array element"),
        (b'{"u":1.}', 400, "invalid character '}' after decimal point in numeric literal"),
        (b'{"u":-x}', 400, "invalid character 'x' in numeric literal"),
        (b'{"u":"a\nb"}', 400, "invalid character '\\n' in string literal"),
        (b'{"u":"\\q"}', 400, "invalid character 'q' in string escape code"),
        (b'{"u":"\\u12g4"}', 400, "invalid character 'g' in \\u hexadecimal character escape"),
        (b'{"u":"a', 400, "unexpected EOF"),
        (b" \t\r\n", 400, "EOF"),
    ],
)
async def test_login_errors(client: Client, body: bytes, status: int, text: str) -> None:
    response = await client.post("/api/4.0/user/login", data=body)
    assert response.status == status
    assert await response.read() == alert(text)
    assert "mojolicious" not in response.cookies


@pytest.mark.parametrize(
    "body",
    [
        b'{"u":"admin","p":"twelve12"} and then anything',  # Decode reads one value
        b'{"U":"admin","P":"twelve12"}',  # keys match fields in any case
        b'{"u":"x","u":"admin","p":"twelve12","p":null,"other":1}',  # the last wins; null leaves
    ],
)
async def test_login_bodies_go_accepts(client: Client, body: bytes) -> None:
    response = await client.post("/api/4.0/user/login", data=body)
    assert response.status == 200, await response.text()


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
    response = await client.post("/api/4.0/user/login/token", data=b'{"t":1}')
    assert await response.read() == alert(
        "Invalid request: json: cannot unmarshal number into Go struct field UserToken.t of type string"
    )


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


async def test_no_session_is_401(client: Client) -> None:
    response = await client.get("/api/4.0/async_status/1")
    assert response.status == 401
    assert await response.read() == alert("unauthorized, please log in.")
    assert response.headers["Whole-Content-Sha512"]


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
            "almighty": {"priv_level": 30, "permissions": ["ALL"]},
        },
        "users": [
            {"username": "admin", "password": "pw", "role": "admin"},
            {"username": "viewer", "password": "pw", "role": "read-only"},
            {"username": "guest", "password": "pw", "role": "guest"},
            {"username": "root", "password": "pw", "role": "almighty"},
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
    await login(client, "root", "pw")  # by its name: a permission called ALL is no key
    assert (await client.get("/api/4.0/async_status/1")).status == 403


@pytest.mark.both_stores
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
        ("/api/4.0/async_status/9223372036854775808", 400,  # beyond strconv.Atoi's range
         alert("getting integer parameters: parameter 'id' not an integer")),
        ("/api/4.0/async_status/-9223372036854775808", 404, alert("Not Found")),
        # Versions are numbers to the router: 4.00 is 4.0, which has no such route.
        ("/api/4.00/async_status/1", 404, alert("The requested path '/api/4.00/async_status/1' does not exist.")),
        ("/api/4.0", 404, alert("The requested path '/api/4.0' does not exist.")),
        ("/api/4.0/", 404, alert("The requested path '/api/4.0/' does not exist.")),
    ],
)
async def test_async_status_paths(client: Client, path: str, status: int, body: bytes) -> None:
    await login(client)
    response = await client.get(path)
    assert response.status == status
    assert await response.read() == body


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/9.9/async_status/1"), ("GET", "/api"), ("GET", "/api/"), ("POST", "/api"),
     ("GET", "/api/9.9"), ("DELETE", "/api/four/x"), ("GET", "/api/4"), ("PUT", "/api/4.x/y"),
     ("GET", "/api/" + "4" * 5000 + ".0/x"), ("GET", "/api/18446744073709551616.0/x")],
)
async def test_unknown_api_versions_are_501(client: Client, method: str, path: str) -> None:
    # routing.IsRequestAPIAndUnknownVersion: no version, or none the server has.
    response = await client.request(method, path)
    assert response.status == 501
    assert await response.read() == UNKNOWN_VERSION
    assert response.headers["Content-Type"] == "application/json"
    assert "X-Server-Name" not in response.headers and "Content-Encoding" not in response.headers


@pytest.mark.parametrize("path", ["/api/4.0/async_status/1", "/api/9.9/async_status/1", "/api", "/api/4.0/user/login"])
async def test_head_and_other_unrouted_methods_get_the_catch_all_404(client: Client, path: str) -> None:
    # No route has HEAD (or PATCH): the router goes to its catch-all before any version check.
    await login(client)
    for method in ("HEAD", "PATCH", "OPTIONS"):
        response = await client.request(method, path)
        assert response.status == 404, method
        body = alert(f"The requested path '{path}' does not exist.")
        assert await response.read() == (b"" if method == "HEAD" else body)
        assert response.headers["Content-Length"] == str(len(body))
        assert "X-Server-Name" not in response.headers and "Set-Cookie" not in response.headers


@pytest.mark.both_stores
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


@pytest.mark.both_stores
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


async def exchange(client: Client, head: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names, first of each) and body bytes of a request written
    byte for byte: aiohttp's client would add Accept-Encoding and undo the gzip."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"{head}\r\nHost: {client.host}\r\nConnection: close\r\n\r\n".encode())
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    writer.close()
    await writer.wait_closed()
    return int(lines[0].split()[1]), headers, body


async def session_cookie(client: Client) -> str:
    response = await client.post("/api/4.0/user/login", json={"u": "admin", "p": "twelve12"})
    return f"mojolicious={response.cookies['mojolicious'].value}"


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        (["gzip, deflate"], True),
        (["deflate", " GZIP "], True),  # any Accept-Encoding line, any case
        (["gzip;q=1.0"], False),  # rfc.AcceptsGzip wants `gzip` itself
        (["x-gzip, br"], False),
        ([], False),
    ],
)
async def test_routed_responses_are_gzipped_when_the_client_accepts_gzip(
    client: Client, accept: list[str], gzipped: bool
) -> None:
    cookie = await session_cookie(client)
    lines = "".join(f"\r\nAccept-Encoding: {value}" for value in accept)
    status, headers, body = await exchange(client, f"GET /api/4.0/async_status/1 HTTP/1.1\r\nCookie: {cookie}{lines}")
    assert status == 200 and headers["vary"] == "Accept-Encoding"
    assert headers["content-length"] == str(len(body))
    # The digest is of the body before compression, as WrapHeaders takes it.
    assert headers["whole-content-sha512"] == base64.b64encode(hashlib.sha512(DOC_EXAMPLE).digest()).decode()
    if gzipped:
        assert headers["content-encoding"] == "gzip"
        assert body[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # Go's header: OS "unknown"
        assert gzip.decompress(body) == DOC_EXAMPLE
    else:
        assert "content-encoding" not in headers and body == DOC_EXAMPLE


async def test_errors_are_gzipped_too_but_not_the_catch_all(client: Client) -> None:
    status, headers, body = await exchange(client, "GET /api/4.0/async_status/1 HTTP/1.1\r\nAccept-Encoding: gzip")
    assert (status, headers["content-encoding"]) == (401, "gzip")
    assert gzip.decompress(body) == alert("unauthorized, please log in.")
    status, headers, body = await exchange(client, "GET /api/4.0/nothing HTTP/1.1\r\nAccept-Encoding: gzip")
    assert status == 404 and "content-encoding" not in headers
    assert body == alert("The requested path '/api/4.0/nothing' does not exist.")


async def test_a_path_with_a_newline_gets_the_json_404(client: Client) -> None:
    status, headers, body = await exchange(client, "GET /api/4.0/a%0Ab HTTP/1.1")
    assert (status, headers["content-type"]) == (404, "application/json")
    assert body == b'{"alerts":[{"text":"The requested path \'/api/4.0/a\\nb\' does not exist.","level":"error"}]}\n'


async def test_an_empty_message_is_written_not_left_out(client: Client) -> None:
    # tc.AsyncStatus.Message is a *string with omitempty: only a missing one is left out.
    await login(client)
    await client.post("/_emulator/tasks", json={"api": "traffic_ops", "scenario": "doc-example", "id": 7, "fields": {"message": ""}})
    body = await (await client.get("/api/4.0/async_status/7")).read()
    assert body == b'{"response":{"id":7,"status":"PENDING","start_time":"2026-01-02T03:04:05Z","message":""}}\n'

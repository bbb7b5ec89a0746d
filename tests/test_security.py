"""Security: credentials never reach the logs or the request journal, whatever form each API
takes them in, and no variation of a protected path gets past a vendor's auth.

The admin token's 401 is in test_control.py (test_admin_token_guards_the_control_api) and
the start-up warning for a non-loopback address without one in test_cli.py
(test_json_logs_and_the_open_control_api_warning).
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from emulator.apis.dataarts import signing

from .conftest import MakeClient
from .helpers import Client, write

PROJECT = "b384b9e9ab9b4ee8994c8633aabc9505"
ADMIN_TOKEN = "ADMIN-TOKEN-s3cr3t"
# Every credential a server is given, each unlike anything else that could be logged.
SETTINGS = f"""
traffic_ops:
  users: [{{username: admin, password: TO-PASSWORD-s3cr3t, role: admin}}]
  login_tokens: {{TO-LOGIN-TOKEN-s3cr3t: admin}}
spectrum_discover:
  users: [{{username: sdadmin, password: SD-PASSWORD-s3cr3t, role: Data admin}}]
ops_center:
  users: [{{username: fred, password: OC-PASSWORD-s3cr3t}}]
dataarts:
  access_keys: [{{ak: DAAK0000000000000001, sk: DA-SECRET-KEY-s3cr3t, projects: [{PROJECT}]}}]
  tokens: [{{token: DA-TOKEN-s3cr3t, project_id: {PROJECT}}}]
  users: [{{name: emulator, password: DA-PASSWORD-s3cr3t, domain: emulator, projects: [{PROJECT}]}}]
"""
CONFIGURED = [
    "TO-PASSWORD-s3cr3t", "TO-LOGIN-TOKEN-s3cr3t", "SD-PASSWORD-s3cr3t", "OC-PASSWORD-s3cr3t",
    "DA-SECRET-KEY-s3cr3t", "DA-TOKEN-s3cr3t", "DA-PASSWORD-s3cr3t", ADMIN_TOKEN,
]


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@dataclass
class Run:
    """A server run as a person runs it, driven through every credential form."""

    url: str
    log_format: str
    secrets: dict[str, str] = field(default_factory=dict)  # what it is -> the secret
    journal: str = ""
    log: str = ""  # stderr: where the log handler writes
    stdout: str = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send_a_malformed_request(url: str) -> None:
    """A request line aiohttp cannot parse, with a credential in a header after it."""
    host, _, port = url.removeprefix("http://").partition(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"GET %2Fapi HTTP/1.1\r\nHost: x\r\nAuthorization: Basic T0MtTUFMRk9STUVELXMzY3IzdA==\r\n\r\n")
        assert connection.recv(1024).split(b" ")[1] == b"400"


def use_every_credential(run: Run) -> None:
    """Log in and poll with each form of credential each API takes, right and wrong."""
    url, secrets = run.url, run.secrets

    def keep(what: str, value: str) -> str:
        assert value, what
        secrets[what] = value
        return value

    for name in CONFIGURED:
        keep(f"configured {name}", name)
    # Traffic Ops: a JSON login, the same as curl -d sends it (a form Content-Type), JSON
    # cut short, a wrong password, a login token; then the session cookie, the access_token
    # cookie and the JWT as a Bearer token.
    login = requests.post(f"{url}/api/4.0/user/login", json={"u": "admin", "p": "TO-PASSWORD-s3cr3t"}, timeout=10)
    assert login.status_code == 200
    cookie = keep("Traffic Ops session cookie", login.cookies["mojolicious"])
    jwt = keep("Traffic Ops access_token JWT", login.cookies["access_token"])
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert requests.post(f"{url}/api/4.0/user/login", data='{"u":"admin","p":"TO-PASSWORD-s3cr3t"}', headers=form, timeout=10).status_code == 200
    requests.post(f"{url}/api/4.0/user/login", data=b'{"u": "admin", "p": "TO-PASSWORD-s3cr3t', headers={"Content-Type": "application/json"}, timeout=10)
    requests.post(f"{url}/api/4.0/user/login", data=b"u=admin&p=TO-PASSWORD-s3cr3t", headers=form, timeout=10)
    requests.post(f"{url}/api/4.0/user/login", json={"u": "admin", "p": keep("a wrong TO password", "TO-WRONG-s3cr3t")}, timeout=10)
    assert requests.post(f"{url}/api/4.0/user/login/token", json={"t": "TO-LOGIN-TOKEN-s3cr3t"}, timeout=10).status_code == 200
    status = f"{url}/api/4.0/async_status/1"
    assert requests.get(status, cookies={"mojolicious": cookie}, timeout=10).status_code == 200
    assert requests.get(status, cookies={"access_token": jwt}, timeout=10).status_code == 200
    assert requests.get(status, headers={"Authorization": f"Bearer {jwt}"}, timeout=10).status_code == 200
    requests.get(status, cookies={"mojolicious": keep("a forged TO cookie", "TO-FORGED-COOKIE-s3cr3t")}, timeout=10)
    # Spectrum Discover: Basic for a token (handed back in X-Auth-Token), the token as
    # Bearer and as X-Auth-Token, Basic with the in-cluster header, a wrong password.
    sd_basic = keep("Spectrum Discover Basic header", basic("sdadmin", "SD-PASSWORD-s3cr3t"))
    token_response = requests.get(f"{url}/auth/v1/token", headers={"Authorization": sd_basic}, timeout=10)
    token = keep("Spectrum Discover token", token_response.headers["X-Auth-Token"])
    peek = f"{url}/db2whrest/v1/task_status/9c0db090-bd33-41c5-969f-a1603ddf49ab/peek"
    assert requests.get(peek, headers={"Authorization": f"Bearer {token}", "X-Auth-Token": token}, timeout=10).status_code == 200
    assert requests.get(peek, headers={"Authorization": sd_basic, "X-ALLOW-BASIC-AUTH-SD": "true"}, timeout=10).status_code == 200
    query = requests.post(f"{url}/db2whrest/v1/sql_query_async", data="select * from metaocean", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert query.status_code == 202
    requests.get(f"{url}/auth/v1/token", headers={"Authorization": keep("a wrong SD Basic header", basic("sdadmin", "SD-WRONG-s3cr3t"))}, timeout=10)
    # Ops Center: Basic, right and wrong.
    oc_basic = keep("Ops Center Basic header", basic("fred", "OC-PASSWORD-s3cr3t"))
    oc_status = f"{url}/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344"
    assert requests.get(oc_status, headers={"Authorization": oc_basic}, timeout=10).status_code == 200
    requests.get(oc_status, headers={"Authorization": keep("a wrong OC Basic header", basic("fred", "OC-WRONG-s3cr3t"))}, timeout=10)
    # DataArts: an AK/SK signature, the configured IAM token, a password for an issued
    # token (handed back in X-Subject-Token) and that token, a wrong password.
    target = f"/v1/{PROJECT}/system-tasks/008aae2e675d3bcb01675d3c66f20000"
    host = url.removeprefix("http://")
    clock = requests.get(f"{url}/_emulator/clock", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10).json()
    signed = signing.sign_headers("GET", target, {"Host": host}, b"", "DAAK0000000000000001", "DA-SECRET-KEY-s3cr3t", clock["now"])
    keep("DataArts signature", signed["Authorization"].rpartition("Signature=")[2])
    assert requests.get(url + target, headers=signed, timeout=10).status_code == 200
    assert requests.get(url + target, headers={"X-Auth-Token": "DA-TOKEN-s3cr3t"}, timeout=10).status_code == 200
    iam = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "emulator", "password": "DA-PASSWORD-s3cr3t", "domain": {"name": "emulator"}}}},
        "scope": {"project": {"id": PROJECT}}}}
    issued = requests.post(f"{url}/v3/auth/tokens", json=iam, timeout=10)
    assert issued.status_code == 201
    subject = keep("DataArts issued token", issued.headers["X-Subject-Token"])
    assert requests.get(url + target, headers={"X-Auth-Token": subject}, timeout=10).status_code == 200
    iam["auth"]["identity"]["password"]["user"]["password"] = keep("a wrong DataArts password", "DA-WRONG-s3cr3t")  # type: ignore[index]
    assert requests.post(f"{url}/v3/auth/tokens", json=iam, timeout=10).status_code == 401
    # The journal, read as a test reads it.
    journal = requests.get(f"{url}/_emulator/requests", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    assert journal.status_code == 200 and len(journal.json()["requests"]) >= 20
    run.journal = journal.text


@pytest.fixture(scope="module", params=[("json", "info"), ("text", "debug")], ids=["json-info", "text-debug"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    log_format, level = request.param
    config = write(tmp_path_factory.mktemp("security"), "settings.yaml", SETTINGS)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--clock", "virtual",
         "--config", str(config), "--admin-token", ADMIN_TOKEN, "--log-format", log_format, "--log-level", level],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    run = Run(f"http://127.0.0.1:{port}", log_format)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(run.url + "/_emulator/health", timeout=1):
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        use_every_credential(run)
        send_a_malformed_request(run.url)
        process.send_signal(signal.SIGTERM)
        run.stdout, run.log = process.communicate(timeout=30)
        assert process.returncode == 0
        yield run
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_no_credential_reaches_the_journal(served: Run) -> None:
    leaked = [what for what, secret in served.secrets.items() if secret in served.journal]
    assert leaked == []
    assert "[redacted]" in served.journal


def test_no_credential_reaches_the_logs(served: Run) -> None:
    # The scan must have seen the access log and the emulator's own lines to mean anything.
    assert "GET /api/4.0/async_status/1 HTTP/1.1" in served.log
    assert "POST /v3/auth/tokens" in served.log
    leaked = [what for what, secret in served.secrets.items() if secret in served.log]
    assert leaked == []


def test_a_request_that_is_not_http_is_one_warning_line_not_a_traceback(served: Run) -> None:
    assert "Traceback" not in served.log
    assert "a request that is not valid HTTP" in served.log
    assert "T0MtTUFMRk9STUVELXMzY3IzdA" not in served.log


def test_json_logs_are_one_object_a_line(served: Run) -> None:
    if served.log_format == "text":
        assert "INFO aiohttp.access:" in served.log
        return
    records = [json.loads(line) for line in served.log.splitlines()]
    assert {r["logger"] for r in records} >= {"aiohttp.access"}


def test_configured_credentials_are_not_printed_at_start_up(served: Run) -> None:
    """stdout is kept in CI logs and `docker logs`: the banner names configured users but
    shows only the built-in passwords, which are public anyway."""
    assert "listening on" in served.stdout
    leaked = [what for what, secret in served.secrets.items() if secret in served.stdout]
    assert leaked == []
    assert "admin/[from --config]" in served.stdout


# ---- protected paths ---------------------------------------------------------------------------

SPECTRUM_TASK = "9c0db090-bd33-41c5-969f-a1603ddf49ab"
DATAARTS_TASK = "008aae2e675d3bcb01675d3c66f20000"
PROTECTED = {
    "traffic_ops": "/api/4.0/async_status/1",
    "spectrum_discover": f"/db2whrest/v1/task_status/{SPECTRUM_TASK}",
    "spectrum_discover peek": f"/db2whrest/v1/task_status/{SPECTRUM_TASK}/peek",
    "spectrum_discover query": "/db2whrest/v1/sql_query_async?select%20*%20from%20metaocean",
    "ops_center": "/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344",
    "dataarts": f"/v1/{PROJECT}/system-tasks/{DATAARTS_TASK}",
    "dataarts camel case": f"/v1/{PROJECT}/systemTasks/{DATAARTS_TASK}",
    "control": "/_emulator/tasks",
}
# What a successful answer of each would carry, which no variant may show.
DATA = ("PENDING", "SUCCEEDED", "work ", "reflib", '"status":{', "taskId", '"tasks"', '"requestId":')


def variants(path: str) -> list[str]:
    """The path written every way that could slip past a check made on its exact text."""
    first, _, rest = path[1:].partition("/")
    segments = path[1:].split("/")
    return [
        path + "/",                                    # a trailing slash
        "/" + path,                                    # a leading double slash
        path.replace("/", "//"),                       # every slash doubled
        f"/{first}//{rest}",                           # one doubled slash inside
        path.upper(),                                  # case
        path[:1] + path[1:2].upper() + path[2:],      # the first letter only
        f"/{first}/./{rest}" if rest else f"/./{first}",  # dot segments
        f"/{first}/x/../{rest}" if rest else f"/x/../{first}",
        f"/x/../{first}/{rest}",
        path + "/.",
        path + "/..",
        f"/{first}%2F{rest}",                          # an encoded slash
        path.replace("/", "%2F"),
        # each segment's first letter %-encoded (/%61pi/4.0/%61sync_status/1)
        "/" + "/".join(f"%{ord(s[0]):02x}{s[1:]}" if s else s for s in segments),
        path.replace("a", "%61").replace("s", "%73"),
        path.replace("_", "%5F").replace("-", "%2D"),
        path.replace("/", "/%2e/", 1),
        path + ";x",                                   # a path parameter
        path + "%00",                                  # an encoded NUL
        path + "%20",
        path + "#fragment",
    ]


async def raw_get(client: Client, target: str) -> tuple[int, bytes]:
    """Status and body of a GET written byte for byte: a client library would tidy `..`,
    `//` and %-escapes away before sending them."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {client.host}\r\nConnection: close\r\n\r\n".encode())
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("name", list(PROTECTED))
async def test_no_path_variant_gets_past_auth(make_client: MakeClient, name: str) -> None:
    client = await make_client(admin_token=ADMIN_TOKEN)
    target = PROTECTED[name]
    path, _, query = target.partition("?")
    status, _ = await raw_get(client, target)
    assert status == 401  # the path as written: the vendor's (or the control API's) refusal
    tried = variants(path)
    tried += [v + "?" + query for v in tried] if query else []
    before = (await (await client.get("/_emulator/tasks", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})).json())["tasks"]
    answers = {}
    for variant in tried:
        status, body = await raw_get(client, variant)
        answers[variant] = status
        assert status in (400, 401, 404) or (name == "traffic_ops" and status == 501), (variant, status, body[:200])
        assert not any(marker.encode() in body for marker in DATA), (variant, body[:200])
    # Not one of them created or moved a task (a variant of the query route that got
    # through would have made one).
    after = (await (await client.get("/_emulator/tasks", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})).json())["tasks"]
    assert after == before
    assert 401 in answers.values() and 404 in answers.values()  # both kinds of refusal were seen


def test_the_variants_cover_what_the_issue_lists() -> None:
    tried = variants("/api/4.0/async_status/1")
    for expected in ("/api/4.0/async_status/1/", "//api/4.0/async_status/1", "/API/4.0/ASYNC_STATUS/1",
                     "/api/./4.0/async_status/1", "/api/x/../4.0/async_status/1", "/api%2F4.0/async_status/1",
                     "/%61pi/%34.0/%61sync_status/%31"):
        assert expected in tried, expected

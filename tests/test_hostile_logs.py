"""No secret in a log line, whatever a client sends: malformed header lines carrying the admin
token (aiohttp quotes the raw bytes of the line it stopped at), secrets in the query string
and the Referer (the access log writes both); and the start-up checks of the admin token
and of the address the server listens on.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiohttp.http_exceptions import BadHttpMessage, InvalidHeader, LineTooLong

from emulator.serve_command import _is_loopback
from emulator.logs import (
    ClientMistakes,
    SecretQueries,
    protect_loggers,
    redact_query_text,
    what_was_wrong,
)

ADMIN_TOKEN = "ADMIN-TOKEN-s3cr3t"
# Request heads aiohttp refuses, each with the admin token in the line it stops at.
MALFORMED = [
    b"GET /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN_TOKEN.encode() + b"\x7f\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN_TOKEN.encode() + b"\x00x\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN_TOKEN.encode() + b"\rx\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: x\r\nAuthorization Bearer " + ADMIN_TOKEN.encode() + b"\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: x\r\nAuth\x7forization: Bearer " + ADMIN_TOKEN.encode() + b"\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 9000 + ADMIN_TOKEN.encode() + b"\r\n\r\n",
    b"GET /x\x01" + ADMIN_TOKEN.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ADMIN_TOKEN.encode() + b" /x HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: " + ADMIN_TOKEN.encode() + b"\r\n\r\n",
]
QUERY_SECRETS = ["QUERY-TOKEN-s3cr3t", "QUERY-ACCESS-s3cr3t", "REFERER-TOKEN-s3cr3t", "QUERY-ENCODED-s3cr3t"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        return connection.recv(4096)


@dataclass
class Served:
    log_format: str
    log: str
    statuses: list[bytes]


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )


def wait_until_up(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/health", timeout=1):
                return
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)


@pytest.fixture(scope="module", params=["text", "json"])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    port = free_port()
    process = serve("--port", str(port), "--admin-token", ADMIN_TOKEN, "--log-format", request.param,
                    "--log-level", "debug")
    try:
        wait_until_up(process, port)
        statuses = [exchange(port, head).split(b" ")[1] for head in MALFORMED]
        query = (f"/nowhere?token={QUERY_SECRETS[0]}&access_token={QUERY_SECRETS[1]}&%74oken={QUERY_SECRETS[3]}"
                 "&keep=visible")
        exchange(port, f"GET {query} HTTP/1.1\r\nHost: x\r\nReferer: http://h/?t={QUERY_SECRETS[2]}\r\n"
                       "Connection: close\r\n\r\n".encode())
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=30)
        yield Served(request.param, log, statuses)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_a_malformed_header_line_is_logged_without_its_bytes(served: Served) -> None:
    assert served.statuses == [b"400"] * len(MALFORMED)
    assert ADMIN_TOKEN not in served.log
    assert "Invalid header value char (in the Authorization header)" in served.log
    assert "Traceback" not in served.log
    if served.log_format == "json":
        records = [json.loads(line) for line in served.log.splitlines()]
        warnings = [r for r in records if r["message"].startswith("a request that is not valid HTTP")]
        assert len(warnings) >= len(MALFORMED) - 1  # one is a "Received HTTPS traffic"-like debug line


def test_secret_query_parameters_and_referers_are_redacted_in_the_access_log(served: Served) -> None:
    assert [s for s in QUERY_SECRETS if s in served.log] == []
    assert "GET /nowhere?token=[redacted]&access_token=[redacted]&%74oken=[redacted]&keep=visible" in served.log
    assert "http://h/?t=[redacted]" in served.log


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (BadHttpMessage("Invalid header value char:\n\n  b'Authorization: Bearer X\\x7f'\n  ^"),
         "Invalid header value char (in the Authorization header)"),
        (LineTooLong(b"A" * 100 + b"...", 8190), "Got more than 8190 bytes when reading"),
        (InvalidHeader(b"Authorization: Bearer X"), "Invalid HTTP header (in the Authorization header)"),
        (BadHttpMessage("Bad status line 'X SECRET'"), "Bad status line"),
        (BadHttpMessage("Content-Length can't be present with Transfer-Encoding"),
         "Content-Length can't be present with Transfer-Encoding"),
    ],
)
def test_what_was_wrong_never_quotes_the_bytes(error: Exception, said: str) -> None:
    assert what_was_wrong(error) == said


def test_the_filters_sit_on_aiohttps_loggers_for_every_handler(caplog: pytest.LogCaptureFixture) -> None:
    protect_loggers()
    protect_loggers()  # once is enough, however often it is called
    server, access = logging.getLogger("aiohttp.server"), logging.getLogger("aiohttp.access")
    assert sum(isinstance(f, ClientMistakes) for f in server.filters) == 1
    assert sum(isinstance(f, SecretQueries) for f in access.filters) == 1
    with caplog.at_level(logging.DEBUG):
        error = BadHttpMessage("Invalid header value char:\n\n  b'Cookie: s=SECRET\\x7f'\n  ^")
        server.error("Error handling request from %s", "127.0.0.1", exc_info=error)
        access.info('1.2.3.4 "GET /x?token=SECRET HTTP/1.1" 200', extra={"first_request_line": "GET /x?token=SECRET HTTP/1.1"})
    assert "SECRET" not in caplog.text
    assert all("SECRET" not in getattr(r, "first_request_line", "") for r in caplog.records)
    assert caplog.records[0].levelname == "WARNING"


def test_redact_query_text_only_blanks_secret_names() -> None:
    assert redact_query_text("/a?x=1&password=p&P=2;token=t#f") == "/a?x=1&password=[redacted]&P=[redacted];token=[redacted]#f"
    assert redact_query_text("a plain line, no query") == "a plain line, no query"


# ---- start-up: the admin token and the address -------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1", True), ("127.0.1", True), ("0x7f.1", True), ("2130706433", True),
     ("localhost", True), ("LOCALHOST.", True), ("::1", True), ("[::1]", True), ("::ffff:127.0.0.1", True),
     ("0.0.0.0", False), ("", False), ("::", False), ("10.0.0.1", False), ("128.1", False),
     ("example.com", False), ("127.1 x", False)],
)
def test_a_loopback_address_is_read_as_the_resolver_reads_it(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("args", "env"),
    [([], {"TASK_EMULATOR_ADMIN_TOKEN": ""}), (["--host", "0.0.0.0"], {"TASK_EMULATOR_ADMIN_TOKEN": ""}),
     (["--admin-token", " s3cret"], {})],
    ids=["empty", "empty on 0.0.0.0", "leading space"],
)
def test_an_admin_token_no_client_can_send_stops_the_server_at_start(args: list[str], env: dict[str, str]) -> None:
    process = serve("--port", str(free_port()), *args, env=env)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("task-emulator: --admin-token")
    assert "Traceback" not in err and "listening" not in out


def test_a_short_loopback_address_gets_no_open_control_api_warning() -> None:
    port = free_port()
    process = serve("--host", "127.1", "--port", str(port), "--log-format", "json")
    try:
        wait_until_up(process, port)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert "without --admin-token" not in err
    assert process.returncode == 0

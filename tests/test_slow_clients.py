"""Clients that are slow, stalled or too many, over raw sockets on 127.0.0.1 (a client
library would refuse to half-send a request): every read has a deadline, the number of
connections a cap, and a long answer does not hold up the others. Each test runs on both
event loops `task-emulator serve` can use (the server on a loop thread of that kind).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.cli import build_parser, main
from emulator.config import EmulatorConfig
from emulator.server import EmulatorServer, LoopThread
from emulator.serving import ServeLimits

from .helpers import write
from .test_shutdown import AUTH, BIG_RESULT, TASK, Serve, dechunk, serve  # noqa: F401

LOOP_FACTORIES: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
try:
    import uvloop

    LOOP_FACTORIES["uvloop"] = uvloop.new_event_loop
except ImportError:  # not installed on Windows
    pass

STATUS_1 = "/api/4.0/async_status/1"  # Traffic Ops: 401 without a session, body or not
LOGIN = "/api/4.0/user/login"  # Traffic Ops: reads a JSON body
WAIT = 10.0  # how long a client waits for what must come: far more than any deadline below

MakeServer = Callable[..., EmulatorServer]


@pytest.fixture(params=sorted(LOOP_FACTORIES))
def make_server(request: pytest.FixtureRequest, store: str | None) -> Iterator[MakeServer]:
    """Servers on an event loop of each kind, keeping their state in each store (conftest)."""
    loop_thread = LoopThread(loop_factory=LOOP_FACTORIES[request.param])
    servers: list[EmulatorServer] = []

    def make(config: EmulatorConfig | None = None, **limits: Any) -> EmulatorServer:
        config = dataclasses.replace(config or EmulatorConfig(clock="virtual", seed=7), store=store)
        server = EmulatorServer(config, loop_thread=loop_thread, limits=ServeLimits(**limits))
        servers.append(server.start())
        return server

    yield make
    for server in servers:
        server.stop()
    loop_thread.stop()


def connect(server: EmulatorServer) -> socket.socket:
    assert server.port is not None
    return socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes (socket.timeout if it never does)."""
    received = bytearray()
    while chunk := sock.recv(1 << 20):
        received += chunk
    return bytes(received)


# ---- read deadlines --------------------------------------------------------------------------


def test_a_half_sent_request_head_is_answered_408_and_closed(make_server: MakeServer) -> None:
    server = make_server(read_timeout=0.3)
    with connect(server) as sock:
        sock.sendall(f"GET {STATUS_1} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())  # no end of head
        assert read_all(sock).startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(make_server: MakeServer) -> None:
    server = make_server(read_timeout=0.3)
    with connect(server) as sock:
        assert read_all(sock) == b""


def test_a_head_sent_a_byte_at_a_time_gets_no_more_than_its_deadline(make_server: MakeServer) -> None:
    server = make_server(read_timeout=0.5)
    head = f"GET {STATUS_1} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {'p' * 200}\r\n\r\n".encode()
    with connect(server) as sock:
        closed = threading.Event()
        sent = 0
        try:
            for byte in head:  # 0.05 s apart: the head would take over 10 s
                sock.sendall(bytes([byte]))
                sent += 1
                if closed.wait(0.05):
                    break
                sock.setblocking(False)
                try:
                    if sock.recv(65536, socket.MSG_PEEK):
                        closed.set()
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
                    sock.settimeout(WAIT)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < len(head)
        assert read_all(sock).startswith(b"HTTP/1.1 408")


def test_a_stalled_body_fails_its_read_with_408_and_is_journaled(make_server: MakeServer) -> None:
    server = make_server(read_timeout=0.3)
    with connect(server) as sock:
        sock.sendall(
            f"POST {LOGIN} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: 1000\r\n\r\n{{\"u\": ".encode()
        )
        assert read_all(sock).startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    (entry,) = server.call(lambda: server.runtime.journal.entries())
    assert (entry.method, entry.status) == ("POST", 408)


def test_a_get_with_a_body_is_answered_without_reading_it(make_server: MakeServer) -> None:
    # The route takes no body: its answer does not wait for one, however slow.
    server = make_server(read_timeout=60)
    with connect(server) as sock:
        sock.sendall(f"GET {STATUS_1} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n".encode())
        sock.sendall(b"x" * 1000)
        assert sock.recv(65536).startswith(b"HTTP/1.1 401")


# ---- the connection cap ----------------------------------------------------------------------


def test_connections_past_the_cap_get_503_and_one_log_line(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(max_connections=3)
    held = [connect(server) for _ in range(3)]
    for sock in held:  # each one served, so each one counted
        sock.sendall(f"GET {STATUS_1} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 401")
    with caplog.at_level(logging.WARNING, logger="task_emulator"):
        for _ in range(5):
            with connect(server) as sock:
                sock.sendall(f"GET {STATUS_1} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                answer = read_all(sock)
            assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            assert b"Retry-After: 1\r\n" in answer and answer.endswith(b"(--max-connections)\"}\n")
    refusals = [r for r in caplog.records if "refused a connection" in r.getMessage()]
    assert len(refusals) == 1 and "the most --max-connections allows" in refusals[0].getMessage()
    held.pop().close()
    for _ in range(100):  # the server sees the close a moment later
        with connect(server) as sock:
            sock.sendall(f"GET {STATUS_1} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            if read_all(sock).startswith(b"HTTP/1.1 401"):
                break
    else:
        pytest.fail("a connection closed did not free its place")
    for sock in held:
        sock.close()


# ---- long answers ----------------------------------------------------------------------------


def test_truncating_a_long_result_stream_reads_only_its_start(make_server: MakeServer, tmp_path: Path) -> None:
    scenario = write(tmp_path, "big.yaml", BIG_RESULT.format(rows=100_000, task=TASK))  # about 33 MB
    server = make_server(EmulatorConfig(clock="virtual", seed=3, scenario_paths=(scenario,)))
    fault = requests.post(
        server.url + "/_emulator/faults",
        json={"kind": "truncate", "fraction": 0.5, "api": "spectrum_discover", "task": TASK}, timeout=WAIT,
    )
    assert fault.status_code == 201
    with connect(server) as sock:
        head = [f"GET /db2whrest/v1/task_status/{TASK} HTTP/1.1", "Host: 127.0.0.1"]
        sock.sendall(("\r\n".join(head + [f"{k}: {v}" for k, v in AUTH.items()]) + "\r\n\r\n").encode())
        received = read_all(sock)
    status, _, body = received.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in status
    assert not body.endswith(b"\r\n0\r\n\r\n")  # no last chunk: the client sees an incomplete body
    with pytest.raises((AssertionError, ValueError)):
        dechunk(body)
    # Half of what was read ahead (1 MiB and the rest of its chunk), not half of 33 MB.
    assert 256 * 1024 < len(body) < 2 * 1024 * 1024


def test_a_fast_download_does_not_hold_up_other_requests(serve: Serve) -> None:  # noqa: F811 (the fixture)
    served = serve(rows=100_000)  # about 33 MB: a second or more of work for the server
    port = int(served.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        head = [f"GET /db2whrest/v1/task_status/{TASK} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        sock.sendall(("\r\n".join(head + [f"{k}: {v}" for k, v in AUTH.items()]) + "\r\n\r\n").encode())
        assert sock.recv(1024)  # the answer has begun
        reading = threading.Thread(target=lambda: read_all(sock))  # as fast as it comes
        reading.start()
        assert requests.get(served.url + "/_emulator/health", timeout=60).status_code == 200
        reading.join(timeout=60)
    served.process.send_signal(signal.SIGTERM)
    log = served.stop_and_wait(timeout=30)
    order = [line for line in log.splitlines() if "aiohttp.access" in line][1:]  # after start-up's
    # The access log has a line per answer, when it is done: health's came first.
    assert "/_emulator/health" in order[0] and f"/task_status/{TASK}" in order[1], order


# ---- the options -----------------------------------------------------------------------------


def test_the_limits_default_and_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.max_connections, args.read_timeout, args.idle_timeout, args.shutdown_grace) == (1000, 15, 75, 5)
    monkeypatch.setenv("TASK_EMULATOR_SHUTDOWN_GRACE", "0")
    monkeypatch.setenv("TASK_EMULATOR_MAX_CONNECTIONS", "20")
    args = build_parser().parse_args(["serve"])
    assert (args.shutdown_grace, args.max_connections) == (0, 20)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--max-connections", "0"], {}, "argument --max-connections: invalid"),
        (["--read-timeout", "0"], {}, "argument --read-timeout: invalid"),
        ([], {"TASK_EMULATOR_IDLE_TIMEOUT": "-1"}, "argument --idle-timeout: invalid"),
        (["--shutdown-grace", "-1"], {}, "argument --shutdown-grace: invalid"),
        (["--shutdown-grace", "inf"], {}, "argument --shutdown-grace: invalid"),
    ],
)
def test_bad_limits_are_usage_errors(
    argv: list[str], env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        main(["serve", *argv])
    assert exited.value.code == 2 and message in capsys.readouterr().err

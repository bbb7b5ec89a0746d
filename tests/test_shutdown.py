"""Graceful shutdown of `task-emulator serve`: on SIGTERM or SIGINT it takes no new
connections, lets the requests in flight finish within the grace period, says so in the log
and exits 0; an answer that cannot finish in time is cut with a reset, never ended as if it
were whole; delayed answers end at once; a second signal stops it at once. On both event
loops `serve` can use. And `EmulatorServer.stop` (the test fixtures'): it never waits out an
injected delay.

The slow request is a Spectrum Discover result of 50,000 rows (about 16 MB of CSV),
streamed to a client whose socket has a small receive buffer: the server can write no
faster than the client reads, so the answer is still being written when the signal comes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from emulator.testing import TaskEmulator

from .helpers import write

LOOPS = ["asyncio"]
try:
    import uvloop  # noqa: F401

    LOOPS.append("uvloop")
except ImportError:  # not installed on Windows
    pass

TASK = "0b1e2c3d-0000-4000-8000-000000000001"
ROWS = 50_000
BIG_RESULT = """\
api: spectrum_discover
name: big-result
lifecycle:
  - phase: succeeded
results:
  count: {rows}
preload:
  - id: {task}
"""
# sdadmin:Passw0rd, with the header that lets Basic credentials through in a cluster.
AUTH = {"Authorization": "Basic c2RhZG1pbjpQYXNzdzByZA==", "X-ALLOW-BASIC-AUTH-SD": "true"}


class Served:
    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process = process
        self.url = url
        self.result_url = f"{url}/db2whrest/v1/task_status/{TASK}"

    def stop_and_wait(self, timeout: float) -> str:
        """The process's stderr (its log) once it has exited."""
        _, err = self.process.communicate(timeout=timeout)
        return err.decode()


Serve = Callable[..., Served]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start `task-emulator serve` with the big result, and `args` and `env` added."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*args: str, env: dict[str, str] | None = None, rows: int = ROWS) -> Served:
        scenario = write(tmp_path, "big.yaml", BIG_RESULT.format(rows=rows, task=TASK))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--clock", "virtual", "--seed", "3",
             "--scenarios", str(scenario), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
        )
        processes.append(process)
        served = Served(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(served.url + "/_emulator/health", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        return served

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def served(serve: Serve) -> Served:
    return serve()


class SlowClient:
    """A GET on a socket with a small receive buffer, read only when asked to."""

    def __init__(self, served: Served) -> None:
        self.sock = socket.socket()
        # Set before connecting, so the kernel cannot grow it and swallow the whole answer.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        self.sock.settimeout(30)
        host, port = served.url.removeprefix("http://").split(":")
        self.sock.connect((host, int(port)))
        head = [f"GET /db2whrest/v1/task_status/{TASK} HTTP/1.1", f"Host: {host}", "Connection: close"]
        head += [f"{name}: {value}" for name, value in AUTH.items()]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        self.received = bytearray()

    def read(self, size: int) -> None:
        self.received += self.sock.recv(size)

    def read_to_the_end(self, pause_every: int = 0) -> bytes:
        """The answer's body, de-chunked; the server closes the connection after it."""
        reads = 0
        while chunk := self.sock.recv(64 * 1024):
            self.received += chunk
            reads += 1
            if pause_every and reads % pause_every == 0:
                time.sleep(0.01)
        self.sock.close()
        head, _, body = bytes(self.received).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in head, head
        return dechunk(body)


def dechunk(body: bytes) -> bytes:
    """A chunked body's content; AssertionError when it was cut short."""
    content = bytearray()
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert body == b"\r\n", "no final CRLF"
            return bytes(content)
        assert len(body) >= size + 2, "a chunk cut short"
        content += body[:size]
        body = body[size + 2 :]


def accepts_connections(url: str) -> bool:
    try:
        requests.get(url + "/_emulator/health", timeout=2)
    except requests.ConnectionError:
        return False
    except requests.Timeout:
        # Taken, then not answered in time: a busy server that has not yet stopped
        # listening (the caller asks again, until its deadline).
        return True
    return True


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_result_streaming_when_the_signal_comes_is_sent_in_full(
    serve: Serve, signum: signal.Signals, loop: str
) -> None:
    # A grace period far longer than the answer takes, however busy the machine.
    served = serve("--loop", loop, "--shutdown-grace", "60")
    whole = requests.get(served.result_url, headers=AUTH, timeout=30)
    assert whole.status_code == 200 and whole.content.count(b"\n") == ROWS

    in_flight = SlowClient(served)
    in_flight.read(16 * 1024)  # the server is writing; the rest waits on this reader
    served.process.send_signal(signum)
    # It stops taking connections (how soon depends on how busy the machine is) ...
    deadline = time.monotonic() + 10
    while accepts_connections(served.url):
        assert time.monotonic() < deadline, "still taking connections 10 s after the signal"
        time.sleep(0.1)
    # ... while the answer in flight keeps it running.
    assert served.process.poll() is None
    # Read slowly, so the server goes on writing well after the signal.
    assert in_flight.read_to_the_end(pause_every=20) == whole.content  # every row, properly ended

    log = served.stop_and_wait(timeout=30)
    assert served.process.returncode == 0
    lines = log.strip().splitlines()
    assert f"INFO task_emulator: {signum.name}: no new connections; finishing the requests in flight" in log
    assert lines[-1].endswith("INFO task_emulator: stopped")
    # The streamed answer was logged as complete, before "stopped".
    assert f'"GET /db2whrest/v1/task_status/{TASK} HTTP/1.1" 200' in lines[-2]
    assert "Traceback" not in log and "ERROR" not in log


def test_an_idle_server_stops_at_once_with_the_same_lines(served: Served) -> None:
    started = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    log = served.stop_and_wait(timeout=30)
    assert served.process.returncode == 0 and time.monotonic() - started < 10
    assert "SIGTERM: no new connections" in log and log.strip().endswith("INFO task_emulator: stopped")


def test_a_second_signal_stops_at_once(served: Served) -> None:
    # A client that stops reading: the server would wait for it for a minute or two.
    stuck = SlowClient(served)
    stuck.read(16 * 1024)
    served.process.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert served.process.poll() is None  # still waiting for the request in flight
    started = time.monotonic()
    served.process.send_signal(signal.SIGINT)
    log = served.stop_and_wait(timeout=30)
    assert time.monotonic() - started < 10
    assert served.process.returncode == 1
    assert "WARNING task_emulator: SIGINT again: stopped at once, requests in flight cut short" in log
    assert "Traceback" not in log
    stuck.sock.close()


@pytest.mark.parametrize("loop", LOOPS)
def test_an_answer_that_cannot_finish_in_the_grace_period_is_cut_with_a_reset(serve: Serve, loop: str) -> None:
    served = serve("--loop", loop, env={"TASK_EMULATOR_SHUTDOWN_GRACE": "1"})
    stalled = SlowClient(served)
    stalled.read(16 * 1024)  # then reads nothing until the server has exited
    started = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    log = served.stop_and_wait(timeout=30)
    assert time.monotonic() - started < 10  # the grace period, not aiohttp's minute or two
    assert served.process.returncode == 0
    # What the client reads now: some more of the body, then an error, never a clean end.
    with pytest.raises(ConnectionResetError):
        while stalled.sock.recv(64 * 1024):
            pass
    stalled.sock.close()
    assert "SIGTERM: no new connections; finishing the requests in flight (for up to 1s;" in log
    assert (
        f"WARNING task_emulator: the grace period (1s) is over: 1 answer(s) cut short, their clients saw "
        f"a reset: GET /db2whrest/v1/task_status/{TASK}"
    ) in log
    assert log.strip().endswith("INFO task_emulator: stopped") and "Traceback" not in log


@pytest.mark.parametrize("loop", LOOPS)
def test_an_answer_held_back_by_a_latency_fault_is_answered_at_once_on_shutdown(serve: Serve, loop: str) -> None:
    served = serve("--loop", loop, "--shutdown-grace", "60")
    fault = requests.post(
        served.url + "/_emulator/faults", json={"kind": "latency", "seconds": 120, "path": "/api/*"}, timeout=10
    )
    assert fault.status_code == 201
    answers: list[requests.Response] = []
    waiting = threading.Thread(
        target=lambda: answers.append(requests.get(served.url + "/api/4.0/async_status/1", timeout=60))
    )
    waiting.start()
    deadline = time.monotonic() + 10
    while requests.get(served.url + "/_emulator/faults", timeout=10).json()["faults"][0]["applied"] == 0:
        assert time.monotonic() < deadline, "the request never reached the server"
        time.sleep(0.05)
    started = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    log = served.stop_and_wait(timeout=30)
    waiting.join(timeout=30)
    assert time.monotonic() - started < 10  # neither the fault's 120 s nor the grace period's 60
    assert served.process.returncode == 0 and "cut short" not in log
    (answer,) = answers
    assert answer.status_code == 503 and answer.headers["X-Task-Emulator-Fault"] == fault.json()["id"]
    assert answer.headers["Connection"] == "close"


# ---- EmulatorServer.stop, the fixtures' tear-down --------------------------------------------

STATUS_1 = "/api/4.0/async_status/1"


def test_stopping_a_server_does_not_wait_out_a_latency_the_client_gave_up_on() -> None:
    emulator = TaskEmulator.start()
    try:
        emulator.inject("latency", seconds=30)
        with pytest.raises(requests.ReadTimeout):
            requests.get(emulator.url + STATUS_1, timeout=0.5)
    finally:
        started = time.monotonic()
        emulator.stop()
    assert time.monotonic() - started < 5  # not the 29.5 s left of the fault


def test_a_reset_answers_a_delayed_request_at_once() -> None:
    with TaskEmulator.start() as emulator:
        fault = emulator.inject("latency", seconds=30, path="/api/*")
        answers: list[requests.Response] = []
        waiting = threading.Thread(target=lambda: answers.append(requests.get(emulator.url + STATUS_1, timeout=20)))
        waiting.start()
        deadline = time.monotonic() + 10
        while fault.applied == 0:
            assert time.monotonic() < deadline, "the request never reached the server"
            time.sleep(0.02)
        started = time.monotonic()
        emulator.reset()
        waiting.join(timeout=20)
        assert time.monotonic() - started < 5
        (answer,) = answers
        assert answer.status_code == 503 and answer.headers["X-Task-Emulator-Fault"] == fault.id
        assert emulator.faults() == []  # and the reset did reset
        # Answered after the reset, it is the new journal's first entry, as what it was.
        assert [(e["status"], e["fault"]) for e in emulator.requests()] == [(503, "latency")]
        assert requests.get(emulator.url + STATUS_1, timeout=10).status_code == 401  # no delay now


def test_stopping_a_server_cuts_a_dribbled_body_with_a_reset() -> None:
    emulator = TaskEmulator.start()
    try:
        emulator.inject("slow_body", chunk_bytes=1, interval=30, path="/api/*")
        sock = socket.create_connection(("127.0.0.1", int(emulator.url.rsplit(":", 1)[1])), timeout=20)
        sock.sendall(f"GET {STATUS_1} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(4096)
    finally:
        started = time.monotonic()
        emulator.stop()
    assert time.monotonic() - started < 5
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401") and len(body) <= 1
    with pytest.raises(ConnectionResetError):
        while sock.recv(4096):
            pass
    sock.close()

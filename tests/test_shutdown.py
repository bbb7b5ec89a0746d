"""Graceful shutdown of `task-emulator serve`: on SIGTERM or SIGINT it takes no new
connections, lets the requests in flight finish, says so in the log and exits 0; a second
signal stops it at once.

The slow request is a Spectrum Discover result of 50,000 rows (about 16 MB of CSV),
streamed to a client whose socket has a small receive buffer: the server can write no
faster than the client reads, so the answer is still being written when the signal comes.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .helpers import write

TASK = "0b1e2c3d-0000-4000-8000-000000000001"
ROWS = 50_000
BIG_RESULT = f"""\
api: spectrum_discover
name: big-result
lifecycle:
  - phase: succeeded
results:
  count: {ROWS}
preload:
  - id: {TASK}
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


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    scenario = write(tmp_path, "big.yaml", BIG_RESULT)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--clock", "virtual", "--seed", "3",
         "--scenarios", str(scenario)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    served = Served(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(served.url + "/_emulator/health", timeout=1)
            break
        except requests.ConnectionError:
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
    yield served
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


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
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_result_streaming_when_the_signal_comes_is_sent_in_full(served: Served, signum: signal.Signals) -> None:
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

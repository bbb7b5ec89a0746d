"""Starting, watching and stopping the server processes, and the HTTP calls that set a run up."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from .load import pin

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE = 1
LOAD_CORE = 0


def python_env() -> dict[str, str]:
    """The environment a child Python needs to import this checkout's `emulator` first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds_of(pid: int) -> float:
    """User plus system CPU seconds process `pid` has used (0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_of(pid: int) -> list[int]:
    """The running processes whose parent is `pid` (serve --workers' workers)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(entry.read_text().rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return found


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    facts: dict[str, Any]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rss(self) -> int:
        return rss_of(self.process.pid)

    @property
    def cpu_seconds(self) -> float:
        """The process's CPU seconds and its running children's (the workers of a
        serve --workers, whose parent only waits)."""
        pid = self.process.pid
        return cpu_seconds_of(pid) + sum(cpu_seconds_of(child) for child in children_of(pid))

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_bench_server(
    kind: str, *, preload: int = 0, loop: str = "asyncio", under: Sequence[str] = (), timeout: float = 300.0
) -> Server:
    """`python -m benchmarks.servers KIND` on the server core (run by `under`, valgrind say);
    waits for its READY line."""
    command = [
        *pin(SERVER_CORE), *under,
        sys.executable, "-m", "benchmarks.servers", kind, "--preload", str(preload), "--loop", loop,
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=python_env(), stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("READY "):
            _, port, facts = line.split(" ", 2)
            return Server(process, int(port), json.loads(facts))
    process.kill()
    raise RuntimeError(f"{' '.join(command)} did not start")


def serve_command(port: int, loop: str = "auto") -> list[str]:
    """`task-emulator serve` with its defaults (real clock, strict validation, journal on,
    uvloop when installed), from this checkout. Logging at warning: at info every request
    is also an access-log line."""
    return [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--log-level", "warning", "--loop", loop]


def default_loop() -> str:
    """The loop `task-emulator serve --loop auto` runs on here."""
    from emulator.serve_command import event_loop_runner, loop_name

    return loop_name(event_loop_runner("auto"))


def start_serve(
    loop: str = "auto", under: Sequence[str] = (), timeout: float = 60.0, *, args: Sequence[str] = (),
    core: int | None = SERVER_CORE,
) -> Server:
    """`task-emulator serve` (with `args` added) on `core` (None: on any)."""
    port = free_port()
    process = subprocess.Popen(
        [*pin(core), *under, *serve_command(port, loop), *args], cwd=ROOT, env=python_env(),
        stdout=subprocess.DEVNULL, text=True,
    )
    wait_for_200(f"http://127.0.0.1:{port}/_emulator/health", timeout, process)
    return Server(process, port, {})


def wait_for_200(url: str, timeout: float, process: subprocess.Popen[str] | None = None) -> float:
    """Seconds until `url` first answers 200, polling every 2 ms."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.002)
    raise RuntimeError(f"{url} gave no 200 within {timeout} s")


# ---- HTTP set-up calls --------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def call(
    url: str, *, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, bytes]:
    """(status, headers, body) of one request; error statuses are answers, not exceptions."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in (headers or {}):
        request.add_header("Content-Type", "application/json")
    try:
        with _opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def traffic_ops_cookie(base: str) -> str:
    """The Cookie header a browser or the TO client sends after logging in as admin: the
    session cookie and the access token."""
    status, headers, body = call(f"{base}/api/4.0/user/login", method="POST", body={"u": "admin", "p": "twelve12"})
    if status != 200:
        raise RuntimeError(f"Traffic Ops login answered {status}: {body!r}")
    jar: SimpleCookie = SimpleCookie()
    for value in headers.get_all("Set-Cookie") or []:
        jar.load(value)
    return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())


def spectrum_discover_token(base: str) -> str:
    status, headers, body = call(f"{base}/auth/v1/token", headers={"Authorization": basic("sdadmin", "Passw0rd")})
    if status != 200:
        raise RuntimeError(f"Spectrum Discover token answered {status}: {body!r}")
    return str(headers["X-Auth-Token"])


# ---- a redis-server for the store run -------------------------------------------------------------

@dataclass
class Redis:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def cpu_seconds(self) -> float:
        return cpu_seconds_of(self.process.pid)

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_redis(core: int | None, folder: Path, port: int | None = None) -> Redis:
    """Debian's redis-server on `port` (None: a free one) of 127.0.0.1, keeping nothing on
    disk (the tests' redis-server too: tests/redis_server.py)."""
    port = port or free_port()
    process = subprocess.Popen(
        [*pin(core), "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return Redis(process, port)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not answer on port {port}")

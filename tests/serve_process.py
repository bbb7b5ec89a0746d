"""`python -m emulator serve …` run as a person runs it: a process of its own on 127.0.0.1,
its output kept in files (a pipe nobody reads would fill and stall the server), stopped by
a signal. Shared by the tests of workers, replicas and the replicas' compose example."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import requests

from .redis_server import free_port

ADMIN_OPS_CENTER = {"Authorization": "Basic YWRtaW46YWRtaW4="}  # admin:admin


class ServeProcess:
    """One `serve`; `args` are added to `--port <free> --host 127.0.0.1`."""

    def __init__(self, *args: str, port: int | None = None, env: dict[str, str] | None = None,
                 start_new_session: bool = False) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Closed by close(), with the process.
        self._out = tempfile.TemporaryFile()  # noqa: SIM115
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        environment = {k: v for k, v in os.environ.items() if not k.startswith("TASK_EMULATOR_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
            stdout=self._out, stderr=self._err, env={**environment, **(env or {})},
            start_new_session=start_new_session,
        )

    def wait_healthy(self, timeout: float = 30) -> ServeProcess:
        """Once health answers 200; AssertionError with the log when it exits or never does."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(self.url + "/_emulator/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}: {self.stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"serve did not answer healthy within {timeout:g}s: {self.stderr}")
            time.sleep(0.05)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, timeout=10, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.delete(self.url + path, timeout=10, **kwargs)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal it and wait; its exit status. A Traceback in its log fails the test."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        code = self.wait(timeout)
        assert "Traceback" not in self.stderr, self.stderr
        return code

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"serve did not exit within {timeout:g}s: {self.stderr}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def stdout(self) -> str:
        return _read(self._out)

    @property
    def stderr(self) -> str:
        return _read(self._err)

    def close(self) -> None:
        self.kill()
        self._out.close()
        self._err.close()


def _read(file: Any) -> str:
    file.seek(0)
    return str(file.read().decode(errors="replace"))


def make_ops_center_task(server: ServeProcess, scenario: str = "vm-metrics") -> str:
    response = server.post("/_emulator/tasks", json={"api": "ops_center", "scenario": scenario})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def ops_center_status(url: str, task_id: str, session: requests.Session | None = None) -> requests.Response:
    """An Ops Center status read (getStatus): 206 while the query runs, 200 once it is over."""
    get = session.get if session is not None else requests.get
    return get(
        f"{url}/dbapi.do?action=getStatus&dataset=defaultDs&requestId={task_id}",
        headers=ADMIN_OPS_CENTER, timeout=10,
    )


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s"
        time.sleep(0.05)


def process_gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie nobody has reaped yet counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True

"""`serve --workers N`: N processes answering on one port, sharing their tasks in Redis; the
banner printed once; a signal to the parent stops every worker, letting the answers in flight
finish, and it exits 0; a worker that dies takes the others down with a non-zero exit that
says which; a killed parent leaves no worker behind; the memory store is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from .helpers import write
from .redis_server import RedisServer
from .serve_process import (
    ServeProcess,
    make_ops_center_task,
    ops_center_status,
    process_gone,
    wait_until,
)
from .test_shutdown import AUTH, BIG_RESULT, ROWS, TASK, SlowClient, accepts_connections


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def started() -> Iterator[list[ServeProcess]]:
    servers: list[ServeProcess] = []
    yield servers
    for server in servers:
        server.close()


def serve_workers(started: list[ServeProcess], redis_url: str, *args: str, **kwargs: Any) -> ServeProcess:
    server = ServeProcess("--store", redis_url, "--workers", "2", "--clock", "virtual", *args, **kwargs)
    started.append(server)
    return server.wait_healthy()


def worker_pids(server: ServeProcess, attempts: int = 400) -> set[int]:
    """The pids health names, each asked on a new connection, until two are seen."""
    seen: set[int] = set()
    for _ in range(attempts):
        with requests.Session() as session:  # a connection of its own
            seen.add(session.get(server.url + "/_emulator/health", timeout=10).json()["pid"])
        if len(seen) == 2:
            break
    return seen


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return int(stat.read().rpartition(")")[2].split()[1])


def test_two_workers_answer_on_one_port_share_tasks_and_stop_on_sigterm(
    started: list[ServeProcess], redis_url: str
) -> None:
    server = serve_workers(started, redis_url, "--log-level", "info")
    pids = worker_pids(server)
    assert len(pids) == 2, f"only {pids} answered"
    assert server.process.pid not in pids
    if Path("/proc").is_dir():
        assert {parent_of(pid) for pid in pids} == {server.process.pid}

    task_id = make_ops_center_task(server)
    polls = 20
    for _ in range(polls):  # each on a new connection: the kernel spreads them over the workers
        assert ops_center_status(server.url, task_id).status_code == 206
    assert server.get(f"/_emulator/tasks/ops_center/{task_id}").json()["reads"] == polls

    assert server.stop(signal.SIGTERM) == 0
    assert all(process_gone(pid) for pid in pids)
    assert server.stdout.count(" listening on ") == 1, server.stdout
    assert f"listening on {server.url} " in server.stdout
    log = server.stderr
    assert "2 worker processes serving one socket" in log
    assert log.count("SIGTERM: no new connections") == 2  # each worker, once
    assert "worker 1: " in log and "worker 2: " in log
    assert log.strip().splitlines()[-1].endswith("every worker stopped")


def test_an_answer_in_flight_is_finished_before_the_workers_stop(
    started: list[ServeProcess], redis_url: str, tmp_path: Path
) -> None:
    scenario = write(tmp_path, "big.yaml", BIG_RESULT.format(rows=ROWS, task=TASK))
    server = serve_workers(started, redis_url, "--scenarios", str(scenario), "--shutdown-grace", "60")
    whole = requests.get(f"{server.url}/db2whrest/v1/task_status/{TASK}", headers=AUTH, timeout=30)
    assert whole.status_code == 200

    in_flight = SlowClient(server)  # type: ignore[arg-type]  # it needs only .url
    in_flight.read(16 * 1024)
    server.process.send_signal(signal.SIGTERM)
    wait_until(lambda: not accepts_connections(server.url), 10, "the workers stop taking connections")
    assert server.process.poll() is None  # the answer in flight keeps its worker, and so the parent, running
    assert in_flight.read_to_the_end(pause_every=20) == whole.content
    assert server.wait() == 0
    assert "Traceback" not in server.stderr and "ERROR" not in server.stderr


def test_a_ctrl_c_at_a_terminal_stops_the_workers_once(started: list[ServeProcess], redis_url: str) -> None:
    """A terminal sends SIGINT to its whole foreground process group: the workers are not in
    it, so they hear it once, through the parent, and do not take it for an impatient second."""
    server = serve_workers(started, redis_url, start_new_session=True)
    pids = worker_pids(server)
    os.killpg(server.process.pid, signal.SIGINT)
    assert server.wait() == 0, server.stderr
    assert "again: stopped at once" not in server.stderr
    assert all(process_gone(pid) for pid in pids)


def test_a_worker_that_dies_stops_the_others_and_the_parent_says_which(
    started: list[ServeProcess], redis_url: str
) -> None:
    server = serve_workers(started, redis_url)
    pids = sorted(worker_pids(server))
    assert len(pids) == 2
    os.kill(pids[0], signal.SIGKILL)
    assert server.wait() == 1
    assert f"(pid {pids[0]}) was killed by SIGKILL: stopping the other workers" in server.stderr
    wait_until(lambda: process_gone(pids[1]), 10, "the other worker exits")


def test_a_killed_parent_leaves_no_worker_behind(started: list[ServeProcess], redis_url: str) -> None:
    server = serve_workers(started, redis_url)
    pids = worker_pids(server)
    server.kill()  # SIGKILL: the parent passes nothing on
    wait_until(lambda: all(process_gone(pid) for pid in pids), 15, "the orphaned workers exit")
    assert not accepts_connections(server.url)


@pytest.mark.parametrize("how", ["option", "environment"])
def test_more_than_one_worker_on_the_memory_store_is_refused(how: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASK_EMULATOR_")}
    args = ["--workers", "2"] if how == "option" else []
    if how == "environment":
        env["TASK_EMULATOR_WORKERS"] = "2"
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--port", "0", *args],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "--store redis://" in result.stderr
    assert result.stdout == ""


def test_a_host_that_names_two_addresses_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers share one socket: `localhost` on a machine that resolves it to both
    127.0.0.1 and ::1 is refused, not served on whichever came first."""
    import socket

    from emulator.errors import ConfigError
    from emulator.workers import listening_socket

    both = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", 0, 0, 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: both)
    with pytest.raises(ConfigError, match=r"--host localhost names 2 addresses \(127\.0\.0\.1, ::1\)"):
        listening_socket("localhost", 0)
    monkeypatch.undo()
    with listening_socket("127.0.0.1", 0) as sock:
        assert sock.getsockname()[0] == "127.0.0.1"


def test_the_scaling_docs_commands_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/scaling.md's commands: parsed by the CLI's own parser, with their environment,
    into a Redis store that --workers accepts."""
    import re
    import shlex

    from emulator.cli import build_parser
    from emulator.config import EmulatorConfig
    from emulator.workers import workers_problem

    text = (Path(__file__).resolve().parent.parent / "docs" / "scaling.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- scaling-commands -->\s*```sh\n(.*?)```", text, re.DOTALL)
    assert block
    serves = [line for line in block.group(1).splitlines() if "task-emulator serve" in line]
    assert len(serves) == 2
    for line in serves:
        words = shlex.split(line)
        for name in [n for n in os.environ if n.startswith("TASK_EMULATOR_")]:
            monkeypatch.delenv(name)
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            monkeypatch.setenv(name, value)
        assert words[0] == "task-emulator"
        args = build_parser().parse_args(words[1:])
        assert workers_problem(args.workers, args.store) is None
        assert EmulatorConfig(store=args.store).store is not None

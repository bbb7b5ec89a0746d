"""examples/ci/compose-replicas.yaml (Redis, three replicas, nginx round-robin) as far as a
machine without a container engine can check it: the file and its nginx configuration
agree with each other and with the image, every replica's command and environment are
accepted by our own CLI parser, and the same topology run as local processes (a
redis-server, three `python -m emulator serve`, and a round-robin TCP proxy written here
standing in for nginx) serves a client's whole flow across the replicas."""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import yaml

from emulator.cli import build_parser
from emulator.config import EmulatorConfig
from emulator.workers import workers_problem

from .balancer import RoundRobinProxy, behind_a_balancer
from .redis_server import RedisServer
from .serve_process import ServeProcess, make_ops_center_task, ops_center_status
from .test_docker_examples import CI, HEALTH, serve_variables

REPLICAS = ("emulator-1", "emulator-2", "emulator-3")
CONTAINER_PORT = 8080
# The proxy's bounds: it serves one test's few requests, then stops.


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((CI / "compose-replicas.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def nginx_conf() -> str:
    return (CI / "nginx-replicas.conf").read_text(encoding="utf-8")


def parsed_serve(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The service's command parsed by `task-emulator`'s own parser, with its environment
    in place (the image's entrypoint is `task-emulator`; its ENV lines are under it)."""
    for name in [n for n in os.environ if n.startswith("TASK_EMULATOR_")]:
        monkeypatch.delenv(name)
    image_env = dict(re.findall(r"(TASK_EMULATOR_[A-Z_]+)=(\S+)", (CI.parent.parent / "Dockerfile").read_text()))
    for name, value in {**image_env, **service["environment"]}.items():
        monkeypatch.setenv(name, str(value))
    return build_parser().parse_args(service["command"])


def test_three_replicas_on_one_redis_behind_one_port() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "balancer", *REPLICAS}
    assert services["redis"]["image"].startswith(("redis:7", "valkey/"))
    for name in REPLICAS:
        replica = services[name]
        assert (CI / replica["build"]["context"] / "Dockerfile").is_file()
        assert replica["environment"]["TASK_EMULATOR_STORE"] == "redis://redis:6379/0"
        assert set(replica["environment"]) <= serve_variables()
        assert replica["depends_on"]["redis"]["condition"] == "service_healthy"
        assert " ".join(replica["healthcheck"]["test"][1:]) == HEALTH
        assert "ports" not in replica  # reached through the balancer only
    balancer = services["balancer"]
    assert balancer["ports"] == [f"{CONTAINER_PORT}:{CONTAINER_PORT}"]
    assert {name: dep["condition"] for name, dep in balancer["depends_on"].items()} == dict.fromkeys(
        REPLICAS, "service_healthy"
    )
    assert "/_emulator/health" in " ".join(balancer["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    (volume,) = balancer["volumes"]
    source, target, *_ = volume.split(":")
    assert (CI / source).resolve() == (CI / "nginx-replicas.conf").resolve()
    assert target == "/etc/nginx/nginx.conf"


def test_the_balancer_sends_to_each_replica_in_turn() -> None:
    conf = nginx_conf()
    upstream = re.search(r"upstream (\w+) \{(.*?)\}", conf, re.DOTALL)
    assert upstream
    servers = re.findall(r"^\s*server ([\w.-]+):(\d+);", upstream.group(2), re.MULTILINE)
    assert servers == [(name, str(CONTAINER_PORT)) for name in REPLICAS]
    # Round-robin is nginx's default: no other balancing method is named.
    assert not re.search(r"^\s*(ip_hash|hash|least_conn|random)\b", upstream.group(2), re.MULTILINE)
    assert re.search(rf"^\s*listen {CONTAINER_PORT};", conf, re.MULTILINE)
    assert f"proxy_pass http://{upstream.group(1)};" in conf
    assert "proxy_set_header Host $http_host;" in conf
    assert conf.count("{") == conf.count("}")


def test_every_replica_command_and_environment_is_accepted_by_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in REPLICAS:
        args = parsed_serve(compose()["services"][name], monkeypatch)
        assert args.command == "serve"
        assert (args.host, args.port) == ("0.0.0.0", CONTAINER_PORT)
        assert args.store == "redis://redis:6379/0"
        assert workers_problem(args.workers, args.store) is None
        config = EmulatorConfig(store=args.store, seed=args.seed, time_scale=args.time_scale)
        assert config.store == "redis://redis:6379/0"


@pytest.fixture
def topology(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[RoundRobinProxy, list[ServeProcess]]]:
    """compose-replicas.yaml as local processes: its Redis is the test's redis-server, each
    replica runs its compose command on a port of 127.0.0.1 instead of 0.0.0.0:8080."""
    redis_server.flush()

    def replica(name: str) -> ServeProcess:
        service = compose()["services"][name]
        env = {**{k: str(v) for k, v in service["environment"].items()}, "TASK_EMULATOR_STORE": redis_server.url}
        command = local(service["command"])
        assert command[0] == "serve"
        return ServeProcess(*command[1:], env=env)

    with behind_a_balancer([functools.partial(replica, name) for name in REPLICAS]) as topology:
        yield topology


def local(command: list[str]) -> list[str]:
    """The command with its address options left out: ServeProcess gives 127.0.0.1 and a
    free port (the test talks to this machine only)."""
    kept: list[str] = []
    skip = False
    for word in command:
        if skip:
            skip = False
        elif word in ("--host", "--port"):
            skip = True
        else:
            kept.append(word)
    return kept


def test_a_client_flow_through_the_balancer_is_served_across_the_replicas(
    topology: tuple[RoundRobinProxy, list[ServeProcess]],
) -> None:
    proxy, replicas = topology
    pids = {requests.get(proxy.url + "/_emulator/health", timeout=10).json()["pid"] for _ in replicas}
    assert len(pids) == len(replicas)  # three connections, three replicas

    made = requests.post(proxy.url + "/_emulator/tasks", json={"api": "ops_center", "scenario": "vm-metrics"},
                         timeout=10)
    assert made.status_code == 201, made.text
    task_id = str(made.json()["id"])
    # vm-metrics lasts 62 s of emulator time: about a second at the compose file's 60x.
    codes = []
    for _ in range(100):
        codes.append(ops_center_status(proxy.url, task_id).status_code)  # a new connection each
        if codes[-1] != 206:
            break
        time.sleep(0.05)
    assert codes[-1] == 200 and set(codes[:-1]) <= {206}, codes
    assert len(codes) >= len(replicas)
    counted = requests.get(f"{proxy.url}/_emulator/tasks/ops_center/{task_id}", timeout=10).json()
    assert counted["reads"] == len(codes) and counted["phase"] == "succeeded"
    result = ops_center_status(proxy.url, task_id).json()
    assert result["status"]["completed"] is True and len(result["result"]) == 8  # vm-metrics' 8 VMs
    # Every replica answered some of it (each connection went to the next one in turn).
    assert min(proxy.sent_to[r.port] for r in replicas) >= 2

    task_on_one = make_ops_center_task(replicas[0])
    assert ops_center_status(replicas[2].url, task_on_one).status_code == 206

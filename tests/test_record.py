"""`task-emulator record`: a reverse proxy in front of a real server (here an emulator playing
the upstream) writes every task it sees as a scenario. The scenario passes `check`, and served
back to the same client gives the same phases and bodies (ids and times aside). Requests and
answers pass unchanged, and no credential reaches a scenario or a log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.cli import main
from emulator.config import EmulatorConfig
from emulator.contract.credentials import Secrets
from emulator.contract.live import LiveOptions, run_live
from emulator.contract.model import Report
from emulator.contract.proxy import recording_app
from emulator.contract.recorder import Recorder
from emulator.contract.vendors import contract_for
from emulator.server import EmulatorServer
from emulator.state import load_schemas
from emulator.testing import TaskEmulator

APIS = ("traffic_ops", "spectrum_discover", "ops_center", "dataarts")
# Values that change from one run to the next whatever the scenario says: ids and times.
VOLATILE = {
    "id",
    "taskId",
    "requestId",
    "start_time",
    "end_time",
    "startTime",
    "endTime",
    "lastUpdate",
}


def client(
    api: str, url: str, credentials: dict[str, str], task: str | None = None, interval: float = 0.05
) -> Report:
    """The same client every time: `verify`'s own, polling every `interval` seconds."""
    options = LiveOptions(url, task=task, interval=interval, max_polls=200, timeout=8)
    return asyncio.run(run_live(contract_for(api), credentials, options, load_schemas(), Secrets()))


def bodies(report: Report) -> list[Any]:
    """The status answers' bodies in order, volatile values dropped, repeats collapsed (how
    many polls saw each is a matter of time)."""
    found: list[Any] = []
    for exchange in report.exchanges:
        route = contract_for(report.api).route(exchange)
        if route is None or route.kind not in ("status", "peek") or exchange.body is None:
            continue
        body = _stable(json.loads(exchange.body))
        if not found or found[-1] != (exchange.status, body):
            found.append((exchange.status, body))
    return found


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def collapsed(words: list[str]) -> list[str]:
    return [w for i, w in enumerate(words) if i == 0 or words[i - 1] != w]


class Recording:
    def __init__(self, api: str, out: Path, upstream: TaskEmulator) -> None:
        self.api, self.out, self.upstream = api, out, upstream
        self.recorder = Recorder(contract_for(api), out, Secrets())
        self.proxy = EmulatorServer(
            app=recording_app(contract_for(api), upstream.url, self.recorder)
        ).start()

    def stop(self) -> None:
        self.proxy.stop()  # waits for the scenario writer


# Upstream scenarios whose steps end by reads: recorded and replayed on virtual clocks, the
# same client sees exactly the same answers, poll for poll, however loaded the machine is.
BY_POLLS = {
    "traffic_ops": """
api: traffic_ops
name: renewal-by-polls
trigger: {method: POST, path: "/api/{version}/acme_autorenew"}
lifecycle:
  - {phase: scheduled, polls: 2, message: ACME async job has started.}
  - {phase: running, polls: 3, message: "ACME renewal in progress. 1 certs renewed, 0 errors."}
  - {phase: failed, message: ACME renewal failed.}
""",
    "spectrum_discover": """
api: spectrum_discover
name: query-by-polls
trigger: {method: GET, path: /db2whrest/v1/sql_query_async}
lifecycle:
  - {phase: scheduled, polls: 2}
  - {phase: running, polls: 3, peek: work in progress (indexing)}
  - {phase: succeeded}
results: {count: 30}
""",
    "ops_center": """
api: ops_center
name: query-by-polls
trigger: {method: POST, path: /dbapi.do}
lifecycle:
  - {phase: scheduled, polls: 1}
  - {phase: running, polls: 2, processed: 30%}
  - {phase: running, polls: 2, processed: 60%, has_errors: true}
  - phase: failed
    error: {status: 500, code: 720600E2, message: Application encountered an internal error.}
results: {total: 10, matched: 4}
""",
    "dataarts": """
api: dataarts
name: import-by-polls
trigger: {method: POST, path: "/v1/{project_id}/jobs/import"}
task: {name: "Import the job from ${body.path}."}
subtasks:
  - name: Import the nightly_batch job.
    lifecycle: [{phase: running, polls: 2}, {phase: succeeded, message: imported}]
  - name: Import the nightly_stream job.
    lifecycle: [{phase: running, polls: 3}, {phase: failed, message: The DLI queue does not exist.}]
""",
}


@pytest.fixture
def upstream() -> Iterator[TaskEmulator]:
    # A hundred times faster than real time: the built-in minute-long jobs take 0.6 s.
    with TaskEmulator.start(EmulatorConfig(clock="real", time_scale=100)) as running:
        yield running


@pytest.mark.parametrize("api", APIS)
def test_a_recorded_task_replays_answer_for_answer(
    api: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    given = tmp_path / "given.yaml"
    given.write_text(BY_POLLS[api])
    with TaskEmulator.start(EmulatorConfig(clock="virtual", scenario_paths=(given,))) as upstream:
        credentials = upstream.credentials(api)
        recording = Recording(api, tmp_path / "recorded", upstream)
        seen = client(api, recording.proxy.url, credentials)
        recording.stop()
    assert seen.ok, [str(v) for v in seen.violations]
    (file,) = (tmp_path / "recorded").glob("*.yaml")
    assert main(["check", str(file)]) == 0, capsys.readouterr().out
    with TaskEmulator.start(EmulatorConfig(clock="virtual", scenario_paths=(file,))) as replay:
        again = client(api, replay.url, credentials)
    assert again.ok, [str(v) for v in again.violations]
    # The task (and each subtask): the same phases, read for read, and the same bodies.
    assert list(again.phases.values()) == list(seen.phases.values())
    assert len(next(iter(seen.phases.values()))) >= 4
    assert bodies(again) == bodies(seen)


def test_a_task_timed_by_the_clock_replays_with_the_same_phases_and_bodies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The built-in renewal, whose steps end by time (5 s, 30 s, 25 s; 40 times faster
    here): replayed on a real clock at the recorded pace, the client sees the same steps
    (how many polls saw each is a matter of time: repeats are collapsed)."""
    with TaskEmulator.start(EmulatorConfig(clock="real", time_scale=40)) as upstream:
        credentials = upstream.credentials("traffic_ops")
        recording = Recording("traffic_ops", tmp_path, upstream)
        seen = client("traffic_ops", recording.proxy.url, credentials, interval=0.2)
        recording.stop()
    (file,) = tmp_path.glob("*.yaml")
    assert "for: " in file.read_text()
    assert main(["check", str(file)]) == 0, capsys.readouterr().out
    with TaskEmulator.start(EmulatorConfig(clock="real", scenario_paths=(file,))) as replay:
        again = client("traffic_ops", replay.url, credentials, interval=0.2)
    (first,), (second,) = seen.phases.values(), again.phases.values()
    assert collapsed(second) == collapsed(first) == ["PENDING", "SUCCEEDED"]
    assert bodies(again) == bodies(seen)
    assert len(bodies(seen)) >= 3  # the messages of at least two steps, then the end


def test_a_task_only_polled_is_recorded_as_preloaded_and_replays_read_for_read(
    upstream: TaskEmulator, tmp_path: Path
) -> None:
    task = upstream.create_task("traffic_ops", "acme-autorenew")
    credentials = upstream.credentials("traffic_ops")
    recording = Recording("traffic_ops", tmp_path, upstream)
    seen = client("traffic_ops", recording.proxy.url, credentials, task=task.id)
    recording.stop()
    (file,) = tmp_path.glob("*.yaml")
    text = file.read_text()
    assert (
        f"preload:\n- {{id: '{task.id}'}}" in text and "trigger:" not in text and "for:" not in text
    )
    with TaskEmulator.start(EmulatorConfig(clock="virtual", scenario_paths=(file,))) as replay:
        again = client("traffic_ops", replay.url, credentials, task=task.id)
    # Steps that end by reads alone: the same answers, poll for poll, whatever the clock does.
    assert again.phases == seen.phases
    assert bodies(again) == bodies(seen)


@pytest.mark.parametrize("api", APIS)
def test_no_credential_reaches_a_scenario_or_a_log(
    api: str, upstream: TaskEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="task_emulator")
    credentials = upstream.credentials(api)
    if api == "dataarts":  # the token way: the token itself goes over the wire
        credentials = {k: v for k, v in credentials.items() if k not in ("ak", "sk")}
    recording = Recording(api, tmp_path, upstream)
    seen = client(api, recording.proxy.url, credentials)
    recording.stop()
    secrets = [credentials[k] for k in ("password", "token", "login_token") if k in credentials]
    for exchange in seen.exchanges:  # and what the server handed out: tokens, cookies
        for name, value in exchange.response_headers or ():
            if name.lower() in ("x-auth-token", "set-cookie", "x-subject-token"):
                secrets.append(value.split(";")[0].partition("=")[2] or value)
    assert secrets
    texts = [path.read_text() for path in tmp_path.glob("*.yaml")] + [caplog.text]
    assert texts[0]
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_requests_and_answers_pass_unchanged(upstream: TaskEmulator, tmp_path: Path) -> None:
    """What the client sends reaches the server as sent (the journal shows it), and what it
    gets is what the server answered: the Traffic Ops digest of the body still matches."""
    recording = Recording("traffic_ops", tmp_path, upstream)
    seen = client("traffic_ops", recording.proxy.url, upstream.credentials("traffic_ops"))
    recording.stop()
    assert seen.ok  # Whole-Content-Sha512, Location, content type: all as the server sent them
    journal = upstream.requests("traffic_ops")
    assert [(e["method"], e["path"]) for e in journal] == [
        (e.method, e.path) for e in seen.exchanges
    ]
    assert journal[0]["body"] == {"u": "admin", "p": "[redacted]"}
    assert all(e["headers"].get("Cookie") == "[redacted]" for e in journal[2:])


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_record_command_proxies_until_interrupted(
    upstream: TaskEmulator, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    port = free_port()
    root = Path(__file__).resolve().parent.parent
    command = [
        sys.executable,
        "-m",
        "emulator",
        "record",
        "--api",
        "traffic_ops",
        "--upstream",
        upstream.url,
        "--out",
        str(tmp_path / "out"),
        "--port",
        str(port),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith(
            f"task-emulator record: traffic_ops proxy on http://127.0.0.1:{port} for {upstream.url}"
        )
        seen = client(
            "traffic_ops", f"http://127.0.0.1:{port}", upstream.credentials("traffic_ops")
        )
        assert seen.ok
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    (file,) = (tmp_path / "out").glob("traffic_ops-recorded-*.yaml")
    assert "phase: succeeded" in file.read_text() or "{phase: succeeded" in file.read_text()
    assert "wrote traffic_ops task" in err and "stopped: 1 scenario file(s) written" in err
    assert "twelve12" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--upstream", "localhost:8080"], "not an http(s) URL"),
        (["--upstream", "http://127.0.0.1:1", "--out", "/proc/no-such/dir"], "--out: cannot make"),
    ],
)
def test_record_usage_errors_exit_2_with_one_line(
    arguments: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"--out": str(tmp_path / "out")}
    given = dict(zip(arguments[::2], arguments[1::2]))
    words = [w for pair in {**base, **given}.items() for w in pair]
    assert main(["record", "--api", "ops_center", "--port", str(free_port()), *words]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert message in line


def test_a_port_in_use_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(
            [
                "record",
                "--api",
                "ops_center",
                "--upstream",
                "http://127.0.0.1:1",
                "--out",
                str(tmp_path),
                "--port",
                str(port),
            ]
        )
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"cannot listen on 127.0.0.1:{port}" in line

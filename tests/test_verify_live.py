"""`task-emulator verify` against a running emulator: every API's lifecycle passes every
check; the reports (text, JUnit XML, JSON) say so; usage and connection errors exit 2 with
one line; credentials appear in no output."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.config import EmulatorConfig
from emulator.testing import TaskEmulator

APIS = ("traffic_ops", "spectrum_discover", "ops_center", "dataarts")
# A real clock a thousand times faster: a minute-long job is over in 60 ms.
FAST = ["--interval", "0.01", "--max-polls", "500", "--timeout", "8"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[TaskEmulator]:
    with TaskEmulator.start(EmulatorConfig(clock="real", time_scale=1000)) as running:
        yield running


def credentials_file(tmp_path: Path, emulator: TaskEmulator, api: str, **more: str) -> Path:
    path = tmp_path / f"{api}.json"
    path.write_text(json.dumps({**emulator.credentials(api), **more}), encoding="utf-8")
    return path


@pytest.mark.parametrize("api", APIS)
def test_a_lifecycle_of_each_api_passes_every_check(
    api: str, emulator: TaskEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit, report = tmp_path / "out" / "verify.xml", tmp_path / "out" / "verify.json"
    code = main(
        [
            "verify",
            "--api",
            api,
            "--base-url",
            emulator.url,
            "--credentials",
            str(credentials_file(tmp_path, emulator, api)),
            "--junit-xml",
            str(junit),
            "--json",
            str(report),
            *FAST,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1].endswith(" checks, 0 failed"), out
    data = json.loads(report.read_text())
    assert data["ok"] is True and data["api"] == api
    kinds = [check["name"].split(":")[0] for check in data["checks"]]
    assert "trigger" in kinds and any(kind.startswith("poll") for kind in kinds)
    # The task was followed to its end: the last phase seen is one of the API's end words.
    seen = next(iter(data["phases"].values()))
    assert seen[-1] in ("SUCCEEDED", "completed", "SUCCESSFUL") or seen[-1].startswith(
        "200 with"
    ), seen
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite" and suite.get("failures") == "0"
    assert int(suite.get("tests", "0")) == len(data["checks"]) >= 3


def test_an_existing_task_is_followed_without_a_trigger(
    emulator: TaskEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = emulator.create_task("traffic_ops", "acme-autorenew-fails")
    code = main(
        [
            "verify",
            "--api",
            "traffic_ops",
            "--base-url",
            emulator.url,
            "--task",
            task.id,
            "--credentials",
            str(credentials_file(tmp_path, emulator, "traffic_ops")),
            *FAST,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "trigger:" not in out
    assert f"phases of task {task.id}: PENDING" in out and out.count("FAILED") == 1


def test_a_task_that_does_not_end_in_time_is_said_so_and_what_was_seen_holds(
    emulator: TaskEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "verify",
            "--api",
            "traffic_ops",
            "--base-url",
            emulator.url,
            "--max-polls",
            "2",
            "--interval",
            "0",
            "--credentials",
            str(credentials_file(tmp_path, emulator, "traffic_ops")),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "had not ended after 2 poll(s)" in out


def test_wrong_credentials_are_drift_and_never_shown(
    emulator: TaskEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "not-the-password-4711"
    junit, report = tmp_path / "v.xml", tmp_path / "v.json"
    code = main(
        [
            "verify",
            "--api",
            "traffic_ops",
            "--base-url",
            emulator.url,
            "--junit-xml",
            str(junit),
            "--json",
            str(report),
            "--credentials",
            str(credentials_file(tmp_path, emulator, "traffic_ops", password=secret)),
            *FAST,
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "login: POST /api/4.0/user/login -> 401" in captured.out
    assert "status status: expected 200, got 401" in captured.out
    for text in (captured.out, captured.err, junit.read_text(), report.read_text()):
        assert secret not in text


@pytest.mark.parametrize("api", APIS)
def test_credentials_from_the_environment_reach_no_output(
    api: str,
    emulator: TaskEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    given = emulator.credentials(api)
    for key, value in given.items():
        monkeypatch.setenv(f"TASK_EMULATOR_VERIFY_{key.upper()}", value)
    junit, report = tmp_path / "v.xml", tmp_path / "v.json"
    code = main(
        [
            "verify",
            "--api",
            api,
            "--base-url",
            emulator.url,
            "--junit-xml",
            str(junit),
            "--json",
            str(report),
            *FAST,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.out
    secrets = [given[key] for key in ("password", "sk", "token", "login_token") if key in given]
    assert secrets
    for text in (captured.out, captured.err, caplog.text, junit.read_text(), report.read_text()):
        for secret in secrets:
            assert secret not in text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_server_that_cannot_be_reached_is_a_connection_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "verify",
            "--api",
            "ops_center",
            "--base-url",
            f"http://127.0.0.1:{free_port()}",
            "--timeout",
            "5",
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert (
        line.startswith("task-emulator: cannot reach http://127.0.0.1:") and "Traceback" not in line
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--base-url", "ftp://example.com"], "not an http(s) URL"),
        (
            ["--base-url", "http://127.0.0.1:1", "--credentials", "no-such-file.yaml"],
            "cannot read no-such-file.yaml",
        ),
        (["--har", "no-such.har"], "--har: cannot read no-such.har"),
        (["--journal", "no-such.json"], "--journal: cannot read no-such.json"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    arguments: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["verify", "--api", "traffic_ops", *arguments])
    captured = capsys.readouterr()
    assert code == 2
    (line,) = captured.err.splitlines()
    assert message in line


def test_a_credentials_file_that_is_not_a_mapping_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "creds.yaml"
    path.write_text("- just\n- a list\n")
    code = main(
        [
            "verify",
            "--api",
            "traffic_ops",
            "--base-url",
            "http://127.0.0.1:1",
            "--credentials",
            str(path),
        ]
    )
    assert code == 2
    assert "must hold a mapping" in capsys.readouterr().err


def test_dataarts_without_a_project_is_a_usage_error(
    emulator: TaskEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "creds.yaml"
    path.write_text("token: emulator-iam-token\n")
    code = main(
        ["verify", "--api", "dataarts", "--base-url", emulator.url, "--credentials", str(path)]
    )
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        "task-emulator: dataarts needs project_id in the credentials "
        "(or TASK_EMULATOR_VERIFY_PROJECT_ID)"
    )

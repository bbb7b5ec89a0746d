"""What the fixture, the handle and the plugin promise a new user, tried as one would: consumer
test files run by pytester, the handle used outside pytest."""

from __future__ import annotations

# Imported here so that inline pytester runs share these modules with this process.
import http.cookiejar  # noqa: F401
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from emulator.testing import TaskEmulator

pytest_plugins = ["pytester"]

OPS_USER = """
def login(emu, username, password):
    import requests
    http = requests.Session()
    r = http.post(emu.url_for("traffic_ops") + "user/login", json={"u": username, "p": password}, timeout=5)
    return http, r.status_code
"""

SETTINGS = """\
traffic_ops:
  users:
    - {username: ci-bot, password: from-the-file, role: admin}
"""


def test_settings_by_marker_reach_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        OPS_USER
        + """
import pytest

@pytest.mark.task_emulator(settings={"traffic_ops": {"users": [
    {"username": "marked", "password": "by-the-marker", "role": "admin"}]}})
def test_marked_user(task_emulator):
    assert login(task_emulator, "marked", "by-the-marker")[1] == 200
    assert login(task_emulator, "admin", "twelve12")[1] == 401  # the built-in users are replaced

def test_unmarked(task_emulator):
    assert login(task_emulator, "marked", "by-the-marker")[1] == 401
"""
    )
    pytester.runpytest("-q").assert_outcomes(passed=2)


@pytest.mark.parametrize("how", ["option", "ini"])
def test_a_settings_file_reaches_both_fixtures(pytester: pytest.Pytester, how: str) -> None:
    pytester.makefile(".yaml", settings=SETTINGS)
    pytester.makepyfile(
        OPS_USER
        + """
def test_fresh(task_emulator):
    assert login(task_emulator, "ci-bot", "from-the-file")[1] == 200

def test_shared(task_emulator_session):
    assert login(task_emulator_session, "ci-bot", "from-the-file")[1] == 200
"""
    )
    if how == "ini":
        pytester.makeini("[pytest]\ntask_emulator_settings = settings.yaml\n")
        result = pytester.runpytest("-q")
    else:
        result = pytester.runpytest("-q", "--task-emulator-settings", "settings.yaml")
    result.assert_outcomes(passed=2)


def test_a_wrong_settings_file_stops_the_run_naming_its_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", settings="traffic_ops:\n  users:\n    - {username: x, role: admin}\n")
    pytester.makepyfile("def test_x(task_emulator):\n    pass\n")
    result = pytester.runpytest("-q", "--task-emulator-settings", "settings.yaml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*settings.yaml:3: settings traffic_ops.users[[]0[]]: 'password' is missing*"])
    assert "Traceback" not in result.stdout.str()


def test_a_marker_on_the_shared_fixture_fails_the_test_and_says_why(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.task_emulator(seed=3)
def test_marked(task_emulator_session):
    pass
"""
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*task_emulator_session is shared by the whole session and cannot take it*"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('seed="abc"', "(seed=...): 'abc' is not a whole number"),
        ("seed=True", "(seed=...): True is not a whole number"),
        ('clock_start="yesterday"', "(clock_start=...): 'yesterday' is not a time"),
        ('validate="loud"', "(validate=...): 'loud' is not one of strict, warn, off"),
        ('settings=["traffic_ops"]', "(settings=...): a mapping of API ids to their settings"),
    ],
)
def test_marker_values_are_checked_like_options(pytester: pytest.Pytester, marker: str, message: str) -> None:
    pytester.makepyfile(f"import pytest\n\n@pytest.mark.task_emulator({marker})\ndef test_x(task_emulator):\n    pass\n")
    result = pytester.runpytest("-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*@pytest.mark.task_emulator{message}*"])
    assert "Traceback" not in result.stdout.str()


def test_option_values_are_checked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(task_emulator):\n    pass\n")
    result = pytester.runpytest("-q", "--task-emulator-seed", "abc")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--task-emulator-seed: 'abc' is not a whole number*"])


def test_scenario_paths_on_the_command_line_are_relative_to_where_pytest_started(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "project" / "tests").mkdir(parents=True)
    (pytester.path / "project" / "tests" / "test_mine.py").write_text(
        "def test_mine(task_emulator):\n    task_emulator.create_task('traffic_ops', 'mine')\n"
    )
    (pytester.path / "project" / "pytest.ini").write_text("[pytest]\n")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "mine.yaml").write_text(
        "api: traffic_ops\nname: mine\nlifecycle:\n  - phase: succeeded\n"
    )
    # Started one folder above the project's rootdir: the path is the user's, from here.
    result = pytester.runpytest("-q", "project", "--task-emulator-scenarios", "scenarios")
    result.assert_outcomes(passed=1)


def test_create_task_checks_fields_as_the_control_api_does() -> None:
    with TaskEmulator.start() as emu:
        tasks_before = requests.get(emu.url + "/_emulator/tasks?api=traffic_ops", timeout=5).json()["tasks"]
        with pytest.raises(ValueError, match=r"fields\.mesage: unknown key \(allowed here: message\)"):
            emu.create_task("traffic_ops", "acme-autorenew", mesage="typo")
        with pytest.raises(ValueError, match=r"fields\.message: 123 is not of type 'string'"):
            emu.create_task("traffic_ops", "acme-autorenew", message=123)
        with pytest.raises(ValueError, match=r"scope: traffic_ops tasks have no scope 'dataset'"):
            emu.create_task("traffic_ops", "acme-autorenew", scope={"dataset": "x"})
        # The control API answers the same words.
        answer = requests.post(
            emu.url + "/_emulator/tasks",
            json={"api": "traffic_ops", "scenario": "acme-autorenew", "fields": {"mesage": "typo"}},
            timeout=5,
        )
        assert (answer.status_code, answer.json()["error"]) == (400, "fields.mesage: unknown key (allowed here: message)")
        assert requests.get(emu.url + "/_emulator/tasks?api=traffic_ops", timeout=5).json()["tasks"] == tasks_before


def test_host_and_port_for_clients_that_take_them_apart() -> None:
    with TaskEmulator.start() as emu:
        assert (emu.host, emu.port) == ("127.0.0.1", int(emu.url.rsplit(":", 1)[1]))
        assert emu.url == f"http://{emu.host}:{emu.port}"
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.port


def test_the_plugin_loads_no_server_when_no_test_uses_it() -> None:
    """pytest imports every installed plugin: one that loads aiohttp and the server costs
    every test run of a project that has task-emulator installed."""
    code = "import sys, emulator.pytest_plugin; print(json.dumps(sorted(m for m in sys.modules if m.startswith(('aiohttp', 'emulator.', 'jsonschema', 'faker')))))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["emulator.options", "emulator.pytest_plugin"]


SEED_RUN = """
import json, os, requests

def test_replay(task_emulator):
    emu = task_emulator
    bodies = []
    http = requests.Session()
    to = emu.credentials("traffic_ops")
    http.post(emu.url_for("traffic_ops") + "user/login", json={"u": to["username"], "p": to["password"]}, timeout=5)
    made = http.post(emu.url_for("traffic_ops") + "acme_autorenew", timeout=5)
    bodies += [made.json(), made.headers["Location"], http.get(emu.url + made.headers["Location"], timeout=5).json()]

    da = emu.credentials("dataarts")
    head = {"X-Auth-Token": da["token"]}
    made = http.post(emu.url + f"/v1/{da['project_id']}/jobs/import", json={"path": "obs://b/jobs.zip"}, headers=head, timeout=5)
    task_id = made.json()["taskId"]
    bodies += [made.json(), http.get(emu.url + f"/v1/{da['project_id']}/system-tasks/{task_id}", headers=head, timeout=5).json()]

    sd = emu.credentials("spectrum_discover")
    token = http.get(emu.url + "/auth/v1/token", auth=(sd["username"], sd["password"]), timeout=5).headers["X-Auth-Token"]
    bearer = {"Authorization": "Bearer " + token, "Accept": "application/json"}
    made = http.get(emu.url + "/db2whrest/v1/sql_query_async?select * from metaocean limit 3", headers=bearer, timeout=5, allow_redirects=False)
    location = made.headers["Location"]
    emu.advance(3600)
    path = "/db2whrest" + location.split("/db2whrest", 1)[1]
    done = http.get(emu.url + path, headers=bearer, timeout=5, allow_redirects=False)
    bodies += [path, done.status_code, done.text]

    oc = emu.credentials("ops_center")
    made = http.post(emu.url + f"/dbapi.do?action=query&dataset={oc['dataset']}&processSync=false", auth=(oc["username"], oc["password"]),
                     json={"query": "vm[*]", "startTime": "20260101_000000", "endTime": "20260101_010000"}, headers={"x-waitTime": "0"}, timeout=5)
    request_id = made.json()["requestId"]
    emu.advance(3600)
    status = http.get(emu.url + f"/dbapi.do?action=getStatus&dataset={oc['dataset']}&requestId={request_id}", auth=(oc["username"], oc["password"]), timeout=5)
    bodies += [made.json(), status.status_code, status.json()]
    with open(os.environ["REPLAY_OUT"], "w") as out:
        json.dump(bodies, out)
"""


def test_a_seed_and_a_clock_start_replay_every_id_and_body(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(SEED_RUN)

    def run(start: str, name: str) -> list[object]:
        out = pytester.path / name
        monkeypatch.setenv("REPLAY_OUT", str(out))
        pytester.runpytest_subprocess(
            "-q", "-p", "no:cacheprovider", "--task-emulator-seed", "11", "--task-emulator-clock-start", start
        ).assert_outcomes(passed=1)
        loaded: list[object] = json.loads(out.read_text())
        return loaded

    first = run("2026-01-02T03:04:05Z", "first.json")
    again = run("1767323045", "again.json")  # the same moment, as epoch seconds
    assert first == again
    elsewhen = run("2026-03-04T05:06:07Z", "elsewhen.json")
    # DataArts ids embed the creation time: only a fixed start makes them repeat.
    assert first[3] != elsewhen[3]


def test_check_says_how_many_files_and_finds_nothing_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text("api: traffic_ops\nname: one\nlifecycle:\n  - phase: running\n    for: 2h\n  - phase: succeeded\n")
    ok = subprocess.run([sys.executable, "-m", "emulator", "check", str(tmp_path)], capture_output=True, text=True)
    assert (ok.returncode, ok.stdout.strip()) == (0, "1 scenario file checked: all valid")
    empty = tmp_path / "empty"
    empty.mkdir()
    none = subprocess.run([sys.executable, "-m", "emulator", "check", str(empty)], capture_output=True, text=True)
    assert none.returncode == 2
    assert f"no scenario file (*.yaml, *.yml) under {empty}" in none.stderr


def test_check_explains_a_duration_in_words_and_sorts_by_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "api: traffic_ops\nname: bad\nlifecycle:\n  - phase: running\n    for: two hours\n"
        "  - phase: running\n    for: -5\n  - phase: succeeded\n    colour: red\n"
    )
    result = subprocess.run([sys.executable, "-m", "emulator", "check", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [int(line.split(":")[1]) for line in lines] == sorted(int(line.split(":")[1]) for line in lines)
    assert any(
        "lifecycle[0].for: 'two hours' is not valid here: Seconds as a number, or text like 30s" in line for line in lines
    )
    assert "is not valid under any of the given schemas" not in result.stdout


def test_your_scenario_replaces_the_built_in_one_of_that_name(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(
        "api: traffic_ops\nname: acme-autorenew\ntrigger:\n  method: POST\n  path: /api/{version}/acme_autorenew\n"
        "lifecycle:\n  - phase: failed\n    message: mine\n"
    )
    check = subprocess.run([sys.executable, "-m", "emulator", "check", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 0
    from emulator.config import EmulatorConfig

    with TaskEmulator.start(EmulatorConfig(clock="virtual", scenario_paths=(tmp_path,))) as emu:
        task = emu.create_task("traffic_ops", "acme-autorenew")
        assert task.phase == "failed"


def test_a_forced_outcome_shows_its_message_wherever_the_vendor_has_a_place() -> None:
    with TaskEmulator.start() as emu:
        http = requests.Session()
        sd = emu.credentials("spectrum_discover")
        token = http.get(emu.url + "/auth/v1/token", auth=(sd["username"], sd["password"]), timeout=5).headers["X-Auth-Token"]
        query = emu.create_task("spectrum_discover", "sql-query")
        emu.fail(query, "the warehouse went away")
        answer = http.get(query.status_url, headers={"Authorization": "Bearer " + token}, timeout=5, allow_redirects=False)
        assert answer.json() == {"reason": "the warehouse went away", "status": "error"}

        oc = emu.credentials("ops_center")
        request = emu.create_task("ops_center", "vm-metrics")
        emu.transition(request, "failed", message="the collector is down")
        answer = http.get(request.status_url, auth=(oc["username"], oc["password"]), timeout=5)
        assert answer.json()["error"] == "the collector is down"

        da = emu.credentials("dataarts")
        job = emu.create_task("dataarts", "import-jobs-one-fails")
        emu.fail(job, "OBS access denied")
        body = http.get(job.status_url, headers={"X-Auth-Token": da["token"]}, timeout=5).json()
        assert (body["status"], body["message"]) == ("FAILED", "OBS access denied")
        assert all(sub["status"] in ("SUCCESSFUL", "FAILED") for sub in body["subtasks"])
        assert any(sub["status"] == "FAILED" and sub["message"] == "OBS access denied" for sub in body["subtasks"])

        done = emu.create_task("dataarts", "import-job")
        emu.complete(done)
        body = http.get(done.status_url, headers={"X-Auth-Token": da["token"]}, timeout=5).json()
        assert body["status"] == "SUCCESSFUL"
        assert [sub["status"] for sub in body["subtasks"]] == ["SUCCESSFUL"] * len(body["subtasks"])


def test_an_unknown_role_in_a_settings_file_is_refused_at_start(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("traffic_ops:\n  users:\n    - {username: ci, password: pw, role: operation}\n")
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--port", "0", "--config", str(settings)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert f"{settings}:3: settings traffic_ops.users[0].role: unknown role 'operation' (the roles: " in result.stderr
    assert "operations" in result.stderr and "Traceback" not in result.stderr

"""Scenario files: what loads, and every kind of mistake reported as file:line: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.apis import API_CLASSES
from emulator.config import EmulatorConfig
from emulator.errors import ScenarioError
from emulator.lifecycle import Phase
from emulator.resources import builtin_scenarios
from emulator.scenario_loader import check_files, load_catalog
from emulator.state import build_runtime, load_schemas

from .helpers import write

SCHEMAS = load_schemas()

VALID = """\
api: traffic_ops
name: renewal
description: A renewal that takes a minute.
trigger:
  method: POST
  path: /api/{version}/acme_autorenew
task:
  message: ACME async job has started.
lifecycle:
  - phase: scheduled
    for: 5s
  - phase: running
    for: 1m
    polls: 3
    message: ACME renewal in progress. 1 certs renewed, 0 errors.
  - phase: succeeded
    message: ACME renewal complete. 1 certs renewed, 0 errors.
preload:
  - id: 40
    at: running
"""


def problems_in(tmp_path: Path, text: str, name: str = "s.yaml") -> list[str]:
    path = write(tmp_path, name, text)
    return [str(p).replace(str(path), name) for p in check_files([path], API_CLASSES, SCHEMAS)]


def test_a_valid_scenario_loads_with_its_parts(tmp_path: Path) -> None:
    path = write(tmp_path, "renewal.yaml", VALID)
    catalog = load_catalog([path], API_CLASSES, SCHEMAS)
    scenario = catalog.get("traffic_ops", "renewal")
    assert scenario is not None
    assert scenario.source.line == 1 and scenario.source.file == str(path)
    assert scenario.lifecycle is not None
    steps = scenario.lifecycle.steps
    assert [(s.phase, s.duration, s.polls) for s in steps] == [
        (Phase.SCHEDULED, 5.0, None), (Phase.RUNNING, 60.0, 3), (Phase.SUCCEEDED, None, None)
    ]
    assert steps[1].fields == {"message": "ACME renewal in progress. 1 certs renewed, 0 errors."}
    assert scenario.fields == {"message": "ACME async job has started."}
    assert scenario.trigger is not None and scenario.trigger.route == "POST /api/{version}/acme_autorenew"
    assert [(p.id, p.at) for p in scenario.preload] == [("40", Phase.RUNNING)]
    assert scenario.summary() == "scheduled 5s → running 1m or 3 polls → succeeded"


def test_several_documents_in_one_file(tmp_path: Path) -> None:
    second = VALID.replace("name: renewal", "name: other").replace("id: 40", "id: 41")
    path = write(tmp_path, "two.yaml", VALID + "---\n" + second)
    catalog = load_catalog([path], API_CLASSES, SCHEMAS)
    assert catalog.get("traffic_ops", "other") is not None
    assert catalog.get("traffic_ops", "other").source.line == 22  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # YAML syntax
        (("lifecycle:\n", "lifecycle: [\n"), "s.yaml:10: not valid YAML"),
        # structure, from the schemas
        (("name: renewal\n", ""), "s.yaml:1: 'name' is missing"),
        (("name: renewal", "name: Renewal Job"), "s.yaml:2: name: 'Renewal Job' does not match"),
        (("description:", "descripton:"), "s.yaml:3: descripton: unknown key (allowed here: "),
        (("    for: 1m\n", "    for: 1m\n    pols: 3\n"), "s.yaml:14: lifecycle[1].pols: unknown key (allowed here: for, message, phase, polls)"),
        (("  - phase: running", "  - phase: runing"), "s.yaml:12: lifecycle[1].phase: 'runing' is not one of"),
        (("    polls: 3", "    polls: 0"), "s.yaml:14: lifecycle[1].polls: 0 is less than the minimum of 1"),
        (("    polls: 3", "    polls: three"), "s.yaml:14: lifecycle[1].polls: 'three' is not of type 'integer'"),
        (("    for: 1m", "    for: a minute"), "s.yaml:13: lifecycle[1].for: 'a minute' is not valid"),
        (("  message: ACME async", "  mesage: ACME async"), "s.yaml:8: task.mesage: unknown key (allowed here: message)"),
        (("    message: ACME renewal complete", "    message: 5\n    other: ACME renewal complete"), "s.yaml:17: lifecycle[2].message: 5 is not of type 'string'"),
        # lifecycle rules
        (("    for: 5s\n", ""), "s.yaml:10: lifecycle[0]: this step never ends"),
        (("  - phase: scheduled", "  - phase: failed"), "s.yaml:10: lifecycle[0]: 'failed' is terminal, so it can only be the last step"),
        (("  - phase: succeeded\n", "  - phase: succeeded\n    for: 3s\n"), "s.yaml:16: lifecycle[2]: the last step lasts for ever"),
        # triggers
        (("path: /api/{version}/acme_autorenew", "path: /api/{version}/acme"), "s.yaml:4: trigger: no Traffic Ops request creates tasks at POST /api/{version}/acme"),
        (("  path: /api/{version}/acme_autorenew\n", "  path: /api/{version}/acme_autorenew\n  when:\n    body.x: y\n"), "s.yaml:8: trigger.when.body.x: POST /api/{version}/acme_autorenew cannot be matched on 'body.x'"),
        # templates
        (("  message: ACME async job has started.", "  message: Job for ${owner}"), "s.yaml:8: task.message: unknown placeholder ${owner}"),
        (("  message: ACME async job has started.", "  message: Job for ${fake.no_such_thing}"), "s.yaml:8: task.message: ${fake.no_such_thing}: Faker has no provider 'no_such_thing'"),
        (("  message: ACME async job has started.", "  message: costs $5"), "s.yaml:8: task.message: a '$' must start a placeholder"),
        # preloads
        (("  - id: 40", "  - id: forty"), "s.yaml:19: preload[0].id: a Traffic Ops async status id is a positive integer, not 'forty'"),
        (("    at: running", "    at: failed"), "s.yaml:20: preload[0].at: this lifecycle has no 'failed' step"),
        (("    at: running", "    created_at: yesterday"), "s.yaml:20: preload[0].created_at: not a time: 'yesterday'"),
        (("    at: running", "    created_at: 2021-02-18T17:13:56"), "s.yaml:20: preload[0].created_at: the time '2021-02-18T17:13:56' needs a zone"),
        (("    at: running", "    scope:\n      project: x"), "s.yaml:21: preload[0].scope.project: Traffic Ops tasks have no scope 'project'"),
        # duplicate keys
        (("description: A renewal", "name: again\ndescription: A renewal"), "s.yaml:3: name: this key is given twice"),
        # the API
        (("api: traffic_ops", "api: traffic-ops"), "s.yaml:1: api: unknown API 'traffic-ops': use one of "),
    ],
)
def test_each_mistake_is_reported_with_its_line(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in VALID
    problems = problems_in(tmp_path, VALID.replace(old, new, 1))
    assert any(p.startswith(expected) for p in problems), problems


def test_every_mistake_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace("    polls: 3", "    polls: 0").replace("  message: ACME async", "  mesage: ACME async")
    problems = problems_in(tmp_path, text)
    assert len(problems) == 2, problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "s.yaml: holds no scenario (the file is empty)"),
        ("- just\n- a list\n", "s.yaml:1: a scenario is a mapping with at least 'api' and 'name'"),
        ("api: traffic_ops\nname: x\n", "s.yaml:1: give the task a 'lifecycle'"),
        ("api: [1\n", "s.yaml:2: not valid YAML"),
    ],
)
def test_file_level_mistakes(tmp_path: Path, text: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems_in(tmp_path, text)), problems_in(tmp_path, text)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_bytes(b"api: \xff\xfe\n")
    problems = check_files([path], API_CLASSES, SCHEMAS)
    assert [p.file for p in problems] == [str(path)]
    assert "cannot read the file" in problems[0].message


def test_names_and_preloaded_ids_are_unique_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "b.yaml", VALID.replace("id: 40", "id: 41"))
    write(tmp_path, "c.yaml", VALID.replace("name: renewal", "name: other"))
    with pytest.raises(ScenarioError) as caught:
        load_catalog([tmp_path], API_CLASSES, SCHEMAS)
    text = str(caught.value)
    assert f"{tmp_path / 'b.yaml'}:1: a traffic_ops scenario named 'renewal' is already loaded from {tmp_path / 'a.yaml'}:1" in text
    assert f"{tmp_path / 'c.yaml'}:1: preloaded traffic_ops task '40' is already preloaded by {tmp_path / 'a.yaml'}:1" in text


def test_a_file_with_a_mistake_loads_nothing(tmp_path: Path) -> None:
    good = VALID.replace("name: renewal", "name: good").replace("id: 40", "id: 50")
    bad = VALID.replace("    polls: 3", "    polls: 0")
    write(tmp_path, "mixed.yaml", good + "---\n" + bad)
    problems = check_files([tmp_path], API_CLASSES, SCHEMAS)
    assert len(problems) == 1
    # The server does not start half-loaded.
    with pytest.raises(ScenarioError, match="mixed.yaml:35: lifecycle"):
        build_runtime(EmulatorConfig(scenario_paths=(tmp_path,)))


def test_the_builtin_scenarios_are_valid() -> None:
    # Every check, the schema check included, which a server start skips for these files.
    assert check_files([builtin_scenarios()], API_CLASSES, SCHEMAS) == []
    runtime = build_runtime(EmulatorConfig())
    assert runtime.engine.catalog.get("traffic_ops", "acme-autorenew") is not None


def test_user_scenarios_are_schema_checked_even_beside_the_builtin_ones(tmp_path: Path) -> None:
    write(tmp_path, "typo.yaml", VALID.replace("    polls: 3", "    pols: 3"))
    with pytest.raises(ScenarioError, match="typo.yaml:[0-9]+: .*pols: unknown key"):
        build_runtime(EmulatorConfig(scenario_paths=(tmp_path,)))


def test_folders_are_searched_for_yaml_only(tmp_path: Path) -> None:
    write(tmp_path, "nested/deeper/one.yml", VALID)
    write(tmp_path, "notes.txt", "not a scenario")
    catalog = load_catalog([tmp_path], API_CLASSES, SCHEMAS)
    assert list(catalog.scenarios) == [("traffic_ops", "renewal")]


def test_timestamps_and_odd_keys_stay_text(tmp_path: Path) -> None:
    text = VALID.replace("  message: ACME async job has started.", "  message: 2021-02-18")
    catalog = load_catalog([write(tmp_path, "t.yaml", text)], API_CLASSES, SCHEMAS)
    assert catalog.get("traffic_ops", "renewal").fields["message"] == "2021-02-18"  # type: ignore[union-attr]

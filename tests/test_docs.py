"""The examples in the README and docs are run, so they stay true."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml

from emulator.apis import API_CLASSES
from emulator.config import EmulatorConfig
from emulator.lifecycle import Phase
from emulator.scenario_loader import load_catalog, scenario_files
from emulator.state import api_settings, load_schemas

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DOCS = ROOT / "docs" / "scenarios.md"
BUNDLE = json.loads((ROOT / "schemas" / "scenario.bundle.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Block:
    """A fenced code block of a doc, and the `<!-- marker -->` right above it (or None)."""

    marker: str | None
    lang: str
    text: str


def code_blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^```([a-z]*)\n(.*?)^```$", text, re.MULTILINE | re.DOTALL):
        above = re.search(r"<!-- ([a-z0-9-]+) -->\s*$", text[: match.start()])
        blocks.append(Block(above.group(1) if above else None, match.group(1), match.group(2)))
    return blocks


def block(path: Path, marker: str) -> Block:
    (found,) = [b for b in code_blocks(path) if b.marker == marker]
    return found


def run_emulator(command: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """A documented `task-emulator ...` command, run with this source tree's package."""
    words = shlex.split(command)
    assert words[0] == "task-emulator", command
    return subprocess.run(
        [sys.executable, "-m", "emulator", *words[1:], *extra], cwd=cwd, check=False,
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def block_after(path: Path, marker: str) -> str:
    text = path.read_text(encoding="utf-8")
    match = re.search(re.escape(marker) + r"\s*```[a-z]*\n(.*?)```", text, re.DOTALL)
    assert match, f"no code block after {marker} in {path.name}"
    return match.group(1)


def test_the_full_scenario_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(block_after(SCENARIO_DOCS, "<!-- scenario-example -->"))
    catalog = load_catalog([path], API_CLASSES, load_schemas())
    scenario = catalog.get("traffic_ops", "slow-renewal")
    assert scenario is not None and scenario.lifecycle is not None
    phases = [s.phase for s in scenario.lifecycle.steps]
    assert phases == [Phase.SCHEDULED, Phase.RUNNING, Phase.SUCCEEDED]
    assert [p.id for p in scenario.preload] == ["500", "501"]


def test_the_readme_config_example_is_valid() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"## Configuration.*?```yaml\n(.*?)```", text, re.DOTALL)
    assert match
    settings = yaml.safe_load(match.group(1))
    EmulatorConfig(api_settings=settings)
    schemas = load_schemas()
    for api, overrides in settings.items():
        merged = api_settings(API_CLASSES[api], overrides, schemas)
        assert merged["users"] == overrides["users"]


def test_the_readme_commands_are_the_ones_ci_runs() -> None:
    assert block_after(ROOT / "README.md", "<!-- test-command -->").strip() == (
        "python3 -m pip install -e '.[test]' && python3 -m pytest"
    )
    assert "test-command" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_fixture_example_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_readme=block_after(ROOT / "README.md", "<!-- fixture-example -->"))
    pytester.runpytest("-q").assert_outcomes(passed=1)


def test_the_readme_fault_examples_run(pytester: pytest.Pytester) -> None:
    example = block_after(ROOT / "README.md", "<!-- faults-example -->")
    pytester.makepyfile(test_faults_readme=example)
    pytester.runpytest("-q").assert_outcomes(passed=7)


def test_the_readme_fault_curl_bodies_are_accepted() -> None:
    import json
    import shlex

    import requests

    from emulator.server import EmulatorServer

    lines = block_after(ROOT / "README.md", "<!-- faults-curl -->").strip().splitlines()
    with EmulatorServer(EmulatorConfig(clock="virtual", seed=1)) as server:
        for line in lines:
            words = shlex.split(line)
            method = words[words.index("-X") + 1] if "-X" in words else "GET"
            body = json.loads(words[words.index("-d") + 1]) if "-d" in words else None
            url = "http://" + words[-1 if body is None else words.index("-d") - 1]
            response = requests.request(method, url.replace("localhost:8080", server.url.removeprefix("http://")),
                                        json=body, timeout=10)
            assert response.status_code == (201 if method == "POST" else 200), (line, response.text)
            if method == "GET":
                assert len(response.json()["faults"]) == 4


def test_the_scenario_fault_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "flaky.yaml"
    path.write_text(block_after(SCENARIO_DOCS, "<!-- faults-scenario-example -->"))
    scenario = load_catalog([path], API_CLASSES, load_schemas()).get("traffic_ops", "flaky-renewal")
    assert scenario is not None
    assert [(f.id, f.kind, f.match.on_task) for f in scenario.faults] == [
        ("traffic_ops.flaky-renewal.1", "error", True),
        ("traffic_ops.flaky-renewal.2", "latency", False),
        ("traffic_ops.flaky-renewal.3", "truncate", True),
    ]


# Every code block of docs/scenarios.md, by its marker, and the test below that runs it.
SCENARIO_DOC_BLOCKS = {
    "scenario-example": "yaml",           # test_the_full_scenario_example_loads
    "peek-example": "python",             # test_the_peek_example_runs
    "peek-scenario": "yaml",
    "placeholders-example": "yaml",       # test_the_placeholders_example_runs
    "placeholders-test": "python",
    "faults-scenario-example": "yaml",    # test_the_scenario_fault_example_loads
    "broken-scenario-example": "yaml",    # test_check_prints_what_the_docs_show
    "check-command": "sh",
    "check-output": "text",
    "replace-example": "yaml",            # test_serve_logs_a_replaced_builtin_as_the_docs_show
    "replace-command": "sh",
    "replace-log": "text",
}


def test_every_code_block_of_the_scenario_docs_is_run_by_a_test() -> None:
    blocks = code_blocks(SCENARIO_DOCS)
    assert [b.marker for b in blocks if b.marker not in SCENARIO_DOC_BLOCKS] == []
    assert {b.marker: b.lang for b in blocks} == SCENARIO_DOC_BLOCKS


def test_every_yaml_block_of_the_scenario_docs_loads_and_fits_the_editor_schema(
    tmp_path: Path,
) -> None:
    validator = jsonschema.Draft7Validator(BUNDLE)
    for index, found in enumerate(code_blocks(SCENARIO_DOCS)):
        if found.lang != "yaml" or found.marker == "broken-scenario-example":
            continue
        path = tmp_path / f"{index}.yaml"
        path.write_text(found.text, encoding="utf-8")
        catalog = load_catalog([path], API_CLASSES, load_schemas())
        assert catalog.scenarios, found.marker
        for document in yaml.safe_load_all(found.text):
            assert [e.message for e in validator.iter_errors(document)] == [], found.marker


def test_the_docs_name_all_four_apis_and_no_other() -> None:
    text = SCENARIO_DOCS.read_text(encoding="utf-8")
    assert "more to come" not in text
    places = [
        r"There are four APIs:\s((?:.|\n)*?)\.",     # the introduction
        r"^api: traffic_ops +# which API: (.*)$",    # the full example
        r"^\| `api` \| yes \| the API id: (.*) \|$",  # the table of parts
    ]
    for place in places:
        listed = re.search(place, text, re.MULTILINE)
        assert listed, place
        assert set(re.findall(r"[a-z]+_[a-z_]+|dataarts", listed.group(1))) == set(API_CLASSES)


def test_the_docs_list_every_placeholder_root() -> None:
    from emulator.scenario import TEMPLATE_ROOTS

    text = SCENARIO_DOCS.read_text(encoding="utf-8")
    table = re.findall(r"^\| `\$\{([a-z]+)[.}]", text, re.MULTILINE)
    assert sorted(table) == sorted(TEMPLATE_ROOTS)


def run_doc_test(pytester: pytest.Pytester, scenario_marker: str, test_marker: str) -> None:
    scenarios = pytester.mkdir("scenarios")
    (scenarios / "docs.yaml").write_text(block(SCENARIO_DOCS, scenario_marker).text)
    pytester.makepyfile(test_doc=block(SCENARIO_DOCS, test_marker).text)
    pytester.runpytest("-q").assert_outcomes(passed=1)


def test_the_peek_example_runs(pytester: pytest.Pytester) -> None:
    run_doc_test(pytester, "peek-scenario", "peek-example")


def test_the_placeholders_example_runs(pytester: pytest.Pytester) -> None:
    run_doc_test(pytester, "placeholders-example", "placeholders-test")


def test_check_prints_what_the_docs_show(tmp_path: Path) -> None:
    folder = tmp_path / "my-scenarios"
    folder.mkdir()
    (folder / "renewal.yaml").write_text(block(SCENARIO_DOCS, "broken-scenario-example").text)
    result = run_emulator(block(SCENARIO_DOCS, "check-command").text.strip(), tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stdout == block(SCENARIO_DOCS, "check-output").text
    assert result.stderr == "3 mistakes in 1 of 1 file\n"


def test_serve_logs_a_replaced_builtin_as_the_docs_show(tmp_path: Path) -> None:
    folder = tmp_path / "my-scenarios"
    folder.mkdir()
    (folder / "doc-example.yaml").write_text(block(SCENARIO_DOCS, "replace-example").text)
    # The log line as a pattern: any time, and any folder for the built-in scenarios.
    shown = block(SCENARIO_DOCS, "replace-log").text.strip()
    pattern = re.escape(shown).replace(re.escape("…"), ".*")
    pattern = re.sub(r"\d{4}\\-\d\d\\-\d\d\\ \d\d:\d\d:\d\d,\d{3}", r"[0-9-]+ [0-9:,]+", pattern)
    words = shlex.split(block(SCENARIO_DOCS, "replace-command").text.strip())
    assert words[0] == "task-emulator"
    server = subprocess.Popen(
        [sys.executable, "-m", "emulator", *words[1:], "--port", "0", "--clock", "virtual"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(server.stderr or ()), daemon=True)
    reader.start()

    def logged() -> bool:
        return any(re.fullmatch(pattern, line.strip()) for line in list(lines))

    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not logged():
            assert server.poll() is None, "serve ended early:\n" + "".join(lines)
            time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(timeout=30)
        reader.join(timeout=5)
    assert logged(), "".join(lines)
    assert "built-in" in shown and "(…/scenarios/traffic_ops/doc-example.yaml)" in shown


EDITOR_DOCS = ROOT / "docs" / "editors.md"
EDITOR_DOC_BLOCKS = {
    "schema-command": "sh",                 # test_the_editor_docs_steps_work_for_a_user
    "modeline-example": "yaml",
    "vscode-settings": "json",
    "vscode-settings-source-tree": "json",  # test_the_source_tree_settings_cover_every_scenario
}


def test_every_code_block_of_the_editor_docs_is_run_by_a_test() -> None:
    blocks = code_blocks(EDITOR_DOCS)
    assert {b.marker: b.lang for b in blocks} == EDITOR_DOC_BLOCKS
    assert len(blocks) == len(EDITOR_DOC_BLOCKS)


def test_the_editor_docs_steps_work_for_a_user(tmp_path: Path) -> None:
    # `task-emulator schema > my-scenarios/scenario.schema.json`, in a project folder.
    command, _, target = block(EDITOR_DOCS, "schema-command").text.strip().partition(" > ")
    result = run_emulator(command, tmp_path)
    assert result.returncode == 0, result.stderr
    schema_file = tmp_path / target
    schema_file.parent.mkdir(parents=True)
    schema_file.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == (ROOT / "schemas" / "scenario.bundle.json").read_text(encoding="utf-8")

    # The example scenario, where the docs put it: its modeline finds the schema.
    scenario = block(EDITOR_DOCS, "modeline-example").text
    where = re.search(r"; for `([^`]+)`:\n\n<!-- modeline-example -->", EDITOR_DOCS.read_text())
    assert where, "the docs no longer say where the modeline example lives"
    path = tmp_path / where.group(1)
    path.write_text(scenario, encoding="utf-8")
    modeline = scenario.splitlines()[0].removeprefix("# yaml-language-server: $schema=")
    assert (path.parent / modeline).resolve() == schema_file.resolve()
    schema = json.loads((path.parent / modeline).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load(scenario))
    assert load_catalog([path], API_CLASSES, load_schemas()).get("traffic_ops", "nightly-renewal")
    # `serve --scenarios my-scenarios` leaves the schema file alone.
    assert scenario_files([path.parent]) == [path]

    # The VS Code settings map that schema to that scenario.
    settings = json.loads(block(EDITOR_DOCS, "vscode-settings").text)["yaml.schemas"]
    ((schema_key, patterns),) = settings.items()
    assert (tmp_path / schema_key).resolve() == schema_file.resolve()
    assert any(path.relative_to(tmp_path).match(pattern) for pattern in patterns)


def test_the_source_tree_settings_cover_every_scenario() -> None:
    settings = json.loads(block(EDITOR_DOCS, "vscode-settings-source-tree").text)["yaml.schemas"]
    ((schema_key, patterns),) = settings.items()
    assert (ROOT / schema_key).resolve() == (ROOT / "schemas" / "scenario.bundle.json").resolve()
    covered = {p for pattern in patterns for p in ROOT.glob(pattern)}
    assert covered == set((ROOT / "scenarios").rglob("*.yaml")) and covered


def test_the_editor_docs_give_the_schema_id_the_command_prints() -> None:
    from emulator.editor_schema import BUNDLE_ID

    text = EDITOR_DOCS.read_text(encoding="utf-8")
    assert f"`{BUNDLE_ID}`" in text
    assert run_emulator("task-emulator schema --id", ROOT).stdout == BUNDLE_ID + "\n"

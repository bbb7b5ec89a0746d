"""The examples in the README and docs are run, so they stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from emulator.apis import API_CLASSES
from emulator.app import EmulatorConfig, api_settings, load_schemas
from emulator.lifecycle import Phase
from emulator.scenario import load_catalog

ROOT = Path(__file__).resolve().parent.parent


def block_after(path: Path, marker: str) -> str:
    text = path.read_text(encoding="utf-8")
    match = re.search(re.escape(marker) + r"\s*```[a-z]*\n(.*?)```", text, re.DOTALL)
    assert match, f"no code block after {marker} in {path.name}"
    return match.group(1)


def test_the_full_scenario_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(block_after(ROOT / "docs" / "scenarios.md", "<!-- scenario-example -->"))
    catalog = load_catalog([path], API_CLASSES, load_schemas())
    scenario = catalog.get("traffic_ops", "slow-renewal")
    assert scenario is not None and scenario.lifecycle is not None
    assert [s.phase for s in scenario.lifecycle.steps] == [Phase.SCHEDULED, Phase.RUNNING, Phase.SUCCEEDED]
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
    pytester.makepyfile(test_faults_readme=block_after(ROOT / "README.md", "<!-- faults-example -->"))
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
    path.write_text(block_after(ROOT / "docs" / "scenarios.md", "<!-- faults-scenario-example -->"))
    scenario = load_catalog([path], API_CLASSES, load_schemas()).get("traffic_ops", "flaky-renewal")
    assert scenario is not None
    assert [(f.id, f.kind, f.match.on_task) for f in scenario.faults] == [
        ("traffic_ops.flaky-renewal.1", "error", True),
        ("traffic_ops.flaky-renewal.2", "latency", False),
        ("traffic_ops.flaky-renewal.3", "truncate", True),
    ]

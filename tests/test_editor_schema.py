"""The bundled scenario schema editors use: valid, self-contained, never stale, and as strict
as the loader's schema checks; and every shipped scenario names it on its first line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from emulator.apis import API_CLASSES
from emulator.editor_schema import BUNDLE_FILE, BUNDLE_ID, build_bundle, render_bundle
from emulator.errors import ConfigError
from emulator.scenario_loader import check_files
from emulator.state import load_schemas

from .helpers import write

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
BUNDLE_PATH = SCHEMAS / BUNDLE_FILE
BUNDLE = json.loads(BUNDLE_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft7Validator(BUNDLE, format_checker=jsonschema.FormatChecker())
LOADER_SCHEMAS = load_schemas()
MODELINE = "# yaml-language-server: $schema="


def shipped_scenario_files() -> list[Path]:
    return sorted((ROOT / "scenarios").rglob("*.yaml"))


def documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key not in ("enum", "const", "default", "examples"):
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_the_bundle_is_a_valid_draft_07_schema_with_every_ref_inside_it() -> None:
    jsonschema.Draft7Validator.check_schema(BUNDLE)
    assert BUNDLE["$id"] == BUNDLE_ID
    found = list(refs(BUNDLE))
    assert len(found) > 20
    for ref in found:
        assert ref.startswith("#/"), f"{ref} points outside the one file"
        node: Any = BUNDLE
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
            node = node[part]


def test_the_shipped_bundle_is_what_the_build_makes() -> None:
    assert BUNDLE_PATH.read_text(encoding="utf-8") == render_bundle(SCHEMAS, API_CLASSES), (
        "schemas/scenario.bundle.json is stale: "
        "run `python -m emulator schema > schemas/scenario.bundle.json`"
    )


def test_the_command_prints_the_bundle_and_its_id() -> None:
    def run(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "emulator", "schema", *args],
            check=True, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        return result.stdout

    assert run() == BUNDLE_PATH.read_text(encoding="utf-8")
    assert run("--id") == BUNDLE_ID + "\n"


@pytest.mark.parametrize(
    "path", shipped_scenario_files() + [ROOT / "examples" / "scenarios" / "long-jobs.yaml"],
    ids=lambda p: p.relative_to(ROOT).as_posix(),
)
def test_it_accepts_every_shipped_scenario(path: Path) -> None:
    assert check_files([path], API_CLASSES, LOADER_SCHEMAS) == []
    for document in documents(path):
        assert [e.message for e in VALIDATOR.iter_errors(document)] == []


TRAFFIC_OPS = """\
api: traffic_ops
name: renewal
trigger: {method: POST, path: "/api/{version}/acme_autorenew"}
task: {message: Started.}
lifecycle:
  - phase: scheduled
    for: 5s
  - phase: running
    polls: 3
    message: In progress.
  - phase: succeeded
preload:
  - {id: 40, at: running}
faults:
  - {kind: error, status: 503, step: running, times: 2}
"""
DATAARTS = """\
api: dataarts
name: import
task: {name: "Import ${body.path}.", message: Importing.}
lifecycle:
  - {phase: running, for: 10s}
  - {phase: succeeded, message: Done.}
preload:
  - {id: 0123456789abcdef0123456789abcdef, scope: {workspace: default}}
"""
OPS_CENTER = """\
api: ops_center
name: query
results: {total: 20, matched: 8}
lifecycle:
  - {phase: running, for: 10s, processed: 50%}
  - {phase: failed, error: {status: 500, code: 720600E2, message: Broke.}}
"""
SPECTRUM_DISCOVER = """\
api: spectrum_discover
name: query
lifecycle:
  - {phase: running, polls: 2, peek: work in progress}
  - {phase: succeeded}
results: {generator: metaocean, count: 3, fields: {datasource: nfs1}}
options: {csv_header: true}
"""


@pytest.mark.parametrize("text", [TRAFFIC_OPS, DATAARTS, OPS_CENTER, SPECTRUM_DISCOVER])
def test_the_bases_of_the_mistakes_below_are_valid(tmp_path: Path, text: str) -> None:
    assert check_files([write(tmp_path, "s.yaml", text)], API_CLASSES, LOADER_SCHEMAS) == []
    assert list(VALIDATOR.iter_errors(yaml.safe_load(text))) == []


@pytest.mark.parametrize(
    ("base", "old", "new"),
    [
        # what any scenario can get wrong
        (TRAFFIC_OPS, "api: traffic_ops", "api: traffic-ops"),
        (TRAFFIC_OPS, "name: renewal", "name: Renewal Job"),
        (TRAFFIC_OPS, "task:", "taks:"),
        (TRAFFIC_OPS, "  - phase: running", "  - phase: runing"),
        (TRAFFIC_OPS, "    for: 5s", "    for: 5 seconds"),
        (TRAFFIC_OPS, "    polls: 3", "    polls: 0"),
        (TRAFFIC_OPS, "{id: 40, at: running}", "{id: 40, at: running, created: 1}"),
        (TRAFFIC_OPS, "kind: error", "kind: eror"),
        (TRAFFIC_OPS, "times: 2", "tims: 2"),
        (TRAFFIC_OPS, "method: POST", "method: FETCH"),
        # what only the scenario's own API forbids
        (TRAFFIC_OPS, "    polls: 3\n", "    pols: 3\n"),
        (TRAFFIC_OPS, "task: {message: Started.}", "task: {mesage: Started.}"),
        (TRAFFIC_OPS, "    message: In progress.", "    peek: work in progress"),
        (DATAARTS, "{name:", "{nam:"),
        (DATAARTS, "id: 0123456789abcdef0123456789abcdef", "id: ABC"),
        (DATAARTS, "scope: {workspace: default}", "scope: {region: default}"),
        (OPS_CENTER, "processed: 50%", "processed: half"),
        (OPS_CENTER, "matched: 8}", "matched: 8, rows: []}"),
        (OPS_CENTER, "  - {phase: failed, error:", "  - {phase: succeeded, error:"),
        (SPECTRUM_DISCOVER, "peek: work in progress", "peek: error"),
        (SPECTRUM_DISCOVER, "{csv_header: true}", "{csv_headers: true}"),
        (SPECTRUM_DISCOVER, "fields: {datasource: nfs1}", "fields: {data_source: nfs1}"),
    ],
)
def test_it_rejects_what_the_loader_rejects(tmp_path: Path, base: str, old: str, new: str) -> None:
    assert old in base
    text = base.replace(old, new)
    assert check_files([write(tmp_path, "s.yaml", text)], API_CLASSES, LOADER_SCHEMAS) != []
    assert list(VALIDATOR.iter_errors(yaml.safe_load(text))) != [], f"the bundle accepts {new!r}"


def test_refs_between_files_are_followed_once_even_in_a_cycle(tmp_path: Path) -> None:
    def schema(name: str, value: dict[str, Any]) -> None:
        write(tmp_path, name, json.dumps(value))

    schema("scenario.schema.json", {
        "type": "object",
        "properties": {"api": {"type": "string"}, "x": {"$ref": "a/x.schema.json#/definitions/d"}},
    })
    schema("a/scenario.schema.json", {"properties": {"x": {"$ref": "../b/y.schema.json"}}})
    schema("a/x.schema.json", {
        "definitions": {"d": {"$ref": "x.schema.json#/definitions/e"}, "e": {"type": "integer"}},
    })
    schema("b/y.schema.json", {"anyOf": [{"type": "null"}, {"$ref": "../a/x.schema.json"}]})
    bundle = build_bundle(tmp_path, ["a"])
    assert sorted(bundle["definitions"]) == ["a.scenario", "a.x", "b.y"]
    assert bundle["properties"]["x"] == {"$ref": "#/definitions/a.x/definitions/d"}
    d = bundle["definitions"]["a.x"]["definitions"]["d"]
    assert d == {"$ref": "#/definitions/a.x/definitions/e"}
    assert bundle["definitions"]["b.y"]["anyOf"][1] == {"$ref": "#/definitions/a.x"}
    validator = jsonschema.Draft7Validator(bundle)
    assert validator.is_valid({"api": "a", "x": 1})
    assert not validator.is_valid({"api": "a", "x": "one"})
    assert not validator.is_valid({"api": "b"})


def test_a_ref_out_of_the_schemas_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "scenario.schema.json", json.dumps({"properties": {"api": {}}}))
    write(tmp_path, "a/scenario.schema.json", json.dumps({"$ref": "https://example.com/s.json"}))
    with pytest.raises(ConfigError, match="leaves the schemas folder"):
        build_bundle(tmp_path, ["a"])


@pytest.mark.parametrize(
    "path", shipped_scenario_files(), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_every_shipped_scenario_names_the_bundle_on_its_first_line(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), f"{path.name} does not start with the modeline"
    target = path.parent / first.removeprefix(MODELINE)
    assert target.resolve() == BUNDLE_PATH.resolve()

"""Response validation: every vendor body is checked against its schema before it is sent."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from emulator.app import create_app
from emulator.config import EmulatorConfig
from emulator.resources import builtin_schemas
from emulator.schemas import SchemaSet
from emulator.state import build_runtime

from .helpers import CLOCK_START, Client


def drifted_schemas(tmp_path: Path) -> SchemaSet:
    """The built-in schemas, with Traffic Ops messages limited to 5 characters: a contract
    the built-in scenarios break, as a vendor change would."""
    root = tmp_path / "schemas"
    shutil.copytree(builtin_schemas(), root)
    path = root / "traffic_ops" / "async_status.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["response"]["properties"]["message"]["maxLength"] = 5
    path.write_text(json.dumps(schema))
    return SchemaSet(root)


async def client_with(aiohttp_client: Any, tmp_path: Path, mode: str) -> Client:
    runtime = build_runtime(EmulatorConfig(clock="virtual", clock_start=CLOCK_START, validate=mode))  # type: ignore[arg-type]
    runtime.schemas = drifted_schemas(tmp_path)
    client: Client = await aiohttp_client(create_app(runtime=runtime))
    await client.post("/api/4.0/user/login", json={"u": "admin", "p": "twelve12"})
    return client


async def test_strict_mode_replaces_a_bad_body_with_a_500_that_explains(aiohttp_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = await client_with(aiohttp_client, tmp_path, "strict")
    with caplog.at_level(logging.ERROR):
        response = await client.get("/api/4.0/async_status/1")
    assert response.status == 500
    assert response.headers["X-Task-Emulator-Violation"] == "traffic_ops/async_status.schema.json"
    assert await response.json() == {
        "error": "the emulator's response failed schema validation",
        "schema": "traffic_ops/async_status.schema.json",
        "path": "$.response.message",
        "violation": "'Async job has started.' is too long",
        "status": 200,
    }
    assert "breaks its schema" in caplog.text and "$.response.message" in caplog.text
    journal = (await (await client.get("/_emulator/requests?task=1")).json())["requests"]
    assert journal[-1]["status"] == 500
    assert "'Async job has started.' is too long" in journal[-1]["violation"]


async def test_warn_mode_sends_the_body_and_logs(aiohttp_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = await client_with(aiohttp_client, tmp_path, "warn")
    with caplog.at_level(logging.ERROR):
        response = await client.get("/api/4.0/async_status/1")
    assert response.status == 200
    assert (await response.json())["response"]["message"] == "Async job has started."
    assert "$.response.message" in caplog.text
    journal = (await (await client.get("/_emulator/requests?task=1")).json())["requests"]
    assert "too long" in journal[-1]["violation"]


async def test_off_mode_checks_nothing(aiohttp_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = await client_with(aiohttp_client, tmp_path, "off")
    with caplog.at_level(logging.ERROR):
        response = await client.get("/api/4.0/async_status/1")
    assert response.status == 200
    assert "breaks its schema" not in caplog.text


def test_schemas_are_checked_against_their_metaschema(tmp_path: Path) -> None:
    root = tmp_path / "schemas"
    root.mkdir()
    (root / "bad.schema.json").write_text('{"type": "no-such-type"}')
    with pytest.raises(Exception, match="bad.schema.json: not a valid JSON Schema"):
        SchemaSet(root).check()


def test_every_builtin_schema_is_a_valid_draft_7_schema() -> None:
    schemas = SchemaSet(builtin_schemas())
    schemas.check()
    assert "traffic_ops/async_status.schema.json" in schemas
    assert "scenario.schema.json" in schemas


def test_violation_names_the_path_and_the_rule() -> None:
    schemas = SchemaSet(builtin_schemas())
    body = {"response": {"id": "1", "status": "PENDING", "start_time": "2021-02-18T17:13:56Z"}}
    violation = schemas.violation("traffic_ops/async_status.schema.json", body)
    assert violation is not None
    assert (violation.path, violation.message) == ("$.response.id", "'1' is not of type 'integer'")
    body["response"]["id"] = 1
    assert schemas.violation("traffic_ops/async_status.schema.json", body) is None
    # end_time is absent exactly while the job is pending.
    body["response"]["end_time"] = "2021-02-18T17:14:00Z"
    assert schemas.violation("traffic_ops/async_status.schema.json", body) is not None


def test_every_api_s_built_in_settings_fit_its_settings_schema() -> None:
    from emulator.apis import API_CLASSES

    schemas = SchemaSet(builtin_schemas())
    for name, api_class in API_CLASSES.items():
        errors = list(schemas.errors(f"{name}/settings.schema.json", dict(api_class.default_settings)))
        assert errors == [], (name, errors)


def test_every_schema_compiles_when_fastjsonschema_is_installed() -> None:
    pytest.importorskip("fastjsonschema")
    schemas = SchemaSet(builtin_schemas())
    before = json.dumps(schemas._documents, sort_keys=True)
    assert [name for name in schemas.names() if schemas._compile(name) is None] == []
    # Compiling leaves the documents jsonschema resolves against as they were.
    assert json.dumps(schemas._documents, sort_keys=True) == before

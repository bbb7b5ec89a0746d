"""Every route fuzzed with Schemathesis against the served OpenAPI document.

A bounded run (a few examples per operation, one server on 127.0.0.1 with a virtual clock):
no 5xx but those an operation declares (a vendor's own scripted errors, such as Traffic
Ops' 501 for an unknown API version) and never the emulator's own schema-violation 500, no
body that breaks its declared schema, and a healthy server afterwards.

`POST /_emulator/faults` is fuzzed like every route, so a case may inject a fault; a 5xx
carrying the injected-fault header is not the emulator's failure. The faults a control case
made are cleared before each vendor case, so one drawn reset or 600 s latency does not turn
every later case into a connection error or a timeout.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    CheckContext,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    unsupported_method,
)

from emulator.config import EmulatorConfig
from emulator.openapi import ANY_METHODS
from emulator.server import EmulatorServer

from .helpers import CLOCK_START

# Small for CI; set TASK_EMULATOR_FUZZ_EXAMPLES=500 for a deeper hunt at a desk.
MAX_EXAMPLES = int(os.environ.get("TASK_EMULATOR_FUZZ_EXAMPLES", "12"))
# TASK_EMULATOR_FUZZ_CHECKS=all adds every check Schemathesis has (positive and negative
# data acceptance, content types, headers …) to the two run in CI.
EVERY_CHECK = os.environ.get("TASK_EMULATOR_FUZZ_CHECKS") == "all"


@pytest.fixture(scope="module")
def fuzzed_server() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(clock="virtual", clock_start=CLOCK_START, seed=11)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def credentials(fuzzed_server: EmulatorServer) -> dict[str, dict[str, str]]:
    """Headers that pass each API's auth, so the fuzz reaches past the 401s."""
    apis = fuzzed_server.runtime.apis
    ops, spectrum = apis["ops_center"].credentials(), apis["spectrum_discover"].credentials()
    login = apis["traffic_ops"].credentials()
    session = requests.post(
        f"{fuzzed_server.url}/api/4.0/user/login", json={"u": login["username"], "p": login["password"]}, timeout=10
    )
    basic = requests.auth._basic_auth_str  # type: ignore[attr-defined]
    return {
        "ops_center": {"Authorization": basic(ops["username"], ops["password"])},
        "spectrum_discover": {
            "Authorization": basic(spectrum["username"], spectrum["password"]),
            "X-ALLOW-BASIC-AUTH-SD": "true",
        },
        "dataarts": {"X-Auth-Token": apis["dataarts"].credentials()["token"]},
        "traffic_ops": {"Cookie": f"mojolicious={session.cookies['mojolicious']}"},
        "control": {},
    }


@pytest.fixture(scope="module")
def openapi_schema(fuzzed_server: EmulatorServer) -> Any:
    document = requests.get(f"{fuzzed_server.url}/_emulator/openapi.json", timeout=10).json()
    return schemathesis.openapi.from_dict(document)


schema = schemathesis.pytest.from_fixture("openapi_schema")


def no_undeclared_server_error(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    status = response.status_code
    if status < 500 or response.headers.get("X-Task-Emulator-Fault"):
        return None
    violation = response.headers.get("X-Task-Emulator-Violation")
    assert not violation, f"the emulator's answer broke its own schema {violation}: {response.text[:500]}"
    declared = case.operation.definition.raw.get("responses", {})
    assert str(status) in declared, (
        f"{case.method} {case.formatted_path}: {status} is not a declared answer: {response.text[:500]}"
    )
    return None


def beyond_the_document(case: Any) -> list[Any]:
    """The checks a case is spared because the document cannot say what the server wants.

    - A catch-all route (Traffic Ops' `/api...`, documented for every method OpenAPI 3.1 has
      a field for) takes QUERY too, which the document cannot name: its 404 is Traffic Ops'
      own answer to a method no route has, not a 405.
    - JSON Schema compares no two values: a uniform latency whose `min` is above its `max`
      is a 400 the fault schema cannot announce.
    - OpenAPI 3.1 cannot make the whole query string a required parameter: Spectrum
      Discover's `GET sql_query_async` without SQL is a 400 (3.2's `in: querystring` could).
    """
    spared = []
    if set(ANY_METHODS) <= set(case.operation.schema.raw_schema["paths"][case.operation.path]):
        spared.append(unsupported_method)
    body = case.body if case.method == "POST" and case.path == "/_emulator/faults" else None
    if isinstance(body, dict) and body.get("distribution") == "uniform":
        low, high = body.get("min"), body.get("max")
        if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
            spared.append(positive_data_acceptance)
    if case.method == "GET" and case.path == "/db2whrest/v1/sql_query_async" and not case.query:
        spared.append(positive_data_acceptance)
    return spared


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_fuzz(case: Any, fuzzed_server: EmulatorServer, credentials: dict[str, dict[str, str]]) -> None:
    api = case.operation.definition.raw["tags"][0]
    if api != "control":
        requests.delete(f"{fuzzed_server.url}/_emulator/faults", timeout=10)
    if EVERY_CHECK:
        # Every check but Schemathesis' own "no 5xx", which no_undeclared_server_error takes
        # the place of: a vendor's declared 5xx (Traffic Ops' 501 for a version it lacks,
        # which `GET /api` always is) is the vendor's answer, not a failure.
        checks = {"additional_checks": [no_undeclared_server_error],
                  "excluded_checks": [not_a_server_error, *beyond_the_document(case)]}
    else:
        checks = {"checks": [no_undeclared_server_error, response_schema_conformance]}
    case.call_and_validate(base_url=fuzzed_server.url, headers=credentials[api], **checks, timeout=10)


def test_the_server_is_healthy_after_the_fuzz(fuzzed_server: EmulatorServer) -> None:
    # Runs after test_fuzz in file order, on the same module-scoped server.
    response = requests.get(f"{fuzzed_server.url}/_emulator/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_no_5xx_but_injected_ones_under_a_random_error_fault(fuzzed_server: EmulatorServer) -> None:
    # Every vendor route, with half of the answers turned into injected errors: each 5xx is
    # either declared by the route or marked as injected, and its body is the vendor's.
    requests.post(
        f"{fuzzed_server.url}/_emulator/faults", json={"kind": "error", "status": 503, "probability": 0.5}, timeout=10
    ).raise_for_status()
    try:
        seen = set()
        for path in ("/api/4.0/async_status/1", "/dbapi.do?action=getStatus", "/db2whrest/v1/task_status/x",
                     "/v1/p/system-tasks/t", "/auth/v1/token") * 4:
            response = requests.get(fuzzed_server.url + path, timeout=10)
            seen.add(response.status_code)
            if response.status_code >= 500:
                assert response.headers.get("X-Task-Emulator-Fault") and not response.headers.get("X-Task-Emulator-Violation")
        assert 503 in seen and len(seen) > 1
    finally:
        requests.delete(f"{fuzzed_server.url}/_emulator/faults", timeout=10)

"""The OpenAPI document: valid OpenAPI 3.1, the same from the server and the CLI, and
naming every route the server really has."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from openapi_spec_validator import validate

from emulator.openapi import openapi_path

from .helpers import Client


async def document(client: Client) -> dict[str, Any]:
    response = await client.get("/_emulator/openapi.json")
    assert response.status == 200
    return await response.json()  # type: ignore[no-any-return]


async def test_the_document_is_valid_openapi_3_1(client: Client) -> None:
    doc = await document(client)
    assert doc["openapi"] == "3.1.0"
    validate(doc)


async def test_the_cli_prints_the_document_the_server_answers(client: Client) -> None:
    printed = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "emulator", "openapi"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert json.loads(printed.stdout) == await document(client)


async def test_every_route_in_the_router_is_documented(client: Client) -> None:
    """Each documented operation, filled in with sample values, is resolved by the app's own
    router; every route the router has (but HEAD) must be reached that way."""
    doc = await document(client)
    app = client.server.app
    assert isinstance(app, web.Application)
    reached = set()
    for path, item in doc["paths"].items():
        concrete = re.sub(r"\{version\}", "4.0", re.sub(r"\{(?!version)\w+\}", "x", path))
        for method in item:
            match = await app.router.resolve(make_mocked_request(method.upper(), concrete, app=app))
            assert match.http_exception is None, f"{method} {path} is not a route"
            reached.add(match.route)
    routers = [app.router, *(r._app.router for r in app.router.resources() if hasattr(r, "_app"))]
    missing = [
        f"{route.method} {route.resource.canonical if route.resource else '?'}"
        for router in routers
        for route in router.routes()
        if route.method != "HEAD" and route.resource is not None and route not in reached
        and not hasattr(route.resource, "_app")
        # The emulator's own fallbacks (404/405 for paths no route has) are not operations.
        and route.handler.__name__ != "no_route"
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("aiohttp_path", "path", "variables"),
    [
        ("/api/{version}/user/login{slash:/?}", "/api/{version}/user/login", {"version": None}),
        ("/api/{version}/{tail:.*}", "/api/{version}/{tail}", {"version": None, "tail": ".*"}),
        ("/dbapi.do", "/dbapi.do", {}),
    ],
)
def test_aiohttp_paths_become_openapi_paths(aiohttp_path: str, path: str, variables: dict[str, Any]) -> None:
    assert openapi_path(aiohttp_path) == (path, variables)


async def test_responses_point_at_the_schemas_responses_are_checked_against(client: Client) -> None:
    doc = await document(client)
    status = doc["paths"]["/api/{version}/async_status/{id}"]["get"]["responses"]["200"]
    assert status["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/traffic_ops.async_status"}
    assert "definitions" not in json.dumps(doc)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["traffic_ops.cookie"] == {"type": "apiKey", "in": "cookie", "name": "mojolicious"}
    assert schemes["spectrum_discover.allowBasic"]["name"] == "X-ALLOW-BASIC-AUTH-SD"  # Bearer or Basic with it

"""The OpenAPI 3.1 document of a server: every vendor route and the control API.

Paths and methods come from the routes the APIs and the control API really register, so the
document cannot name a route that does not exist or miss one that does. What a route takes
and answers comes from a small table per API, `schemas/<api>/openapi.json` (and
`schemas/control/openapi.json`), whose schema names point at the same `*.schema.json` files
that responses are validated against. Those are draft-07; they go into `components/schemas`
with their `definitions` hoisted to components of their own and every `$ref` rewritten, so
the document is self-contained JSON Schema 2020-12.

A table entry, keyed by "METHOD aiohttp-path":

    {"summary": "...", "security": [...],            # default: the table's "security"
     "parameters": [{"in": "query"|"header", "name": ..., "schema": {...}}],
     # and, table-wide, "pathParameters": {"<name>": <schema>} for path variables
     "requestBody": "<schema>" | {"schema": ..., "contentType": ..., "required": bool},
     "responses": {"200": "<schema>" | {"schema": "<schema>"|{...}|null,
                                        "contentType": ..., "headers": [...]}}}

A schema is the name of a file in the API's folder (without `.schema.json`), a name from the
table's own "schemas", or an inline schema whose `$ref`s use such names.

What only a running server knows is filled in last: the control API's `api` values (the
installed APIs) and the scenarios and steps a fault rule may name (the loaded scenarios).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from . import __version__
from .errors import ConfigError
from .faultspec import KnownScenario
from .openapi_table import TABLE, load_table
from .routing import CONTROL_PREFIX
from .schemas import SCHEMA_SUFFIX, SchemaSet
from .state import Runtime

CONTROL = "control"
# "*" routes (a catch-all) take every method: documented for each one OpenAPI 3.1 can name.
ANY_METHODS = ("get", "post", "put", "delete", "patch", "head", "options", "trace")
_VARIABLE = re.compile(r"\{(\w+)(?::([^{}]*))?\}")
# aiohttp's `{slash:/?}` makes a trailing slash optional; the document shows the bare path.
_OPTIONAL_SLASH = "/?"


def build_document(runtime: Runtime, control_routes: Iterable[web.AbstractRouteDef]) -> dict[str, Any]:
    """The document for `runtime`'s APIs and the given control routes (paths below /_emulator)."""
    builder = _Builder(runtime.schemas)
    for name, api in runtime.apis.items():
        builder.add_api(name, api.title, "", api.routes())
    builder.add_api(CONTROL, "task-emulator control API", CONTROL_PREFIX, control_routes)
    _name_the_apis(builder.components, builder.paths, sorted(runtime.apis))
    _name_the_scenarios(builder.components, runtime.engine.catalog.scenarios.values())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "task-emulator",
            "version": __version__,
            "description": "Emulated vendor task-status APIs ("
            + ", ".join(api.title for api in runtime.apis.values())
            + ") and the emulator's control API under /_emulator.",
        },
        "tags": builder.tags,
        "paths": builder.paths,
        "components": {"schemas": builder.components, "securitySchemes": builder.security_schemes},
    }


def openapi_path(aiohttp_path: str) -> tuple[str, dict[str, str | None]]:
    """`/api/{version}/user/login{slash:/?}` → `/api/{version}/user/login`, with each path
    variable's regular expression (None when it has none)."""
    variables: dict[str, str | None] = {}

    def replace(match: re.Match[str]) -> str:
        name, pattern = match.group(1), match.group(2)
        if pattern == _OPTIONAL_SLASH:
            return ""
        variables[name] = pattern
        return "{" + name + "}"

    return _VARIABLE.sub(replace, aiohttp_path), variables


def route_methods(method: str) -> tuple[str, ...]:
    return ANY_METHODS if method == "*" else (method.lower(),)


def component_name(schema_file: str) -> str:
    """`traffic_ops/alerts.schema.json` → `traffic_ops.alerts`."""
    return schema_file.removesuffix(SCHEMA_SUFFIX).replace("/", ".")


class _Builder:
    def __init__(self, schemas: SchemaSet) -> None:
        self.schemas = schemas
        self.paths: dict[str, dict[str, Any]] = {}
        self.components: dict[str, Any] = {}
        self.security_schemes: dict[str, Any] = {}
        self.tags: list[dict[str, str]] = []

    def add_api(self, api: str, title: str, prefix: str, routes: Iterable[web.AbstractRouteDef]) -> None:
        table = load_table(self.schemas.path_of(f"{api}/{TABLE}"))
        operations: dict[str, Any] = table.get("operations", {})
        self.tags.append({"name": api, "description": table.get("title", title)})
        for key, scheme in table.get("securitySchemes", {}).items():
            self.security_schemes[f"{api}.{key}"] = scheme
        local_schemas = table.get("schemas", {})
        self.components.update({f"{api}.{local}": {} for local in local_schemas})  # may refer to each other
        for local, schema in local_schemas.items():
            self.components[f"{api}.{local}"] = self._convert(schema, api, api, local_names=True)
        seen = set()
        for route in routes:
            if not isinstance(route, web.RouteDef):
                continue
            key = f"{route.method} {route.path}"
            if key not in operations:
                raise ConfigError(f"{api}/{TABLE}: no entry for the route {key!r}")
            seen.add(key)
            path, variables = openapi_path(prefix + route.path)
            for method in route_methods(route.method):
                self.paths.setdefault(path, {})[method] = self._operation(
                    api, table, operations[key], method, path, variables
                )
        stale = sorted(set(operations) - seen)
        if stale:
            raise ConfigError(f"{api}/{TABLE}: {stale[0]!r} is not a route of this API")

    def _operation(
        self, api: str, table: dict[str, Any], entry: dict[str, Any], method: str, path: str,
        variables: dict[str, str | None],
    ) -> dict[str, Any]:
        content_type = table.get("contentType", "application/json")
        parameters = [
            {"in": "path", "name": name, "required": True,
             "schema": {"type": "string", **({"pattern": f"^(?:{regex})$"} if regex else {})}}
            for name, regex in variables.items()
        ]
        for parameter in parameters:  # the table may say more than the route's pattern
            parameter["schema"] = table.get("pathParameters", {}).get(parameter["name"], parameter["schema"])
        parameters += entry.get("parameters", [])
        operation: dict[str, Any] = {
            "tags": [api],
            "summary": entry.get("summary", ""),
            "operationId": f"{api}.{method}.{path}",
            "parameters": parameters,
            "security": [{f"{api}.{k}": v for k, v in alt.items()} for alt in entry.get("security", table.get("security", []))],
            "responses": {},
        }
        if "requestBody" in entry:
            body = entry["requestBody"]
            body = body if isinstance(body, dict) else {"schema": body}
            operation["requestBody"] = {
                "required": body.get("required", True),
                "content": {body.get("contentType", "application/json"): {"schema": self._schema(api, body["schema"])}},
            }
        for status, spec in entry["responses"].items():
            spec = spec if isinstance(spec, dict) else {"schema": spec}
            response: dict[str, Any] = {"description": f"{status} {spec.get('schema') or 'no JSON body'}"
                                        if isinstance(spec.get("schema"), (str, type(None))) else str(status)}
            content = {}
            if spec.get("schema") is not None:
                content[spec.get("contentType", content_type)] = {"schema": self._schema(api, spec["schema"])}
            if "alsoContentType" in spec:
                content[spec["alsoContentType"]] = {}
            if content:
                response["content"] = content
            if spec.get("headers"):
                response["headers"] = {h: {"schema": {"type": "string"}} for h in spec["headers"]}
            operation["responses"][str(status)] = response
        return operation

    def _schema(self, api: str, schema: str | dict[str, Any]) -> dict[str, Any]:
        if isinstance(schema, str):
            return {"$ref": self._local_ref(api, schema)}
        return self._convert(schema, api, api, local_names=True)  # type: ignore[no-any-return]

    def _local_ref(self, api: str, name: str) -> str:
        """A name in `api`'s table: its own "schemas" first, then `<api>/<name>.schema.json`."""
        component = f"{api}.{name}"
        if component not in self.components:
            self._add_file(f"{api}/{name}{SCHEMA_SUFFIX}")
        return "#/components/schemas/" + component

    def _add_file(self, schema_file: str) -> str:
        """Puts a schema file (and, through its `$ref`s, every file it uses) in components."""
        name = component_name(schema_file)
        if name in self.components:
            return name
        path = self.schemas.path_of(schema_file)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ConfigError(f"{path}: cannot be put in the OpenAPI document: {error}") from None
        self.components[name] = {}  # claimed first: files may refer to each other
        folder = posixpath.dirname(schema_file)
        for definition, schema in document.pop("definitions", {}).items():
            self.components[f"{name}.{definition}"] = self._convert(schema, folder, name)
        self.components[name] = self._convert(document, folder, name)
        return name

    def _convert(self, node: Any, folder: str, base: str, local_names: bool = False) -> Any:
        """A draft-07 schema as 2020-12 inside the document: `$ref`s point into components."""
        if isinstance(node, list):
            return [self._convert(item, folder, base, local_names) for item in node]
        if not isinstance(node, dict):
            return node
        converted = {}
        for key, value in node.items():
            if key in ("$schema", "$id"):
                continue
            if key == "$ref" and isinstance(value, str):
                converted[key] = self._ref(value, folder, base, local_names)
            else:
                converted[key] = self._convert(value, folder, base, local_names)
        return converted

    def _ref(self, ref: str, folder: str, base: str, local_names: bool) -> str:
        target, _, fragment = ref.partition("#")
        if local_names and target and not target.endswith(".json"):
            return self._local_ref(folder, target)
        name = self._add_file(posixpath.normpath(posixpath.join(folder, target))) if target else base
        if fragment.startswith("/definitions/"):
            return f"#/components/schemas/{name}.{fragment.removeprefix('/definitions/')}"
        if fragment not in ("", "/"):
            raise ConfigError(f"{folder}: the $ref {ref!r} cannot be put in the OpenAPI document")
        return f"#/components/schemas/{name}"


def _name_the_apis(components: dict[str, Any], paths: dict[str, dict[str, Any]], apis: list[str]) -> None:
    """The control API's `api` keys and parameters (a filter, a task's path) take this
    server's API ids and nothing else: the installed APIs are known only when the server
    runs, so the schema files and the table cannot say."""
    for name, schema in components.items():
        if not name.startswith(f"{CONTROL}.") or not isinstance(schema, dict):
            continue
        api = schema.get("properties", {}).get("api")
        if isinstance(api, dict) and api.get("type") == "string":
            api["enum"] = apis
    for item in paths.values():
        for operation in item.values():
            if operation["tags"] != [CONTROL]:
                continue
            for parameter in operation["parameters"]:
                if parameter["name"] == "api" and parameter["in"] in ("path", "query"):
                    parameter["schema"] = {**parameter["schema"], "type": "string", "enum": apis}


# The component of `control/fault.schema.json#/definitions/loaded`, filled in here.
LOADED_FOR_FAULTS = f"{CONTROL}.fault.loaded"


def _name_the_scenarios(components: dict[str, Any], scenarios: Iterable[KnownScenario]) -> None:
    """A fault rule's `scenario` and `step` as the fault parser takes them: a loaded scenario
    (of the rule's `api`, when it names one), and a step of that scenario's lifecycle, by
    phase or by index. A name that several APIs' scenarios share, with no `api`, leaves the
    lifecycle unknown and any step is taken."""
    if LOADED_FOR_FAULTS not in components:
        return
    branches: list[dict[str, Any]] = [{"properties": {"scenario": False}}]
    apis_of: dict[str, set[str]] = {}
    for scenario in scenarios:
        apis_of.setdefault(scenario.name, set()).add(scenario.api)
        lifecycle = scenario.lifecycle
        step: dict[str, Any] = {"type": "string"}  # no lifecycle of its own: a phase only
        if lifecycle is not None:
            phases = list(dict.fromkeys(s.phase.value for s in lifecycle.steps))
            step = {"anyOf": [{"enum": phases}, {"type": "integer", "maximum": len(lifecycle.steps) - 1}]}
        branches.append({
            "required": ["scenario"],
            "properties": {"scenario": {"const": scenario.name}, "api": {"const": scenario.api}, "step": step},
        })
    branches += [
        {"required": ["scenario"], "properties": {"scenario": {"const": name}, "api": False}}
        for name, apis in apis_of.items() if len(apis) > 1
    ]
    components[LOADED_FOR_FAULTS] = {**components[LOADED_FOR_FAULTS], "anyOf": branches}

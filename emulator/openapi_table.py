"""An API's route table, `openapi.json` beside its schemas: which routes it has, and the
schema (by name) of each request and answer. The OpenAPI document is built from these
tables; at start-up they also say which schema files an API needs.

    {"operations": {"GET /path": {"responses": {"200": "<schema>" | {"schema": ...}}, ...}},
     "schemas": {"<local name>": {...}}, ...}

A bare name is `<api>/<name>.schema.json`, or one of the table's own `schemas`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ConfigError

TABLE = "openapi.json"


def load_table(path: Path) -> dict[str, Any]:
    """The table at `path` ({} when there is none); ConfigError when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: not a readable OpenAPI table: {error}") from None


def referenced_schemas(table: dict[str, Any]) -> set[str]:
    """The names of the schema files `table` uses (its own local schemas left out): a bare
    name given for a request body or an answer, as its `schema`, or as a `$ref`."""
    local = set(table.get("schemas", {}))
    found: set[str] = set()

    def bare(value: Any) -> None:
        if isinstance(value, str) and value not in local and not value.endswith(".json") and "#" not in value:
            found.add(value)

    def refs(node: Any) -> None:
        if isinstance(node, dict):
            bare(node.get("$ref"))
            for value in node.values():
                refs(value)
        elif isinstance(node, list):
            for item in node:
                refs(item)

    for operation in table.get("operations", {}).values():
        for given in (operation.get("requestBody"), *operation.get("responses", {}).values()):
            schema = given.get("schema") if isinstance(given, dict) else given
            bare(schema)
            refs(schema)
    return found

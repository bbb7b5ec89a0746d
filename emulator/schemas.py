"""The JSON Schemas under `schemas/`: loaded, checked against their metaschema and compiled
once at start-up, then used for every scenario file and every vendor response.

Schemas are named by their path below `schemas/` (`traffic_ops/async_status.schema.json`)
and may `$ref` each other by relative path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from .errors import ConfigError
from .yamlsource import format_path

SCHEMA_SUFFIX = ".schema.json"


@dataclass(frozen=True, slots=True)
class Violation:
    """Why a value does not fit a schema: the schema, where in the value, and what is wrong."""

    schema: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.schema}: at {self.path}: {self.message}"


class SchemaSet:
    def __init__(self, root: Path) -> None:
        self.root = root
        documents: dict[str, Any] = {}
        for path in sorted(root.rglob(f"*{SCHEMA_SUFFIX}")):
            name = path.relative_to(root).as_posix()
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
                jsonschema.Draft7Validator.check_schema(schema)
            except (OSError, ValueError, jsonschema.SchemaError) as error:
                raise ConfigError(f"{path}: not a valid JSON Schema: {error}") from None
            documents[name] = schema
        registry: Registry[Any] = Registry().with_resources(
            (name, Resource.from_contents(schema, default_specification=DRAFT7))
            for name, schema in documents.items()
        )
        self._validators = {
            name: jsonschema.Draft7Validator(
                {"$ref": name}, registry=registry, format_checker=jsonschema.FormatChecker()
            )
            for name in documents
        }

    def names(self) -> list[str]:
        return list(self._validators)

    def __contains__(self, name: str) -> bool:
        return name in self._validators

    def errors(self, name: str, value: Any) -> Iterator[jsonschema.ValidationError]:
        """Every way `value` breaks schema `name`, most useful first within each branch."""
        errors: Iterator[jsonschema.ValidationError] = self._validators[name].iter_errors(value)
        return errors

    def violation(self, name: str, value: Any) -> Violation | None:
        """None when `value` fits schema `name`, else the most relevant reason it does not."""
        validator = self._validators[name]
        if validator.is_valid(value):
            return None
        error = best_match(validator.iter_errors(value))
        return Violation(name, "$" + _json_path(tuple(error.absolute_path)), error.message)


def _json_path(path: tuple[str | int, ...]) -> str:
    text = format_path(path)
    return text if not text or text.startswith("[") else "." + text

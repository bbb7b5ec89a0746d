"""The JSON Schemas under `schemas/`: loaded, checked against their metaschema and compiled
once at start-up, then used for every scenario file and every vendor response.

Schemas are named by their path below `schemas/` (`traffic_ops/async_status.schema.json`)
and may `$ref` each other by relative path.

Every vendor response is checked, so the check is on the hot path of every poll. When
fastjsonschema is installed (the `fast` extra), a schema is also compiled to Python code on
first use and answers "valid?" about twenty times faster; jsonschema still has the last word
whenever the compiled check says no, and explains every violation.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import jsonschema
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from .errors import ConfigError
from .yamlsource import format_path

try:
    import fastjsonschema
except ImportError:  # optional: jsonschema alone gives the same answers, slower
    fastjsonschema = None  # type: ignore[assignment]

SCHEMA_SUFFIX = ".schema.json"
# Response bodies remembered as valid, per schema set: a client polling a task that has not
# moved gets the same bytes again, and they need no second check.
KNOWN_VALID_LIMIT = 4096
# The base URI a schema is compiled under, so its relative `$ref`s name its neighbours
# (a file: URI, as urljoin resolves relative references only for schemes it knows).
_COMPILED_BASE = "file:///task-emulator/schemas/"


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
        self._documents = documents
        self._compiled: dict[str, Callable[[Any], Any] | None] = {}
        self._known_valid: set[tuple[str, bytes]] = set()
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

    def violation(self, name: str, value: Any, *, encoded: bytes | None = None) -> Violation | None:
        """None when `value` fits schema `name`, else the most relevant reason it does not.

        `encoded` is `value` as JSON, when the caller has it: the verdict on a value is a
        function of its JSON, so bytes found valid once are not checked again.
        """
        if encoded is not None:
            if (name, encoded) in self._known_valid:
                return None
            found = self._violation(name, value)
            if found is None:
                if len(self._known_valid) >= KNOWN_VALID_LIMIT:
                    self._known_valid.clear()
                self._known_valid.add((name, encoded))
            return found
        return self._violation(name, value)

    def _violation(self, name: str, value: Any) -> Violation | None:
        validator = self._validators[name]
        compiled = self._compiled.get(name, _UNCOMPILED)
        if compiled is _UNCOMPILED:
            compiled = self._compiled[name] = self._compile(name)
        if compiled is not None:
            try:
                compiled(value)
                return None
            except fastjsonschema.JsonSchemaValueException:
                pass  # jsonschema decides, and says why
        if validator.is_valid(value):
            return None
        error = best_match(validator.iter_errors(value))
        return Violation(name, "$" + _json_path(tuple(error.absolute_path)), error.message)


    def _compile(self, name: str) -> Callable[[Any], Any] | None:
        """A compiled check of schema `name`, or None when fastjsonschema is not installed or
        cannot compile it (then jsonschema does all the checking)."""
        if fastjsonschema is None:
            return None

        # fastjsonschema rewrites the `$ref`s of what it compiles in place: it gets copies.
        documents = copy.deepcopy(self._documents)

        def load(uri: str) -> Any:
            return documents[uri.removeprefix(_COMPILED_BASE).partition("#")[0]]

        try:
            return fastjsonschema.compile(
                {**documents[name], "$id": _COMPILED_BASE + name},
                handlers={"file": load},
                use_default=False,
                use_formats=False,
            )
        except Exception:  # noqa: BLE001 - any compiler failure just means "use jsonschema"
            return None


_UNCOMPILED: Any = object()


def _json_path(path: tuple[str | int, ...]) -> str:
    text = format_path(path)
    return text if not text or text.startswith("[") else "." + text

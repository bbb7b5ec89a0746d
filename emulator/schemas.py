"""The JSON Schemas under `schemas/`: read at start-up, each made into a validator once, on
first use, then used for every scenario file, control request and vendor response.

Schemas are named by their path below `schemas/` (`traffic_ops/async_status.schema.json`)
and may `$ref` each other by relative path.

Every vendor response is checked, so the check is on the hot path of every poll. When
fastjsonschema is installed (the `fast` extra), a schema is also compiled to Python code on
first use and answers "valid?" about twenty times faster; jsonschema still has the last word
whenever the compiled check says no, and explains every violation.

jsonschema itself is imported only when something needs it (a tenth of a second of the
server's start-up): with fastjsonschema, only when a check fails. The schemas are the
package's own files; `check()` holds them against their metaschema, and the test suite
calls it.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .yamlsource import format_path

if TYPE_CHECKING:
    import jsonschema

try:
    import fastjsonschema
except ImportError:  # optional: jsonschema alone gives the same answers, slower
    fastjsonschema = None  # type: ignore[assignment]

SCHEMA_SUFFIX = ".schema.json"
EMPTY_FOLDERS: Mapping[str, Path] = MappingProxyType({})
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
    def __init__(self, root: Path, folders: Mapping[str, Path] = EMPTY_FOLDERS) -> None:
        """The schemas under `root`, and those of each folder in `folders` (a vendor API
        installed as a plugin: its folder's schemas are named `<api>/<file>` like a
        built-in API's)."""
        self.root = root
        documents: dict[str, Any] = {}
        places = [(root, ""), *((folder, f"{api}/") for api, folder in folders.items())]
        for base, prefix in places:
            for path in sorted(base.rglob(f"*{SCHEMA_SUFFIX}")):
                name = prefix + path.relative_to(base).as_posix()
                try:
                    documents[name] = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as error:
                    raise ConfigError(f"{path}: not a valid JSON Schema: {error}") from None
        self._documents = documents
        self._folders = dict(folders)
        self._compiled: dict[str, Callable[[Any], Any] | None] = {}
        self._validators: dict[str, jsonschema.Draft7Validator] = {}
        self._known_valid: set[tuple[str, bytes]] = set()

    def check(self) -> None:
        """Raise ConfigError naming the first schema that is not a valid draft-07 schema."""
        import jsonschema

        for name, schema in self._documents.items():
            try:
                jsonschema.Draft7Validator.check_schema(schema)
            except jsonschema.SchemaError as error:
                raise ConfigError(f"{self.root / name}: not a valid JSON Schema: {error.message}") from None

    def path_of(self, name: str) -> Path:
        """Where the file named `name` (`<api>/<file>`) lies: below the root, or in the
        folder of an API installed as a plugin."""
        api, _, rest = name.partition("/")
        folder = self._folders.get(api)
        return folder / rest if folder is not None and rest else self.root / name

    def names(self) -> list[str]:
        return list(self._documents)

    def __contains__(self, name: str) -> bool:
        return name in self._documents

    def errors(self, name: str, value: Any) -> Iterator[jsonschema.ValidationError]:
        """Every way `value` breaks schema `name`, most useful first within each branch."""
        if self._passes_compiled(name, value):
            return iter(())
        errors: Iterator[jsonschema.ValidationError] = self._validator(name).iter_errors(value)
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
        if self._passes_compiled(name, value):
            return None
        from jsonschema.exceptions import best_match

        validator = self._validator(name)
        if validator.is_valid(value):
            return None
        error = best_match(validator.iter_errors(value))
        return Violation(name, "$" + _json_path(tuple(error.absolute_path)), error.message)

    def _passes_compiled(self, name: str, value: Any) -> bool:
        """True when the compiled check finds `value` valid; False when it does not, or when
        there is no compiled check (then jsonschema decides)."""
        compiled = self._compiled.get(name, _UNCOMPILED)
        if compiled is _UNCOMPILED:
            if name not in self._documents:
                raise KeyError(name)
            compiled = self._compiled[name] = self._compile(name)
        if compiled is None:
            return False
        try:
            compiled(value)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    def _validator(self, name: str) -> jsonschema.Draft7Validator:
        validator = self._validators.get(name)
        if validator is None:
            import jsonschema

            validator = self._validators[name] = jsonschema.Draft7Validator(
                {"$ref": name}, registry=self._registry(), format_checker=jsonschema.FormatChecker()
            )
        return validator

    @functools.cache  # noqa: B019 - one registry per set, kept as long as the set
    def _registry(self) -> Any:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT7

        return Registry().with_resources(
            (name, Resource.from_contents(schema, default_specification=DRAFT7))
            for name, schema in self._documents.items()
        )

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

"""The checks, pure: an answer's status, its headers, its body against the schema the
emulator itself answers with (the emulator's schemas are the contract), and the sequence of
phases and counters a task showed over time.

Each check returns `Violation`s: what was expected and what came, at a JSON path into the
body or at a named header, so a report says exactly where a provider drifted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..schemas import SchemaSet
from .model import TERMINAL, Observation, Violation

# Violations listed per body at most: a wholly wrong body would otherwise drown the report.
MAX_BODY_VIOLATIONS = 20
SHOWN_CHARS = 80
# Rank of each phase: a task moves forward only (scheduled, running, then one end).
RANK = {"scheduled": 0, "running": 1, "succeeded": 2, "failed": 2}


def shown(value: Any) -> str:
    """A value as a report shows it: JSON, cut short."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def json_path(parts: Iterable[str | int]) -> str:
    """`$.response.id`, `$.result[0]["cpu Usage"]`: a JSONPath a reader can paste."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier():
            text += f".{part}"
        else:
            text += f"[{json.dumps(part)}]"
    return text


def check_status(
    status: int | None, allowed: Iterable[int], error: str | None = None
) -> list[Violation]:
    expected = sorted(set(allowed))
    wanted = " or ".join(map(str, expected))
    if status is None:
        return [
            Violation("status", "status", wanted, f"no answer ({error or 'connection closed'})")
        ]
    if status not in expected:
        return [Violation("status", "status", wanted, str(status))]
    return []


def media_type(value: str | None) -> str | None:
    """`application/json` of `application/json;charset=utf-8`, lower-cased."""
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def check_content_type(value: str | None, expected: str) -> list[Violation]:
    """The media type must be `expected`; parameters (charset) are the vendor's own business
    and clients ignore them, so they are not compared."""
    if media_type(value) != expected.lower():
        return [
            Violation(
                "header", "header Content-Type", expected, shown(value) if value else "absent"
            )
        ]
    return []


def parse_json(body: bytes) -> tuple[Any, Violation | None]:
    try:
        return json.loads(body), None
    except (ValueError, RecursionError):
        text = body[:SHOWN_CHARS].decode("utf-8", "replace")
        return None, Violation(
            "body", "$", "a JSON document", shown(text) if body else "an empty body"
        )


def check_body(schemas: SchemaSet, schema: str, value: Any) -> list[Violation]:
    """Every way `value` breaks `schema` (a name under schemas/, such as
    `traffic_ops/async_status.schema.json`), most specific first, each at its JSON path."""
    found: list[Violation] = []
    for error in _leaf_errors(schemas.errors(schema, value)):
        found.append(_violation(error))
        if len(found) >= MAX_BODY_VIOLATIONS:
            break
    found.sort(key=lambda v: v.where)
    return found


def _leaf_errors(errors: Iterable[Any]) -> Iterable[Any]:
    """The errors themselves, and for a `oneOf`/`anyOf` that failed, the reasons of the branch
    that came closest (one the value's type fits, with the fewest errors): the drift is there."""
    for error in errors:
        if error.validator in ("oneOf", "anyOf") and error.context:
            branches: dict[Any, list[Any]] = {}
            for sub in error.context:
                branches.setdefault(sub.relative_schema_path[0], []).append(sub)

            def cost(found: Iterable[Any]) -> tuple[bool, int]:
                listed = list(found)
                wrong_type = any(e.validator == "type" and not e.relative_path for e in listed)
                return wrong_type, len(listed)

            yield from _leaf_errors(min(branches.values(), key=cost))
        else:
            yield error


def _violation(error: Any) -> Violation:
    path = list(error.absolute_path)
    validator, expected, instance = error.validator, error.validator_value, error.instance
    if validator == "required":
        # One error per missing key, its name in the message ('x' is a required property).
        named = re.match(r"^'(.+)' is a required property$", error.message)
        missing = [name for name in expected if isinstance(instance, dict) and name not in instance]
        name = named.group(1) if named else (missing[0] if missing else str(expected))
        return Violation("body", json_path([*path, name]), "present (required)", "missing")
    if validator == "additionalProperties" or validator == "propertyNames":
        return Violation("body", json_path(path), "only the keys the schema names", error.message)
    if validator == "type":
        wanted = expected if isinstance(expected, str) else " or ".join(expected)
        return Violation(
            "body", json_path(path), f"type {wanted}", f"{_json_type(instance)} {shown(instance)}"
        )
    if validator == "enum":
        return Violation(
            "body", json_path(path), "one of " + ", ".join(map(shown, expected)), shown(instance)
        )
    if validator == "const":
        return Violation("body", json_path(path), shown(expected), shown(instance))
    if validator == "not" and isinstance(expected, Mapping) and expected.get("required"):
        # The `then: not required` of a schema: a field that must be absent in this state.
        return Violation(
            "body", json_path([*path, *expected["required"][:1]]), "absent here", "present"
        )
    return Violation("body", json_path(path), f"{validator} {shown(expected)}", shown(instance))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def check_sequence(observations: Sequence[Observation]) -> list[Violation]:
    """The phases one task showed, in the order the answers came, against what a lifecycle
    allows: forward only (scheduled, running, then one end), never out of an end; counters
    never fall; fixed values never change."""
    found: list[Violation] = []
    previous: Observation | None = None
    highest: dict[str, tuple[float, int]] = {}
    fixed: dict[str, tuple[Any, int]] = {}
    for number, seen in enumerate(observations, 1):
        where = f"answer {number}"
        if previous is not None:
            if previous.phase in TERMINAL and seen.phase != previous.phase:
                found.append(
                    Violation(
                        "sequence",
                        f"{where} phase",
                        f"{previous.shown} (a task never leaves an end)",
                        f"{seen.shown} after {previous.shown}",
                    )
                )
            elif RANK[seen.phase] < RANK[previous.phase]:
                found.append(
                    Violation(
                        "sequence",
                        f"{where} phase",
                        f"{previous.shown} or a later phase",
                        f"{seen.shown} after {previous.shown}",
                    )
                )
        for name, value in seen.counters.items():
            top = highest.get(name)
            if top is not None and value < top[0]:
                found.append(
                    Violation(
                        "sequence",
                        f"{where} {name}",
                        f"at least {top[0]:g} (answer {top[1]})",
                        f"{value:g}",
                    )
                )
            if top is None or value > top[0]:
                highest[name] = (value, number)
        for name, value in seen.fixed.items():
            first = fixed.setdefault(name, (value, number))
            if first[0] != value:
                found.append(
                    Violation(
                        "sequence",
                        f"{where} {name}",
                        f"{shown(first[0])} (as in answer {first[1]})",
                        shown(value),
                    )
                )
        previous = seen
    return found


def sha512_base64(body: bytes) -> str:
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha512(body).digest()).decode()

"""What a control request sends, read and checked: its JSON body against
schemas/control/*.schema.json, the numbers of its query, the API it names, a new task's
fields and scope, a fault rule. Each mistake is a ControlError (a 4xx, `{"error": ...}`)
whose message says where and what, at most MESSAGE_LIMIT characters whatever was sent.

The control API's handlers read their requests through these; the test handle
(testing.py) checks what a test gives it with the same functions, so a mistake reads the
same either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .errors import SHOWN_CHARACTERS, EmulatorError, shown
from .faults import Fault
from .faultspec import FaultError, parse_fault
from .jsonbody import TooDeep, parse_json
from .scenario_loader import explain_schema_error
from .schemas import SchemaSet
from .state import Runtime
from .yamlsource import JsonPath, format_path

# The largest `limit`, `offset` or `after` a query takes: past any count a server can hold,
# and small enough for every index (a page far past the end is simply empty).
MAX_QUERY_NUMBER = 1_000_000_000
# The longest error message a control route answers: what was wrong, never the whole input
# echoed back (a key or a value can be as long as the body).
MESSAGE_LIMIT = 400


class ControlError(EmulatorError):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = capped(message)


def capped(message: str) -> str:
    if len(message) <= MESSAGE_LIMIT:
        return message
    return f"{message[:MESSAGE_LIMIT]}… ({len(message):,} characters)"


async def read_body(request: web.Request, schemas: SchemaSet, schema: str) -> dict[str, Any]:
    """The request's JSON body, held to jsonbody.MAX_DEPTH levels of nesting, then checked
    against `control/<schema>.schema.json`."""
    raw = await request.read()
    try:
        body = parse_json(raw)
    except TooDeep as error:
        if error.unread:  # deeper than the parser goes: not read to its end
            raise ControlError(400, f"the body is not valid JSON: {error}") from None
        raise ControlError(400, str(error)) from None
    except ValueError as error:
        raise ControlError(400, f"the body is not valid JSON: {error}") from None
    for problem in schemas.errors(f"control/{schema}.schema.json", body):
        path, message = schema_problem(problem)
        where = format_path(path)
        raise ControlError(400, f"{where}: {message}" if where else message)
    return body  # type: ignore[no-any-return]


def known_api(apis: Mapping[str, Any], name: str) -> str:
    """`name`, when it is one of `apis`."""
    if name not in apis:
        raise ControlError(400, f"unknown api {shown(name)}: use one of {', '.join(sorted(apis))}")
    return name


def int_query(query: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    """The whole number in query parameter `name` (`default` when there is none), from
    `minimum` to MAX_QUERY_NUMBER."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ControlError(400, f"{name}: not a whole number: {shown(raw)}") from None
    if value < minimum:
        raise ControlError(400, f"{name}: must be at least {minimum}, not {value}")
    if value > MAX_QUERY_NUMBER:
        raise ControlError(400, f"{name}: must be at most {MAX_QUERY_NUMBER:,}, not {shown(raw)}")
    return value


def check_new_task(
    runtime: Runtime, api: str, fields: Mapping[str, Any], scope: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields and scope of a task made by a person (control API or test handle), checked
    as a scenario's `task:` block is: ControlError names the first mistake."""
    # Field values obey the same rules as a scenario's `task:` block.
    for problem in runtime.schemas.errors(f"{api}/scenario.schema.json", {"task": dict(fields)}) if fields else ():
        path, message = schema_problem(problem)
        raise ControlError(400, f"{format_path(('fields', *path[1:]))}: {message}")
    spec = runtime.apis[api]
    unknown = sorted(map(str, set(scope) - set(spec.scope_defaults)))
    if unknown:
        allowed = ", ".join(spec.scope_defaults) or "none"
        raise ControlError(400, f"scope: {api} tasks have no scope {shown(unknown[0])} (they have: {allowed})")
    plain_scope = {str(k): str(v) for k, v in scope.items()}
    problem = spec.scope_problem(plain_scope)
    if problem is not None:
        raise ControlError(400, problem)
    return dict(fields), plain_scope


def fault_from_json(runtime: Runtime, body: Any) -> Fault:
    """A run-time fault from its JSON (the control API's body, the pytest handle's keywords),
    checked as a scenario's faults are; ValueError says where and what is wrong."""
    for problem in runtime.schemas.errors("control/fault.schema.json", body):
        path, message = schema_problem(problem)
        where = format_path(path)
        raise ValueError(f"{where}: {message}" if where else message)
    try:
        return parse_fault(body, apis=runtime.apis, catalog=runtime.engine.catalog)
    except FaultError as error:
        where = format_path(error.path)
        raise ValueError(f"{where}: {error.message}" if where else error.message) from None


def schema_problem(error: Any) -> tuple[JsonPath, str]:
    """`explain_schema_error`, with the value the message quotes cut short: jsonschema puts
    the whole offending value in its message (`[[[[...]]]] is not of type 'string'`)."""
    path, message = explain_schema_error(error)
    instance = error.instance
    if isinstance(instance, (str, list, dict)) and len(instance) > 0:
        quoted = repr(instance)
        if len(quoted) > SHOWN_CHARACTERS:
            message = message.replace(quoted, shown(instance))
    return path, message

"""What DataArts and IAM make of a request's body: the import request and the token request,
each checked before anything is made, and refused in the service's own error shape.

Text a task will carry must be writable as UTF-8: a JSON `\\ud800` decodes to a lone
surrogate, and a task holding one would answer every later read with an encoding error.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ... import jsonbody

if TYPE_CHECKING:
    from ...schemas import SchemaSet

# DLF error codes (Error Codes, dataartsstudio_02_0313). The 0810 text is the one the
# system-task page's failure example shows.
TASK_NOT_FOUND = ("DLF.0810", "Task does not exist")
PARAMETER_MISSING = "DLF.0802"  # "The specified parameter is not configured."
OBS_PATH_INVALID = ("DLF.0803", "The OBS path is invalid.")
OBS_PATH = re.compile(r"obs://[^/\s]+/\S.*")
# A JSON escape that may stand for half a surrogate pair: only a body holding one is walked.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def dlf_error(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "error_msg": message}


def import_body(raw: bytes, schemas: SchemaSet) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The import request's body, or the DLF error it deserves."""
    try:
        body = jsonbody.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):  # Recursion: nested too deep to parse
        # [inf] the service's answer to malformed JSON is not documented.
        return {}, dlf_error(PARAMETER_MISSING, "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return {}, dlf_error(PARAMETER_MISSING, "The specified parameter is not configured: path")
    if "path" not in body or body["path"] in (None, ""):
        return {}, dlf_error(PARAMETER_MISSING, "The specified parameter is not configured: path")
    path = body["path"]
    if not isinstance(path, str) or not OBS_PATH.fullmatch(path) or not is_utf8(path):
        return {}, dlf_error(*OBS_PATH_INVALID)
    if _SURROGATE_ESCAPE.search(raw):
        where = not_utf8(body)
        if where is not None:
            # [inf] wording, as for a parameter of the wrong type.
            return {}, dlf_error(
                PARAMETER_MISSING, f"The parameter {where} is invalid: not UTF-8 text"
            )
    for error in schemas.errors("dataarts/import_job_request.schema.json", body):
        where = ".".join(str(p) for p in error.absolute_path) or "body"
        # [inf] DLF's wording for a parameter of the wrong type.
        return {}, dlf_error(
            PARAMETER_MISSING, f"The parameter {where} is invalid: {error.message}"
        )
    return body, None


def token_request_problem(auth: Any, schemas: SchemaSet) -> str | None:
    """What is wrong with a token request's body, or None. Said without quoting values: the
    schema's own text quotes the value it rejects, which may be a password."""
    name = "dataarts/iam_token_request.schema.json"
    if schemas.violation(name, auth) is None:
        return None
    from jsonschema.exceptions import best_match  # imported when needed: start-up time

    error = best_match(schemas.errors(name, auth))
    where = ".".join(str(part) for part in error.absolute_path) or "the body"
    if error.validator == "type":
        return f"{where} is not of type {error.validator_value!r}"
    if error.validator == "required":
        return str(error.message)  # names the missing key only
    return f"{where} is invalid"


def is_utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (it holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def not_utf8(value: Any) -> str | None:
    """Where in a parsed JSON value a key or a string can't be written as UTF-8 (`body` for
    the top or a bad key), or None. A loop, not recursion: JSON may nest as deep as the
    parser allowed."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if not is_utf8(item):
                return where or "body"
        elif isinstance(item, dict):
            for key, inner in item.items():
                if not is_utf8(key):
                    return where or "body"
                stack.append((f"{where}.{key}" if where else key, inner))
        elif isinstance(item, list):
            stack.extend((f"{where}[{index}]", inner) for index, inner in enumerate(item))
    return None

"""What a query request (`POST /dbapi.do?action=query`) asks for: its JSON body read and
each value checked as the doc describes it, or the vendor's error saying which is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ... import jsonbody
from .codes import INVALID_PARAMETER, DbApiError, invalid, missing
from .results import parse_time


async def read_body(request: web.Request) -> Any:
    """The request's body as JSON; the vendor's 400 when it is missing or not JSON."""
    raw = await request.read()
    if not raw.strip():
        raise missing("query")
    try:
        return jsonbody.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # Recursion: nested too deep to parse
        raise DbApiError(400, INVALID_PARAMETER, "Request body is not valid JSON.") from None


def query_fields(body: Any, query: Mapping[str, str]) -> dict[str, Any]:
    """What a task keeps of the query request, each value checked as the doc describes it."""
    if not isinstance(body, dict):
        raise DbApiError(400, INVALID_PARAMETER, "Request body is not a JSON object.")
    text = body.get("query")
    if not isinstance(text, str) or not text.strip():
        raise missing("query")
    fields: dict[str, Any] = {"query": text}
    for name in ("startTime", "endTime"):
        value = body.get(name)
        if value is None:
            continue
        try:
            parse_time(value)
        except (TypeError, ValueError):
            raise invalid(name, value) from None
        fields[name] = value
    if (
        "startTime" in fields
        and "endTime" in fields
        and parse_time(fields["endTime"]) < parse_time(fields["startTime"])
    ):
        raise invalid("endTime", fields["endTime"])
    max_results = body.get("maxResults")
    if max_results is not None:
        if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
            raise invalid("maxResults", max_results)
        fields["maxResults"] = max_results
    # Java's Boolean.parseBoolean: "true" in any case is true, anything else false [inf].
    fields["processSync"] = query.get("processSync", "false").strip().lower() == "true"
    return fields

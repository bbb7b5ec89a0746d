"""IBM Spectrum Discover `db2whrest`: its contract, as IBM's scripts use it.

A script fetches a token (`GET /auth/v1/token`, HTTP Basic; the token comes back in
`X-Auth-Token`), starts a query (`sql_query_async` answers `202`, `text/html`, and the task's
URI in `Location`), then loops: `peek` (`{"status": "work …"}`) and `task_status` with
redirects not followed, whose `303` means "still working", `200` (with `Location` of the
results) "done, here are the rows", and an error body "failed". Rows are asked for as JSON
(`Accept: application/json`) so that they can be checked against the results schema.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, ClassVar

from ...resources import builtin_schemas
from ..checks import media_type, shown
from ..model import Exchange, Observation, Violation
from .base import Answer, Http, Route, Session, VendorContract

HTML = "text/html"
QUERY_PATH = "/db2whrest/v1/sql_query_async"
STATUS = re.compile(r"^/db2whrest/v1/task_status/([^/]+)(/peek)?/?$")
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
LOCATION = re.compile(r"/db2whrest/v1/task_status/(" + UUID + r")$")
ERROR = Answer("error", HTML)
ERRORS = {status: ERROR for status in (400, 401, 403, 404, 500, 503)}
# The documented peek words (the first) and the emulator's defaults for the others.
WORDS = {
    "work scheduled": "scheduled",
    "work in progress": "running",
    "work complete": "succeeded",
    "work failed": "failed",
}
DEFAULT_WORD = {phase: word for word, phase in WORDS.items()}
FAILURE_STATUS = 500  # a failed task's task_status, unless the provider says otherwise
INTEGER_TYPES = frozenset({"integer", "bigint"})


class SpectrumDiscoverContract(VendorContract):
    api: ClassVar[str] = "spectrum_discover"
    credential_keys: ClassVar[tuple[str, ...]] = ("username", "password")
    secret_keys: ClassVar[frozenset[str]] = frozenset({"password"})
    default_trigger_body: ClassVar[str] = "select * from metaocean limit 10"

    def route(self, exchange: Exchange) -> Route | None:
        path, method = exchange.path, exchange.method
        if path == "/auth/v1/token" and method == "GET":
            return Route("login", None, frozenset({200}), {200: Answer(None, None), **ERRORS})
        if path == QUERY_PATH and method in ("GET", "POST"):
            return Route("trigger", None, frozenset({202}), {202: Answer("status", HTML), **ERRORS})
        found = STATUS.match(path)
        if not found or method != "GET":
            return None
        task = found.group(1).lower()
        if found.group(2):
            return Route("peek", task, frozenset({200}), {200: Answer("status", HTML), **ERRORS})
        wants_json = "application/json" in (exchange.request_header("Accept") or "")
        rows = Answer("results", "application/json") if wants_json else Answer(None, "text/csv")
        answers = {200: rows, 303: Answer("status", HTML), **ERRORS}
        return Route("status", task, frozenset({200, 303, FAILURE_STATUS}), answers)

    def header_violations(self, exchange: Exchange, route: Route) -> list[Violation]:
        found: list[Violation] = []
        location = exchange.header("Location")
        trigger = route.kind == "trigger" and exchange.status == 202
        if trigger and (location is None or not LOCATION.search(location)):
            found.append(
                Violation(
                    "header",
                    "header Location",
                    "<base>/db2whrest/v1/task_status/<uuid>",
                    shown(location) if location else "absent",
                )
            )
        if route.kind == "status" and exchange.status == 200 and location is None:
            found.append(Violation("header", "header Location", "the results URI", "absent"))
        if (
            route.kind == "login"
            and exchange.status == 200
            and exchange.header("X-Auth-Token") is None
        ):
            found.append(Violation("header", "header X-Auth-Token", "the token", "absent"))
        return found

    def observe(self, exchange: Exchange, route: Route, body: Any) -> list[Observation]:
        task, status = route.task, exchange.status
        if task is None or status is None or route.kind not in ("peek", "status"):
            return []
        if body is None and exchange.body is None:  # a source without bodies: the status says
            if route.kind == "status":
                phase = {200: "succeeded", 303: "running"}.get(
                    status, "failed" if status >= 400 else ""
                )
                return [Observation(task, phase, str(status))] if phase else []
            return []
        if status == 200 and route.kind == "status":
            rows = self._rows(exchange, body)
            shown_rows = f"200 with {len(rows)} rows" if rows is not None else "200"
            return [Observation(task, "succeeded", shown_rows, fields={"rows": rows})]
        if status >= 400 and route.kind == "status" and isinstance(body, dict):
            fields = {"reason": body.get("reason"), "status_code": status}
            return [
                Observation(task, "failed", f"{status} {shown(body.get('reason'))}", fields=fields)
            ]
        word = body.get("status") if isinstance(body, dict) else None
        if (status == 200 and route.kind == "peek") or status == 303:
            if not isinstance(word, str):
                return []
            phase = WORDS.get(word, "running")  # a word of the provider's own: still working
            if status == 303 and phase in ("succeeded", "failed"):
                phase = "running"  # a 303 says "not done" whatever its words
            return [Observation(task, phase, word, fields={"peek": word})]
        return []

    def created_task(self, exchange: Exchange, body: Any) -> str | None:
        found = LOCATION.search(exchange.header("Location") or "")
        return found.group(1).lower() if found else None

    @staticmethod
    def _rows(exchange: Exchange, body: Any) -> list[Any] | None:
        if isinstance(body, list):
            return body
        if exchange.body is None or media_type(exchange.header("Content-Type")) != "text/csv":
            return None
        return csv_rows(exchange.body.decode("utf-8", "replace"))

    # ---- live ----------------------------------------------------------------------------

    async def login(self, http: Http, credentials: Mapping[str, str]) -> Session:
        username, password = credentials.get("username"), credentials.get("password")
        if not username or password is None:
            return Session()
        basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        http.secret(basic)
        answer = await http.send("GET", "/auth/v1/token", headers={"Authorization": basic})
        token = answer.header("X-Auth-Token")
        if not token:
            return Session()
        http.secret(token)
        return Session({"Authorization": f"Bearer {token}"})

    async def trigger(
        self, http: Http, session: Session, credentials: Mapping[str, str], body: str | None
    ) -> str | None:
        sql = body or self.default_trigger_body
        answer = await http.send(
            "GET", QUERY_PATH, query=urllib.parse.quote(sql), headers=session.headers
        )
        return self.created_task(answer, None)

    async def poll(
        self, http: Http, session: Session, credentials: Mapping[str, str], task: str
    ) -> None:
        path = f"/db2whrest/v1/task_status/{task}"
        await http.send("GET", path + "/peek", headers=session.headers)
        await http.send("GET", path, headers={**session.headers, "Accept": "application/json"})

    # ---- recording -------------------------------------------------------------------------

    def step_fields(self, observation: Observation) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        word = observation.fields.get("peek")
        if isinstance(word, str) and word != DEFAULT_WORD.get(observation.phase):
            fields["peek"] = word
        if observation.phase == "failed":
            if isinstance(observation.fields.get("reason"), str) and observation.fields["reason"]:
                fields["reason"] = observation.fields["reason"]
            code = observation.fields.get("status_code")
            if isinstance(code, int) and code != FAILURE_STATUS:
                fields["status_code"] = code
        return fields

    def results(self, observations: Sequence[Observation]) -> dict[str, Any]:
        for seen in reversed(observations):
            rows = seen.fields.get("rows")
            if isinstance(rows, list):
                names = {column["name"] for column in columns()}
                kept = [
                    {k: v for k, v in row.items() if k in names}
                    for row in rows
                    if isinstance(row, dict)
                ]
                return {"count": len(rows), "rows": kept[:MAX_LITERAL_ROWS]}
        return {}

    def trigger_of(self, exchange: Exchange) -> tuple[str, str, dict[str, str]] | None:
        if exchange.path != QUERY_PATH:
            return None
        if exchange.method == "POST":
            sql = (exchange.request_body or b"").decode("utf-8", "replace")
        else:
            sql = urllib.parse.unquote_plus(exchange.raw_query)
        return exchange.method, QUERY_PATH, {"sql": sql}


# Rows written into a scenario literally at most; the rest are generated (see docs/record.md).
MAX_LITERAL_ROWS = 2000


@cache
def columns() -> tuple[dict[str, Any], ...]:
    """The metaocean columns, in CSV order, from the schema files the emulator uses."""
    path = builtin_schemas() / "spectrum_discover" / "metaocean.columns.json"
    return tuple(json.loads(path.read_text(encoding="utf-8"))["columns"])


def csv_rows(text: str) -> list[dict[str, Any]]:
    """CSV results as JSON rows: the first field is the row index; an empty nullable field
    is null, and integer columns are numbers, as the JSON answer would have them."""
    rows = []
    for record in csv.reader(io.StringIO(text)):
        if not record or not record[0].isdigit():
            continue  # a header row, when the provider sends one
        row: dict[str, Any] = {}
        for column, value in zip(columns(), record[1:]):
            if value == "" and column.get("nullable"):
                row[column["name"]] = None
            elif column["type"] in INTEGER_TYPES and re.fullmatch(r"-?\d+", value):
                row[column["name"]] = int(value)
            else:
                row[column["name"]] = value
        rows.append(row)
    return rows

"""IBM Spectrum Discover (IBM Fusion Data Cataloging): async SQL on the metadata warehouse.

    GET  /auth/v1/token                              HTTP Basic → 200, token in X-Auth-Token
    GET  /db2whrest/v1/sql_query_async?<SQL>         → 202 {"status": "work scheduled"} + Location
    POST /db2whrest/v1/sql_query_async  (SQL body)   → the same
    GET  /db2whrest/v1/task_status/<id>/peek         → {"status": "<phase string>"}
    GET  /db2whrest/v1/task_status/<id>              → 303 while not done; 200 + Location + rows

Sources: the vendor docs ("Asynchronous endpoints", "task_status", "sql_query_async", "Status
codes", "auth/v1/token") and IBM's application SDK for the Basic-auth header; what neither
says is marked [inf] and is a scenario option where a client could care. The server is a
Flask app that returns bodies as strings, which is why the documented 202 is `text/html`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from http import HTTPStatus
from itertools import chain, islice
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from ...errors import shown
from ...lifecycle import Phase, parse_duration
from ...vendor import IdSource, Secrets, TriggerRoute
from ..base import VendorApi
from .auth import TASK_ROLES, Authenticator, AuthFailure, User, authorize, users_from_settings
from .metaocean import (
    COLUMNS_FILE,
    ResultSpec,
    iter_rows,
    json_chunks,
    load_columns,
    result_csv_chunks,
)

if TYPE_CHECKING:
    from ...task import Task, TaskView

QUERY_PATH = "/db2whrest/v1/sql_query_async"
STATUS_PREFIX = "/db2whrest/v1/task_status/"
# [doc] for the 202; [inf] for every other string body: Flask's default for a str response.
TEXT_HTML = "text/html; charset=utf-8"
CSV_TYPE = "text/csv; charset=utf-8"  # [inf]
JSON_TYPE = "application/json"
PEEK_DEFAULTS = {  # [doc] for scheduled; [inf] for the rest (API-NOTES section 1)
    Phase.SCHEDULED: "work scheduled",
    Phase.RUNNING: "work in progress",
    Phase.SUCCEEDED: "work complete",
    Phase.FAILED: "work failed",
}
DEFAULT_FAILURE_STATUS = 500  # [inf] the docs list 500 among the status codes
DEFAULT_FAILURE_REASON = "The asynchronous operation failed"  # [inf]
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# Rows checked against the results schema before the first byte is sent: enough to catch a
# bad literal row or a generator bug, few enough that 100,000-row results stay cheap.
CHECKED_ROWS = 100

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def encode_json(value: Any) -> bytes:
    """Python's json.dumps, as the Flask server writes its bodies: `{"status": "work scheduled"}`."""
    return json.dumps(value).encode()


def error_body(reason: str) -> dict[str, str]:
    return {"reason": reason, "status": "error"}


def peek_status(view: TaskView) -> str:
    value = view.fields.get("peek")
    return str(value) if value else PEEK_DEFAULTS[view.phase]


def sql_facts(sql: str) -> dict[str, str]:
    """What a trigger's `when:` may match: the SQL as sent, and lower-cased with its
    whitespace collapsed (so `*from metaocean*` matches however the query is laid out)."""
    return {"sql": sql, "sql_normalized": " ".join(sql.lower().split())}


class SpectrumDiscover(VendorApi):
    name: ClassVar[str] = "spectrum_discover"
    title: ClassVar[str] = "IBM Spectrum Discover"
    triggers: ClassVar[tuple[TriggerRoute, ...]] = (
        TriggerRoute("GET", QUERY_PATH, frozenset({"sql", "sql_normalized"})),
        TriggerRoute("POST", QUERY_PATH, frozenset({"sql", "sql_normalized"})),
    )
    default_settings: ClassVar[Mapping[str, Any]] = {
        "users": [
            {"username": "sdadmin", "password": "Passw0rd", "role": "Data admin"},
            {"username": "datauser", "password": "Passw0rd", "role": "Data user"},
            {"username": "collectionadmin", "password": "Passw0rd", "role": "Collection Admin"},
            {"username": "admin", "password": "Passw0rd", "role": "Admin"},
            {"username": "serviceuser", "password": "Passw0rd", "role": "Service user"},
        ],
        "token_lifetime": 3600,  # [inf] an hour
    }

    def __init__(self, runtime: Any, settings: Mapping[str, Any]) -> None:
        super().__init__(runtime, settings)
        self.auth = Authenticator(
            users_from_settings(settings), parse_duration(settings["token_lifetime"]), runtime.keyring(self.name)
        )
        self.public_url: str | None = settings.get("public_url")
        self.columns = load_columns(runtime.schemas.root / COLUMNS_FILE)

    # ---- the spec ------------------------------------------------------------------------

    secrets: ClassVar[Secrets] = Secrets(
        headers=frozenset({"x-auth-token"}),
        login_paths=(r"/auth/v1/token",),
        settings=frozenset({"password"}),
    )

    @classmethod
    def forced_fields(cls, phase: Phase, message: str, current: Mapping[str, Any]) -> Mapping[str, Any]:
        # A failed task's status read answers the error body, whose text is its `reason`;
        # peek and an unfinished status show only the status words [doc].
        return {"reason": message} if phase is Phase.FAILED else {}

    @classmethod
    def check_task_id(cls, raw: object) -> str:
        text = str(raw).strip()
        if isinstance(raw, bool) or not UUID_TEXT.fullmatch(text):
            raise ValueError(f"a Spectrum Discover task id is a UUID like 9c0db090-bd33-41c5-969f-a1603ddf49ab, not {shown(raw)}")
        return text.lower()

    @classmethod
    def new_task_id(cls, ids: IdSource) -> str:
        while True:
            task_id = ids.random.uuid4()
            if not ids.taken(cls.name, task_id):
                return task_id

    def status_path(self, task: Task) -> str:
        return f"{STATUS_PREFIX}{task.id}"

    # reset and expire_credentials have nothing to do here: a token says the keyring's
    # generation it was issued in, and the keyring moved on (forgotten tokens answer
    # "Invalid token", expired ones "Token has expired").

    def credentials(self) -> dict[str, str]:
        """A user whose role may read task statuses (HTTP Basic for GET /auth/v1/token)."""
        for user in self.auth.users.values():
            if user.roles & TASK_ROLES:
                return {"username": user.username, "password": user.password}
        return {}

    def describe(self) -> str:
        users = ", ".join(
            f"{u.username}/{u.password} ({', '.join(sorted(u.roles))})" for u in self.auth.users.values()
        )
        return (
            f"GET {STATUS_PREFIX}{{id}}[/peek] with 'Authorization: Bearer <token>' from "
            f"GET /auth/v1/token (HTTP Basic); users {users}"
        )

    # ---- routes --------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/auth/v1/token", self.token),
            web.get(QUERY_PATH, self._guarded(self.query_get)),
            web.post(QUERY_PATH, self._guarded(self.query_post)),
            # aiohttp tries both status routes in this order: the poll, far more frequent, first.
            # HEAD is answered, as Flask answers it for every GET route, but is not a status
            # read: it shows what a GET would, without moving the task (see `_look`).
            web.get(STATUS_PREFIX + "{id}", self._guarded(self.task_status)),
            web.get(STATUS_PREFIX + "{id}/peek", self._guarded(self.peek)),
        ]

    def _guarded(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                user = self.auth.authenticate(request.headers, self.wall_time())
                authorize(user, TASK_ROLES)
            except AuthFailure as failure:
                return self._error(request, failure.status, failure.reason)
            return await handler(request)

        return guarded

    # ---- handlers ------------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        try:
            token = self.auth.login(request.headers, self.wall_time())
        except AuthFailure as failure:
            return self._error(request, failure.status, failure.reason)
        response = web.Response(status=200, body=b"", headers={"X-Auth-Token": token})
        response.headers["Content-Type"] = TEXT_HTML
        return response

    async def query_get(self, request: web.Request) -> web.StreamResponse:
        # The whole query string is the SQL, URL-encoded; '+' is read as a space as well. [inf]
        sql = urllib.parse.unquote_plus(request.rel_url.raw_query_string)
        return await self._start(request, sql)

    async def query_post(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            sql = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._error(request, 400, "The SQL query must be UTF-8 text")
        return await self._start(request, sql)

    async def _start(self, request: web.Request, sql: str) -> web.StreamResponse:
        if not sql.strip():
            return self._error(request, 400, "No SQL query was given")  # [inf]
        facts = sql_facts(sql)
        # The SQL decides, not the verb: a scenario triggered by GET also serves POST when no
        # POST trigger matches, and the other way round.
        other = "POST" if request.method == "GET" else "GET"
        scenario = self.trigger_scenario(request.method, QUERY_PATH, facts) or (
            self.trigger_scenario(other, QUERY_PATH, facts)
        )
        if scenario is None:
            return self._error(
                request, 500, f"task-emulator: no {self.name} scenario has a trigger matching this query"
            )
        task = await self.start_task(request, scenario, facts={"query": {"sql": sql}})
        return self._reply(
            request, 202, {"status": "work scheduled"}, "status", {"Location": self._url(request, task)}
        )

    async def peek(self, request: web.Request) -> web.StreamResponse:
        task = await self._task(request)
        if isinstance(task, web.StreamResponse):
            return task
        view = await self._look(request, task)
        return self._reply(request, 200, {"status": peek_status(view)}, "status")

    async def task_status(self, request: web.Request) -> web.StreamResponse:
        task = await self._task(request)
        if isinstance(task, web.StreamResponse):
            return task
        view = await self._look(request, task)
        if view.phase is Phase.SUCCEEDED:
            if request.method == "HEAD":
                # What the GET would send, without making the rows aiohttp would not send.
                found = {"Location": self._url(request, task), "Content-Type": _result_type(request)}
                return web.Response(status=200, headers=found)
            return await self._results(request, task)
        if view.phase is Phase.FAILED:
            status = int(view.fields.get("status_code", DEFAULT_FAILURE_STATUS))
            reason = str(view.fields.get("reason") or DEFAULT_FAILURE_REASON)
            return self._error(request, status, reason)
        # [doc] 303 while in progress. A Location on it is opt-in: requests and most HTTP
        # clients follow a 303 at once, so a client would never see it. [inf]
        headers = {"Location": self._url(request, task)} if task.scenario.options.get("location_on_303") else None
        return self._reply(request, 303, {"status": peek_status(view)}, "status", headers)

    async def _results(self, request: web.Request, task: Task) -> web.StreamResponse:
        """The rows, streamed a chunk at a time: a 100,000-row result never sits in memory.

        Returned unsent, its body an async iterable that aiohttp writes out once the
        middleware is done: an injected fault can still delay, replace or break it."""
        spec = ResultSpec.from_scenario(task.scenario.results)
        rows = iter_rows(spec, task.seed, task.created_at)
        head = list(islice(rows, CHECKED_ROWS))
        names = [c.name for c in self.columns]
        # respond() checks the first rows as a JSON result and, in strict mode, turns a
        # violation into its 500; the body it builds for them is not sent.
        if self.runtime.validate != "off":
            checked = self.respond(
                request, 200, [{n: row.get(n) for n in names} for row in head],
                schema="results", encode=encode_json, content_type=JSON_TYPE,
            )
            if checked.status != 200:
                return checked
        content_type = _result_type(request)
        if content_type == JSON_TYPE:
            chunks = json_chunks(chain(head, rows), self.columns)
        else:
            # The checked rows as dicts, the rest written straight to CSV by the generator.
            header = bool(task.scenario.options.get("csv_header"))
            chunks = result_csv_chunks(head, rows, self.columns, header=header)
        # No Content-Length: chunked encoding. A client that stops reading stops the rows.
        headers = {"Location": self._url(request, task), "Content-Type": content_type}
        return web.Response(status=200, body=_streamed(chunks), headers=headers)

    # ---- helpers -------------------------------------------------------------------------

    async def _look(self, request: web.Request, task: Task) -> TaskView:
        """The task as this request sees it. A GET is a status read: it counts (a step may
        end after so many reads) and fault rules about tasks see it. A HEAD only looks, so
        a client or proxy probing the URL never moves the task on."""
        return await self.read_status(request, task, count=request.method != "HEAD")

    async def _task(self, request: web.Request) -> Task | web.StreamResponse:
        raw = request.match_info["id"]
        try:
            task_id = self.check_task_id(raw)
        except ValueError:
            return self._error(request, 400, f"Invalid task id: {raw}")  # [inf] wording
        task = await self.find_task(task_id)
        if task is None:
            return self._error(request, 404, f"Task {task_id} not found")  # [inf] wording
        return task

    def _url(self, request: web.Request, task: Task) -> str:
        base = self.public_url or f"{request.scheme}://{request.host}"
        return base + self.status_path(task)

    def _error(self, request: web.Request, status: int, reason: str) -> web.Response:
        return self._reply(request, status, error_body(reason), "error")

    def error_response(self, request: web.Request, status: int, retry_after: int | None) -> web.Response:
        # [inf] the documented error shape, with Werkzeug's name for the status as the reason.
        headers = None if retry_after is None else {"Retry-After": str(retry_after)}
        return self._reply(request, status, error_body(HTTPStatus(status).phrase), "error", headers)

    def _reply(
        self,
        request: web.Request,
        status: int,
        body: Mapping[str, Any],
        schema: str,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        data = dict(body)
        return self.respond(
            request, status, data, schema=schema, encode=encode_json, content_type=TEXT_HTML,
            headers=headers, body=_encoded_small(data),
        )


def _result_type(request: web.Request) -> str:
    """CSV unless the request's Accept names JSON."""
    return JSON_TYPE if JSON_TYPE in request.headers.get("Accept", "") else CSV_TYPE


def _encoded_small(data: dict[str, Any]) -> bytes:
    """The few small bodies this API answers (peeks, 303s, errors) are encoded once each."""
    try:
        return _encoded_items(tuple(data.items()))
    except TypeError:  # a value that cannot be a cache key
        return encode_json(data)


@functools.lru_cache(maxsize=256)
def _encoded_items(items: tuple[tuple[str, Any], ...]) -> bytes:
    return encode_json(dict(items))


async def _streamed(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
        # aiohttp waits for nothing while the client keeps up, and making the rows is all
        # CPU: without a turn of the loop between chunks, one download holds every request.
        await asyncio.sleep(0)


__all__ = ["SpectrumDiscover", "User"]

"""Hitachi Ops Center Analyzer detail view (formerly Data Center Analytics): `/dbapi.do`.

One servlet path; `action=` picks the function: `query` (POST, runs an MQL query and may
hand back a request id), `getStatus` and `abortRequest` (GET, by request id). Every call
needs HTTP Basic auth and a `dataset`, and a query's request id is only known within the
dataset it ran in. Facts and sources: API-NOTES.md section 2 and the vendor's "Getting the
request status", "Running the MQL query", "Asynchronous request processing" and "Stopping
an API request" pages. Behaviour the docs leave open is marked [inf].

The real server holds a query or getStatus request up to `x-waitTime` seconds for the query
to finish. On a real clock the emulator holds it too (`hold.py`). On a virtual clock, which
moves only when a test moves it, a query is answered at once with what the real one would
have answered after waiting, booked as started that much earlier so later getStatus calls
agree with it; getStatus answers at once.

Credentials are HTTP Basic, checked on every call: nothing expires (`expire_credentials` has
nothing to do).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from ...errors import shown
from ...lifecycle import Phase, Position
from ...vendor import IdSource, Secrets, TriggerRoute
from ..base import RenderCache, VendorApi, basic_credentials
from .codes import (
    ABORT_ALREADY_ABORTED,
    ABORT_MISSING_PARAMETER,
    ABORT_NOT_IN_CACHE,
    CONTENT_TYPE,
    INTERNAL_ERROR,
    NOT_AUTHORIZED,
    NOT_IN_CACHE,
    TEXT_AUTHORIZATION,
    TEXT_INTERNAL,
    TEXT_LICENSE,
    TEXT_NOT_IN_CACHE,
    UNKNOWN_DATASET,
    DbApiError,
    encode_json,
    invalid,
    missing,
)
from .hold import Holder
from .progress import Counters, frozen_counters, seconds_to_end, step_counters, wait_seconds
from .query import query_fields, read_body
from .results import ResultSpec, error_body, result_rows, status_block, window

if TYPE_CHECKING:
    from ...task import Task, TaskView

log = logging.getLogger("task_emulator.ops_center")

PATH = "/dbapi.do"
DATASET = re.compile(r"^[A-Za-z0-9_-]{2,32}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

ActionHandler = Callable[[web.Request, str], Awaitable[web.Response]]


class OpsCenter(VendorApi):
    name: ClassVar[str] = "ops_center"
    title: ClassVar[str] = "Ops Center Analyzer detail view"
    triggers: ClassVar[tuple[TriggerRoute, ...]] = (
        TriggerRoute("POST", PATH, frozenset({"body.query", "dataset", "processSync"})),
    )
    scope_defaults: ClassVar[Mapping[str, str]] = {"dataset": "defaultDs"}
    # The doc's example user (Authorization: Basic ZnJlZDpmcmVk is fred:fred) and an admin.
    default_settings: ClassVar[Mapping[str, Any]] = {
        "users": [
            {"username": "fred", "password": "fred"},
            {"username": "admin", "password": "admin"},
        ],
        "datasets": ["defaultDs"],
        "license": "valid",
    }

    def __init__(self, runtime: Any, settings: Mapping[str, Any]) -> None:
        super().__init__(runtime, settings)
        self.users: dict[str, str] = {u["username"]: u["password"] for u in settings["users"]}
        self.datasets: tuple[str, ...] = tuple(settings["datasets"])
        scenarios_say_invalid = any(
            s.options.get("license") == "invalid" for s in runtime.engine.catalog.for_api(self.name)
        )
        self.license_valid = settings["license"] == "valid" and not scenarios_say_invalid
        self.actions: dict[str, ActionHandler] = {
            "query": self.query,
            "getStatus": self.get_status,
            "abortRequest": self.abort_request,
        }
        # x-waitTime is waited out for real only on a real clock (see the module docstring).
        self._real_clock = runtime.engine.clock.mode == "real"
        self.holder = Holder(runtime.time_scale)
        # Bodies of finished queries, for getStatus and for a query answered after waiting.
        self._finished: RenderCache[tuple[dict[str, Any], bytes]] = RenderCache()
        self._finished_accepted: RenderCache[tuple[dict[str, Any], bytes]] = RenderCache()

    # ---- the spec ------------------------------------------------------------------------

    # HTTP Basic only: the Authorization header, redacted for every API.
    secrets: ClassVar[Secrets] = Secrets(settings=frozenset({"password"}))

    @classmethod
    def forced_fields(cls, phase: Phase, message: str, current: Mapping[str, Any]) -> Mapping[str, Any]:
        # A failed query answers its error body: the message is that body's `error`. An
        # unfinished or successful one has no place for a message [doc].
        if phase is Phase.FAILED:
            return {"error": {**(current.get("error") or {}), "message": message}}
        return {}

    @classmethod
    def check_task_id(cls, raw: object) -> str:
        text = str(raw).strip()
        if isinstance(raw, bool) or not REQUEST_ID.fullmatch(text):
            raise ValueError(
                f"an Ops Center request id is 1-64 letters, digits, '_' or '-' (like 12344 or "
                f"316829382_14), not {shown(raw)}"
            )
        return text

    @classmethod
    def new_task_id(cls, ids: IdSource) -> str:
        # Shaped like the doc's "316829382_14" [inf: what the parts mean is not documented].
        serial = ids.next_serial(cls.name)
        return f"{ids.random.random.randrange(100_000_000, 1_000_000_000)}_{serial}"

    def reset(self) -> None:
        self._finished.clear()
        self._finished_accepted.clear()

    def expire_credentials(self) -> None:
        """Nothing to expire: every call carries HTTP Basic credentials, checked as it comes,
        and the vendor documents nothing time-based about them."""

    def shutdown(self) -> None:
        """The server is stopping: every request held for its x-waitTime is answered now."""
        self.holder.release_all()

    def hear(self, detail: str) -> None:
        """Task `detail` was aborted (on this replica or another): its held requests look again."""
        self.holder.wake(detail)

    def status_path(self, task: Task) -> str:
        dataset = task.scope.get("dataset", self.scope_defaults["dataset"])
        return f"{PATH}?action=getStatus&dataset={dataset}&requestId={task.id}"

    def scope_problem(self, scope: Mapping[str, str]) -> str | None:
        dataset = scope.get("dataset")
        if dataset is not None and dataset not in self.datasets:
            return f"scope.dataset: this server has no dataset {dataset!r} (it has: {', '.join(self.datasets)})"
        return None

    def credentials(self) -> dict[str, str]:
        """The first user (HTTP Basic) and the first dataset."""
        found = dict(zip(("username", "password"), next(iter(self.users.items()), ())))
        if self.datasets:
            found["dataset"] = self.datasets[0]
        return found

    def describe(self) -> str:
        users = ", ".join(f"{name}/{password}" for name, password in self.users.items())
        license_note = "" if self.license_valid else "; license INVALID (every call answers 720000E9)"
        return (
            f"GET {PATH}?action=getStatus&dataset={self.datasets[0] if self.datasets else '<ds>'}"
            f"&requestId={{id}} after POST {PATH}?action=query; Basic auth {users}; "
            f"datasets {', '.join(self.datasets) or 'none'}{license_note}"
        )

    # ---- routes --------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [web.get(PATH, self.dbapi, allow_head=False), web.post(PATH, self.dbapi)]

    async def dbapi(self, request: web.Request) -> web.Response:
        try:
            # The license is the server's state: it is checked before anything the caller
            # sent, so every call answers it [inf: the order is not documented].
            if not self.license_valid:
                raise DbApiError(401, NOT_AUTHORIZED, TEXT_LICENSE)
            if not self._authenticated(request):
                raise DbApiError(401, NOT_AUTHORIZED, TEXT_AUTHORIZATION)
            action = request.query.get("action")
            if not action:
                raise missing("action")
            handler = self.actions.get(action)
            if handler is None:
                raise invalid("action", action)
            dataset = self._dataset(request)
            return await handler(request, dataset)
        except DbApiError as error:
            return self._error(request, error)

    def _authenticated(self, request: web.Request) -> bool:
        credentials = basic_credentials(request.headers.get("Authorization", ""))
        if credentials is None:
            return False
        username, password = credentials
        expected = self.users.get(username)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    def _dataset(self, request: web.Request) -> str:
        dataset = request.query.get("dataset")
        if not dataset:
            raise missing("dataset")
        if not DATASET.fullmatch(dataset):
            raise invalid("dataset", dataset)
        if dataset not in self.datasets:
            raise DbApiError(404, UNKNOWN_DATASET, f"Dataset '{dataset}' does not exist.")
        return dataset

    async def _task(self, request: web.Request, dataset: str) -> Task | None:
        """The request named by `requestId`, if it belongs to `dataset`: another dataset's
        requests are not in this dataset's cache."""
        task = await self.find_task(request.query["requestId"])
        if task is None or task.scope.get("dataset") != dataset:
            return None
        return task

    # ---- actions -------------------------------------------------------------------------

    async def query(self, request: web.Request, dataset: str) -> web.Response:
        if request.method != "POST":
            # A query is a POST with a body; without one there is no query [inf].
            raise missing("query")
        body = await read_body(request)
        fields = query_fields(body, request.query)
        process_sync = fields["processSync"]
        facts = {"body.query": fields["query"], "dataset": dataset, "processSync": str(process_sync).lower()}
        scenario = self.trigger_scenario("POST", PATH, facts)
        if scenario is None or scenario.lifecycle is None:
            log.error("no ops_center scenario has the trigger POST %s for %r", PATH, facts)
            raise DbApiError(
                500, INTERNAL_ERROR, f"task-emulator: no ops_center scenario has the trigger POST {PATH} for this query"
            )
        now = await self.runtime.store.now()
        wait = wait_seconds(request.headers.get("x-waitTime"))
        if self._real_clock:
            created_at = now  # and the request is held below
        else:
            # Answered at once as if after the wait: booked as started that much earlier.
            to_end = seconds_to_end(scenario.lifecycle, Position(0, now, 0), now)
            created_at = now - (to_end if to_end is not None and to_end <= wait else wait)
        task = await self.start_task(
            request,
            scenario,
            fields=fields,
            scope={"dataset": dataset},
            facts={"body": body, "query": dict(request.query), "header": dict(request.headers)},
            created_at=created_at,
        )
        view = await self.read_status(request, task, count=False)
        if self._real_clock and wait > 0:
            view = await self.holder.until_over(self.look, task, view, wait)
        return self._status(request, view, request_id=not view.phase.is_terminal)

    async def get_status(self, request: web.Request, dataset: str) -> web.Response:
        if not request.query.get("requestId"):
            raise missing("requestId")
        task = await self._task(request, dataset)
        if task is None:
            raise DbApiError(404, NOT_IN_CACHE, TEXT_NOT_IN_CACHE)
        view = await self.read_status(request, task)
        # A poll of a query still running waits for it on a real clock; the other polls
        # (a virtual clock, a query over) pay for this one test.
        if self._real_clock and not view.phase.is_terminal:
            wait = wait_seconds(request.headers.get("x-waitTime"))
            if wait > 0:
                view = await self.holder.until_over(self.look, task, view, wait)
                self.read_again(request, view)
        return self._status(request, view, request_id=False)

    async def abort_request(self, request: web.Request, dataset: str) -> web.Response:
        request_id = request.query.get("requestId")
        if not request_id:
            raise DbApiError(400, ABORT_MISSING_PARAMETER, "Mandatory parameter {requestId} is not specified.")
        task = await self._task(request, dataset)
        if task is None:
            raise DbApiError(
                404, ABORT_NOT_IN_CACHE, f"Response is not present in cache for the given requestId '{request_id}'"
            )
        view = await self.read_status(request, task, count=False)  # stopping is not a status read
        if view.fields.get("aborted"):
            # [inf] 400: the page lists the body, not its status.
            raise DbApiError(
                400, ABORT_ALREADY_ABORTED, f"Request for given requestId '{request_id}' is already aborted"
            )
        aborted = not view.phase.is_terminal
        if aborted:
            counters = self._counters(view)
            await self.force(
                task,
                Phase.FAILED,
                fields={
                    "aborted": True,
                    "total": counters.total,
                    "processed": counters.processed,
                    "matched": counters.matched,
                },
            )
            # A request held on it answers the abort now, on whichever replica holds it.
            await self.tell_every_replica(task.id)
        return self._reply(request, 200, {"aborted": aborted, "id": task.id}, "abort")

    # ---- rendering -----------------------------------------------------------------------

    def _counters(self, view: TaskView) -> Counters:
        frozen = frozen_counters(view.fields)
        if frozen is not None:
            return frozen
        task = view.task
        spec = ResultSpec.of(task.scenario.results)
        assert task.lifecycle is not None and view.step_index is not None
        return step_counters(task.lifecycle, view.step_index, spec.total, spec.matched)

    def _status(self, request: web.Request, view: TaskView, *, request_id: bool) -> web.Response:
        """A getStatus body for `view`: 206 while the query runs, 200 once it is over
        (completed or aborted [inf: an aborted query will not change, so it is over]), and
        the step's error when it failed."""
        schema = "accepted" if request_id else "status"
        if not view.phase.is_terminal:
            return self._reply(request, 206, self._status_body(view, request_id=request_id), schema)
        # Over: the body no longer moves with the clock or the reads, only with the state.
        cache = self._finished_accepted if request_id else self._finished
        data, body = cache.get(view, lambda: _encoded(self._status_body(view, request_id=request_id)))
        return self._reply(request, 200, data, schema, body=body)

    def _status_body(self, view: TaskView, *, request_id: bool) -> dict[str, Any]:
        fields = view.fields
        aborted = bool(fields.get("aborted"))
        if view.phase is Phase.FAILED and not aborted:
            error = fields.get("error") or {}
            raise DbApiError(
                int(error.get("status", 500)),
                str(error.get("code", INTERNAL_ERROR)),
                str(error.get("message", TEXT_INTERNAL)),
            )
        task = view.task
        spec = ResultSpec.of(task.scenario.results)
        counters = self._counters(view)
        process_sync = bool(fields.get("processSync", False))
        shown = counters.matched
        if process_sync and not counters.completed:
            shown = 0  # processSync=true asks for the complete result only [doc]
        max_results = fields.get("maxResults")
        if isinstance(max_results, int) and not process_sync:
            shown = min(shown, max_results)  # ignored with processSync=true [doc]
        span = window(spec, fields, task.created_at)
        body: dict[str, Any] = {}
        if request_id:
            body["requestId"] = task.id  # [inf] field name and place: see API-NOTES.md
        body["status"] = status_block(counters, aborted=aborted, has_errors=bool(fields.get("has_errors")))
        body["result"] = result_rows(task.seed, shown, spec, span)
        return body

    def _error(self, request: web.Request, error: DbApiError) -> web.Response:
        return self._reply(request, error.status, error_body(error.code, error.text), "error")

    def error_response(self, request: web.Request, status: int, retry_after: int | None) -> web.Response:
        # [inf] the documented internal error for every server-side failure: the guide lists
        # no code for an overloaded or throttling server.
        response = self._error(request, DbApiError(status, INTERNAL_ERROR, TEXT_INTERNAL))
        if retry_after is not None and response.status == status:
            response.headers["Retry-After"] = str(retry_after)
        return response

    def _reply(
        self, request: web.Request, status: int, data: Any, schema: str, *, body: bytes | None = None
    ) -> web.Response:
        return self.respond(
            request, status, data, schema=schema, encode=encode_json, content_type=CONTENT_TYPE, body=body
        )


def _encoded(data: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    return data, encode_json(data)

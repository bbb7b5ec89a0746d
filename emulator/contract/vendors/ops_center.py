"""Hitachi Ops Center Analyzer detail view `dbapi.do`: its contract, as its clients use it.

Every call carries HTTP Basic credentials and a `dataset`. A query
(`POST /dbapi.do?action=query`) answers `200` when it finished within `x-waitTime`, else
`206` with a `requestId`; clients then poll `action=getStatus` (`206` while running, `200`
when completed or aborted, the error body when it failed). The status block's counters
`processed` and `matched` never fall, `total` never changes, and
`matched <= processed <= total`. The checker sends `x-waitTime: 0`, so every answer comes at
once and its own interval paces the polls.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..model import Exchange, Observation, Violation
from .base import Answer, Http, Route, Session, VendorContract

PATH = "/dbapi.do"
MEDIA = "application/json"
ERROR = Answer("error", MEDIA)
ERRORS = {status: ERROR for status in (400, 401, 404, 500, 503)}
FAILURE_STATUS = 500
COUNTERS = ("processed", "matched")


class OpsCenterContract(VendorContract):
    api: ClassVar[str] = "ops_center"
    credential_keys: ClassVar[tuple[str, ...]] = ("username", "password", "dataset")
    secret_keys: ClassVar[frozenset[str]] = frozenset({"password"})
    default_trigger_body: ClassVar[str] = "vm[~memory]"

    def route(self, exchange: Exchange) -> Route | None:
        if exchange.path != PATH:
            return None
        action = exchange.query_value("action")
        if action == "query" and exchange.method == "POST":
            answers = {200: Answer("status", MEDIA), 206: Answer("accepted", MEDIA), **ERRORS}
            return Route("trigger", None, frozenset({200, 206}), answers)
        if action == "getStatus" and exchange.method == "GET":
            answers = {200: Answer("status", MEDIA), 206: Answer("status", MEDIA), **ERRORS}
            task = exchange.query_value("requestId")
            return Route("status", task, frozenset({200, 206, FAILURE_STATUS}), answers)
        if action == "abortRequest" and exchange.method == "GET":
            return Route(
                "abort",
                exchange.query_value("requestId"),
                frozenset({200}),
                {200: Answer("abort", MEDIA), **ERRORS},
            )
        return None

    def answer_violations(self, exchange: Exchange, route: Route, body: Any) -> list[Violation]:
        block = body.get("status") if isinstance(body, dict) else None
        if not isinstance(block, dict):
            return []
        numbers = [block.get(name) for name in ("matched", "processed", "total")]
        if all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
            matched, processed, total = numbers
            if not matched <= processed <= total:  # type: ignore[operator]
                return [
                    Violation(
                        "body",
                        "$.status",
                        "matched <= processed <= total",
                        f"matched {matched}, processed {processed}, total {total}",
                    )
                ]
        return []

    def observe(self, exchange: Exchange, route: Route, body: Any) -> list[Observation]:
        status = exchange.status
        if status is None or route.kind not in ("trigger", "status"):
            return []
        task = route.task
        if route.kind == "trigger":
            # The query's own answer shows the task, but is not a status read.
            task = body.get("requestId") if isinstance(body, dict) else None
            task = task if isinstance(task, str) else f"query answered in exchange {exchange.index}"
        if task is None:
            return []
        read = route.kind == "status"
        if body is None:
            if exchange.body is not None:
                return []
            phase = {206: "running", 200: "succeeded"}.get(
                status, "failed" if status >= 400 else ""
            )
            return [Observation(task, phase, str(status), read=read)] if phase else []
        if status >= 400:
            if not isinstance(body, dict):
                return []
            error = {"status": status, "code": body.get("code"), "message": body.get("error")}
            return [
                Observation(
                    task,
                    "failed",
                    f"{status} {body.get('code')}",
                    read=read,
                    fields={"error": error},
                )
            ]
        block = body.get("status") if isinstance(body, dict) else None
        if not isinstance(block, dict):
            return []
        counters = {name: block[name] for name in COUNTERS if _number(block.get(name))}
        fixed = {"total": block["total"]} if _number(block.get("total")) else {}
        if block.get("aborted") is True:
            phase, shown = "failed", "aborted"
        elif block.get("completed") is True:
            phase, shown = "succeeded", "completed"
        else:
            phase = (
                "running" if counters.get("processed") or counters.get("matched") else "scheduled"
            )
            shown = f"{status} processed {block.get('processed')}/{block.get('total')}"
        fields = {
            **counters,
            "total": block.get("total"),
            "has_errors": block.get("hasErrors") == "true",
            "rows": body.get("result"),
            "aborted": block.get("aborted") is True,
        }
        return [
            Observation(
                task, phase, shown, counters=counters, fixed=fixed, read=read, fields=fields
            )
        ]

    def created_task(self, exchange: Exchange, body: Any) -> str | None:
        task = body.get("requestId") if isinstance(body, dict) else None
        return task if isinstance(task, str) else None

    # ---- live ----------------------------------------------------------------------------

    def _headers(self, http: Http, credentials: Mapping[str, str]) -> dict[str, str]:
        headers = {"x-waitTime": "0"}
        if credentials.get("username") and credentials.get("password") is not None:
            pair = f"{credentials['username']}:{credentials['password']}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            http.secret(headers["Authorization"])
        return headers

    async def login(self, http: Http, credentials: Mapping[str, str]) -> Session:
        return Session(self._headers(http, credentials))  # Basic on every call: no login

    async def trigger(
        self, http: Http, session: Session, credentials: Mapping[str, str], body: str | None
    ) -> str | None:
        query = self._query("query", credentials)
        payload = json.dumps({"query": body or self.default_trigger_body}).encode()
        headers = {**session.headers, "Content-Type": MEDIA}
        answer = await http.send("POST", PATH, query=query, headers=headers, body=payload)
        return self.created_task_in_json(answer)

    async def poll(
        self, http: Http, session: Session, credentials: Mapping[str, str], task: str
    ) -> None:
        query = self._query("getStatus", credentials, requestId=task)
        await http.send("GET", PATH, query=query, headers=session.headers)

    @staticmethod
    def _query(action: str, credentials: Mapping[str, str], **more: str) -> str:
        values = {"action": action, "dataset": credentials.get("dataset", "defaultDs"), **more}
        return urllib.parse.urlencode(values)

    # ---- recording -------------------------------------------------------------------------

    def step_fields(self, observation: Observation) -> dict[str, Any]:
        fields = observation.fields
        if observation.phase == "failed":
            error = fields.get("error")
            if isinstance(error, dict):
                return {"error": {k: v for k, v in error.items() if v is not None}}
            return {}
        if observation.phase == "succeeded":
            return {}  # everything processed, every match found: the emulator's own rendering
        found: dict[str, Any] = {name: fields[name] for name in COUNTERS if name in fields}
        if fields.get("has_errors"):
            found["has_errors"] = True
        return found

    def results(self, observations: Sequence[Observation]) -> dict[str, Any]:
        totals = [o.fields["total"] for o in observations if _number(o.fields.get("total"))]
        rows: list[Any] = max(
            (o.fields["rows"] for o in observations if isinstance(o.fields.get("rows"), list)),
            key=len,
            default=[],
        )
        found: dict[str, Any] = {"total": max(totals)} if totals else {}
        if rows:
            found["rows"] = rows
        else:
            found["matched"] = 0
        return found

    def trigger_of(self, exchange: Exchange) -> tuple[str, str, dict[str, str]] | None:
        if exchange.path != PATH or exchange.query_value("action") != "query":
            return None
        try:
            query = json.loads(exchange.request_body or b"").get("query")
        except (ValueError, AttributeError):
            query = None
        return "POST", PATH, ({"body.query": query} if isinstance(query, str) else {})

    def scope_of(self, exchange: Exchange) -> dict[str, str]:
        dataset = exchange.query_value("dataset")
        return {"dataset": dataset} if dataset else {}


def _number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

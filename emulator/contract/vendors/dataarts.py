"""Huawei Cloud DataArts Studio (DLF) system tasks: the contract, as the Huawei Cloud SDK
(`huaweicloudsdkdgc`) uses it.

Requests pass the API gateway with AK/SK signatures (`SDK-HMAC-SHA256`, made here by the
SDK's own signer, `huaweicloudsdkcore`) or an IAM token in `X-Auth-Token`. An import
(`POST /v1/{project_id}/jobs/import`) answers `{"taskId"}`; clients poll
`GET /v1/{project_id}/system-tasks/{task_id}` until `status` is `SUCCESSFUL` or `FAILED`.
Every answer carries `X-Request-Id`, which the SDK reads; a task's `id`, `startTime` and
`projectId` never change and `lastUpdate` never falls, for the task and each subtask.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ...errors import ConfigError
from ..checks import shown
from ..model import Exchange, Observation, Violation
from .base import Answer, Http, Route, Session, VendorContract

MEDIA = "application/json"
DLF_ERROR = Answer("dlf_error", MEDIA)
GATEWAY = Answer("gateway_error", MEDIA)
ERRORS = {400: DLF_ERROR, 401: GATEWAY, 403: GATEWAY, 429: GATEWAY, 500: DLF_ERROR, 503: DLF_ERROR}
TASK_PATH = re.compile(r"^/v1/([^/]+)/(?:system-tasks|systemTasks)/([^/]+?)/?$")
IMPORT_PATH = re.compile(r"^/v1/([^/]+)/jobs/import/?$")
PHASES = {"RUNNING": "running", "SUCCESSFUL": "succeeded", "FAILED": "failed"}
DEFAULT_PATH = "obs://task-emulator-verify/job.zip"


class DataArtsContract(VendorContract):
    api: ClassVar[str] = "dataarts"
    credential_keys: ClassVar[tuple[str, ...]] = ("ak", "sk", "project_id", "token", "workspace")
    secret_keys: ClassVar[frozenset[str]] = frozenset({"sk", "token"})
    default_trigger_body: ClassVar[str] = DEFAULT_PATH

    def route(self, exchange: Exchange) -> Route | None:
        found = TASK_PATH.match(exchange.path)
        if found and exchange.method == "GET":
            return Route(
                "status",
                found.group(2),
                frozenset({200}),
                {200: Answer("system_task", MEDIA), **ERRORS},
            )
        if IMPORT_PATH.match(exchange.path) and exchange.method == "POST":
            return Route(
                "trigger", None, frozenset({200}), {200: Answer("import_job", MEDIA), **ERRORS}
            )
        if exchange.path == "/v3/auth/tokens" and exchange.method == "POST":
            iam = Answer("iam_error", MEDIA)
            return Route(
                "login",
                None,
                frozenset({201}),
                {201: Answer("iam_token", MEDIA), 400: iam, 401: iam},
            )
        return None

    def header_violations(self, exchange: Exchange, route: Route) -> list[Violation]:
        found = []
        if exchange.header("X-Request-Id") is None:
            found.append(
                Violation("header", "header X-Request-Id", "present (the SDK reads it)", "absent")
            )
        if (
            route.kind == "login"
            and exchange.status == 201
            and exchange.header("X-Subject-Token") is None
        ):
            found.append(Violation("header", "header X-Subject-Token", "the token", "absent"))
        return found

    def answer_violations(self, exchange: Exchange, route: Route, body: Any) -> list[Violation]:
        if route.kind != "status" or exchange.status != 200 or not isinstance(body, dict):
            return []
        found = []
        if "id" in body and body["id"] != route.task:
            found.append(
                Violation("body", "$.id", f"{route.task} (the id polled)", shown(body["id"]))
            )
        for number, sub in enumerate(body.get("subtasks") or []):
            if isinstance(sub, dict) and "taskId" in sub and sub["taskId"] != body.get("id"):
                found.append(
                    Violation(
                        "body",
                        f"$.subtasks[{number}].taskId",
                        shown(body.get("id")),
                        shown(sub["taskId"]),
                    )
                )
        start, end = body.get("startTime"), body.get("endTime")
        if isinstance(start, int) and isinstance(end, int) and end < start:
            found.append(Violation("body", "$.endTime", f"at least startTime {start}", str(end)))
        return found

    def observe(self, exchange: Exchange, route: Route, body: Any) -> list[Observation]:
        if route.kind != "status" or route.task is None or exchange.status != 200:
            return []
        if not isinstance(body, dict) or not isinstance(body.get("status"), str):
            return []
        subs = tuple(
            _observation(f"{route.task} subtask {sub.get('id')}", sub)
            for sub in body.get("subtasks") or []
            if isinstance(sub, dict) and isinstance(sub.get("status"), str)
        )
        return [_observation(route.task, body, ("projectId",), subs)]

    def created_task(self, exchange: Exchange, body: Any) -> str | None:
        task = body.get("taskId") if isinstance(body, dict) else None
        return task if isinstance(task, str) else None

    # ---- live ----------------------------------------------------------------------------

    async def login(self, http: Http, credentials: Mapping[str, str]) -> Session:
        """AK/SK signing when the credentials have a pair (what the SDK does), else the token."""
        headers = {"workspace": credentials["workspace"]} if credentials.get("workspace") else {}
        if credentials.get("ak") and credentials.get("sk"):
            return Session(headers, {"signer": _signer(credentials["ak"], credentials["sk"])})
        if credentials.get("token"):
            return Session({**headers, "X-Auth-Token": credentials["token"]})
        return Session(headers)

    async def trigger(
        self, http: Http, session: Session, credentials: Mapping[str, str], body: str | None
    ) -> str | None:
        path = f"/v1/{_project(credentials)}/jobs/import"
        payload = json.dumps({"path": body or self.default_trigger_body}).encode()
        headers = {**session.headers, "Content-Type": "application/json;charset=UTF-8"}
        answer = await self._send(http, session, "POST", path, headers, payload)
        return self.created_task_in_json(answer)

    async def poll(
        self, http: Http, session: Session, credentials: Mapping[str, str], task: str
    ) -> None:
        path = f"/v1/{_project(credentials)}/system-tasks/{task}"
        await self._send(http, session, "GET", path, dict(session.headers), None)

    async def _send(
        self,
        http: Http,
        session: Session,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
    ) -> Exchange:
        signer = session.extra.get("signer")
        if signer is not None:
            headers = _signed(signer, http, method, path, headers, body)
        return await http.send(method, path, headers=headers, body=body)

    # ---- recording -------------------------------------------------------------------------

    def step_fields(self, observation: Observation) -> dict[str, Any]:
        message = observation.fields.get("message")
        return {"message": message} if isinstance(message, str) and message else {}

    def task_fields(self, observations: Sequence[Observation]) -> dict[str, Any]:
        names = [o.fields["name"] for o in observations if isinstance(o.fields.get("name"), str)]
        return {"name": names[-1]} if names else {}

    def trigger_of(self, exchange: Exchange) -> tuple[str, str, dict[str, str]] | None:
        if not IMPORT_PATH.match(exchange.path):
            return None
        try:
            path = json.loads(exchange.request_body or b"").get("path")
        except (ValueError, AttributeError):
            path = None
        return (
            "POST",
            "/v1/{project_id}/jobs/import",
            ({"body.path": path} if isinstance(path, str) else {}),
        )

    def scope_of(self, exchange: Exchange) -> dict[str, str]:
        found = TASK_PATH.match(exchange.path)
        scope = {"project_id": found.group(1)} if found else {}
        workspace = exchange.request_header("workspace")
        if workspace:
            scope["workspace"] = workspace
        return scope


def _observation(
    task: str,
    body: Mapping[str, Any],
    more_fixed: tuple[str, ...] = (),
    subs: tuple[Observation, ...] = (),
) -> Observation:
    status = body["status"]
    fixed = {key: body[key] for key in ("id", "startTime", *more_fixed) if key in body}
    counters = (
        {"lastUpdate": body["lastUpdate"]}
        if isinstance(body.get("lastUpdate"), (int, float))
        else {}
    )
    fields = {key: body[key] for key in ("name", "message") if isinstance(body.get(key), str)}
    return Observation(
        task, PHASES.get(status, "running"), status, counters, fixed, fields=fields, subtasks=subs
    )


def _project(credentials: Mapping[str, str]) -> str:
    """The project every DataArts path names; without one there is nothing to ask for."""
    project = credentials.get("project_id")
    if not project:
        raise ValueError(
            "dataarts needs project_id in the credentials (or TASK_EMULATOR_VERIFY_PROJECT_ID)"
        )
    return project


def _signer(ak: str, sk: str) -> Any:
    """The Huawei Cloud SDK's own SDK-HMAC-SHA256 signer (`huaweicloudsdkcore`): the
    signature the gateway checks is made exactly as the vendor's clients make it."""
    try:
        from huaweicloudsdkcore.signer.signer import Signer
    except ImportError:
        raise ConfigError(
            "dataarts AK/SK signing needs the Huawei Cloud SDK core: pip install "
            "huaweicloudsdkcore (or give a token instead of ak/sk)"
        ) from None

    class Keys:  # what the signer reads of the SDK's credentials
        def __init__(self) -> None:
            self.ak, self.sk = ak, sk

    return Signer(Keys())


def _signed(
    signer: Any, http: Http, method: str, path: str, headers: dict[str, str], body: bytes | None
) -> dict[str, str]:
    """`headers` plus the signature headers for this request (Host, X-Sdk-Date,
    Authorization), which the signer adds to the request it is given."""
    from huaweicloudsdkcore.sdk_request import SdkRequest

    request = SdkRequest(
        method=method,
        schema=http.scheme,
        host=http.host,
        resource_path=path,
        query_params=[],
        header_params=dict(headers),
        body=body or "",
    )
    signed = signer.sign(request)
    http.secret(signed.header_params["Authorization"])
    return {str(k): str(v) for k, v in signed.header_params.items()}

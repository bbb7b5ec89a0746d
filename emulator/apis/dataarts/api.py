"""Huawei Cloud DataArts Studio, DataArts Factory (formerly DLF): system tasks.

    GET  /v1/{project_id}/system-tasks/{task_id}   a task and its subtasks (also `systemTasks`,
                                                   as the doc's examples write it)
    POST /v1/{project_id}/jobs/import              import jobs from OBS: starts a task
    POST /v3/auth/tokens                           a minimal IAM: a project-scoped token

Requests pass the API gateway first (gateway.py): an AK/SK signature as the Huawei Cloud
SDKs make it, or an IAM token in X-Auth-Token, each good for some projects. A task belongs
to a project and a workspace (the `workspace` header; the default workspace without it);
asked for anywhere else it does not exist. Notes with sources: API-NOTES.md section 3.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar
from weakref import WeakKeyDictionary

from aiohttp import web

from ... import jsonbody
from ...errors import shown
from ...vendor import IdSource, Secrets, TriggerRoute
from ..base import RenderCache, VendorApi
from . import render
from .bodies import (
    PARAMETER_MISSING,
    TASK_NOT_FOUND,
    dlf_error,
    import_body,
    is_utf8,
    token_request_problem,
)
from .gateway import (
    DEFAULT_LOCK_AFTER_FAILURES,
    DEFAULT_LOCK_SECONDS,
    DEFAULT_MAX_SKEW_SECONDS,
    DEFAULT_TOKEN_LIFETIME_SECONDS,
    Caller,
    Gateway,
    GatewayError,
    gateway_error_body,
    new_request_id,
    not_authorized,
)
from .iam import Iam, IamRefusal

if TYPE_CHECKING:
    from ...task import Task

DOC_PROJECT = "b384b9e9ab9b4ee8994c8633aabc9505"
IMPORT_PATH = "/v1/{project_id}/jobs/import"
TASK_ID = re.compile(r"[0-9a-f]{32}")
# [inf] DataArts runs on Spring; its JSON answers carry the charset.
DLF_CONTENT_TYPE = "application/json;charset=UTF-8"
# [inf] the gateway's own answers.
GATEWAY_CONTENT_TYPE = "application/json"
IAM_CONTENT_TYPE = "application/json;charset=UTF-8"

# The gateway's answer when a caller goes over its request quota (APIG error codes).
THROTTLED = ("APIGW.0308", "The throttling threshold has been reached.")

# Per engine: the IP and JVM part of its ids (see render.hex_task_id).
_PREFIXES: WeakKeyDictionary[Any, str] = WeakKeyDictionary()


def encode(value: Any) -> bytes:
    """Compact JSON, UTF-8 as is, as the service writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class DataArts(VendorApi):
    name: ClassVar[str] = "dataarts"
    title: ClassVar[str] = "DataArts Studio (DLF)"
    triggers: ClassVar[tuple[TriggerRoute, ...]] = (
        TriggerRoute(
            "POST",
            IMPORT_PATH,
            frozenset({
                "body.path", "body.sameNamePolicy", "body.targetStatus", "body.executeUser",
                "project_id", "workspace",
            }),
        ),
    )
    scope_defaults: ClassVar[Mapping[str, str]] = {"project_id": DOC_PROJECT, "workspace": "default"}
    default_settings: ClassVar[Mapping[str, Any]] = {
        "access_keys": [
            {
                "ak": "EMULATORAK0000000001",
                "sk": "EMULATORSK00000000000000000000000000000001",
                "projects": [DOC_PROJECT],
            }
        ],
        "tokens": [{"token": "emulator-iam-token", "project_id": DOC_PROJECT}],
        "users": [
            {
                "name": "emulator",
                "password": "emulator-password",
                "domain": "emulator",
                "projects": [DOC_PROJECT],
            }
        ],
        "projects": [{"id": DOC_PROJECT, "name": "cn-north-4"}],
        "default_workspace": "default",
        "max_clock_skew_seconds": DEFAULT_MAX_SKEW_SECONDS,
        "token_lifetime_seconds": DEFAULT_TOKEN_LIFETIME_SECONDS,
        "ak_lock_after_failures": DEFAULT_LOCK_AFTER_FAILURES,
        "ak_lock_seconds": DEFAULT_LOCK_SECONDS,
    }

    def __init__(self, runtime: Any, settings: Mapping[str, Any]) -> None:
        super().__init__(runtime, settings)
        self.gateway = Gateway(settings, runtime.keyring(self.name))
        self.iam = Iam(settings)
        self.default_workspace: str = settings["default_workspace"]
        self._statuses: RenderCache[tuple[dict[str, Any], bytes]] = RenderCache()

    # ---- the spec ------------------------------------------------------------------------

    secrets: ClassVar[Secrets] = Secrets(
        headers=frozenset({"x-auth-token", "x-subject-token"}),
        keys=frozenset({"sk", "password"}),
        login_paths=(r"/v3/auth/tokens",),
        settings=frozenset({"sk", "password", "token"}),
    )

    @classmethod
    def check_task_id(cls, raw: object) -> str:
        text = str(raw).strip()
        if isinstance(raw, bool) or not TASK_ID.fullmatch(text):
            raise ValueError(f"a DataArts system task id is 32 lower-case hex characters, not {shown(raw)}")
        return text

    @classmethod
    def new_task_id(cls, ids: IdSource) -> str:
        prefix = _PREFIXES.get(ids)
        if prefix is None:
            prefix = _PREFIXES[ids] = render.server_prefix(ids.random.seed)
        created_ms = render.millis(ids.now())
        while True:
            # The serial counts every id drawn (tasks and subtasks share the counter, as the
            # doc's ids do); the loop only guards against an id a person chose.
            task_id = render.hex_task_id(prefix, created_ms, ids.next_serial(cls.name) - 1)
            if not ids.taken(cls.name, task_id):
                return task_id

    @classmethod
    def new_subtask_id(cls, ids: IdSource, parent_id: str, index: int) -> str:
        return cls.new_task_id(ids)

    @classmethod
    def default_facts(cls, ids: IdSource) -> Mapping[str, Any]:
        """A task made without an import request still has an OBS path, from the seeded Faker."""
        fake = ids.random.faker
        return {"body": {"path": f"obs://{fake.word()}-{fake.word()}/{fake.file_name(extension='zip')}"}}

    def status_path(self, task: Task) -> str:
        return f"/v1/{task.scope['project_id']}/system-tasks/{task.id}"

    def reset(self) -> None:
        self.gateway.reset()
        self._statuses.clear()

    # expire_credentials has nothing to do here: the keyring moved on, and a token says its
    # generation. AK/SK pairs are permanent keys (they have no lifetime), and configured
    # tokens stand for tokens got elsewhere: both stay valid.

    def credentials(self) -> dict[str, str]:
        """The first AK/SK pair and token, with the project and workspace they open."""
        found: dict[str, str] = {"workspace": self.default_workspace}
        if self.settings["access_keys"]:
            key = self.settings["access_keys"][0]
            found.update(ak=key["ak"], sk=key["sk"], project_id=key["projects"][0])
        if self.settings["tokens"]:
            token = self.settings["tokens"][0]
            found.setdefault("project_id", token["project_id"])
            found["token"] = token["token"]
        return found

    def describe(self) -> str:
        key = self.settings["access_keys"][0] if self.settings["access_keys"] else None
        token = self.settings["tokens"][0] if self.settings["tokens"] else None
        parts = [f"GET /v1/{{project_id}}/system-tasks/{{task_id}} after POST {IMPORT_PATH}"]
        if key:
            parts.append(f"AK/SK {key['ak']}/{key['sk']} (project {key['projects'][0]})")
        if token:
            parts.append(f"X-Auth-Token {token['token']} (project {token['project_id']})")
        return "; ".join(parts)

    # ---- routes --------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            # No HEAD: a HEAD would count as a status read.
            web.get("/v1/{project_id}/system-tasks/{task_id}", self.system_task, allow_head=False),
            web.get("/v1/{project_id}/systemTasks/{task_id}", self.system_task, allow_head=False),
            web.post(IMPORT_PATH, self.import_job),
            web.post("/v3/auth/tokens", self.issue_token),
        ]

    # ---- handlers ------------------------------------------------------------------------

    async def system_task(self, request: web.Request) -> web.Response:
        request_id = new_request_id()
        project_id = request.match_info["project_id"]
        refused = await self._admit(request, project_id, request_id)
        if refused is not None:
            return refused
        task = await self.find_task(request.match_info["task_id"])
        if task is None or task.scope != self._scope(request, project_id):
            return self._dlf(request, 400, dlf_error(*TASK_NOT_FOUND), "dlf_error", request_id)
        view = await self.read_status(request, task)
        data, body = self._statuses.get(view, lambda: _encoded(render.system_task_body(view, task.scenario.options)))
        return self._dlf(request, 200, data, "system_task", request_id, body=body)

    async def import_job(self, request: web.Request) -> web.Response:
        request_id = new_request_id()
        project_id = request.match_info["project_id"]
        refused = await self._admit(request, project_id, request_id)
        if refused is not None:
            return refused
        body, problem = import_body(await request.read(), self.runtime.schemas)
        if problem is not None:
            return self._dlf(request, 400, problem, "dlf_error", request_id)
        scope = self._scope(request, project_id)
        if not is_utf8(scope["workspace"]):
            # A header byte that is not UTF-8: no task may carry it (see bodies.py).
            error = dlf_error(PARAMETER_MISSING, "The parameter workspace is invalid: not UTF-8 text")
            return self._dlf(request, 400, error, "dlf_error", request_id)
        facts = {
            "body.path": body["path"],
            "project_id": project_id,
            "workspace": scope["workspace"],
            **{
                f"body.{key}": str(body[key])
                for key in ("sameNamePolicy", "targetStatus", "executeUser")
                if isinstance(body.get(key), (str, int, float)) and not isinstance(body.get(key), bool)
            },
        }
        scenario = self.trigger_scenario("POST", IMPORT_PATH, facts)
        if scenario is None:
            # Not the service's answer: the emulator's own, in the service's shape.
            text = (
                f"task-emulator: no dataarts scenario has the trigger POST {IMPORT_PATH} "
                f"matching path {body['path']!r}"
            )
            return self._dlf(request, 500, dlf_error("DLF.0000", text), "dlf_error", request_id)
        fields = {} if "name" in scenario.fields else {"path": body["path"]}
        task = await self.start_task(
            request,
            scenario,
            scope=scope,
            facts={"body": body, "header": {"workspace": scope["workspace"]}},
            fields=fields,
        )
        return self._dlf(request, 200, {"taskId": task.id}, "import_job", request_id)

    async def issue_token(self, request: web.Request) -> web.Response:
        """IAM's POST /v3/auth/tokens, password method only: 201, the token in X-Subject-Token,
        its times from the wall clock (IAM's own)."""
        now = self.wall_time()
        try:
            auth = jsonbody.loads(await request.read())
        except (ValueError, UnicodeDecodeError, RecursionError):  # Recursion: nested too deep to parse
            auth = None
        problem = token_request_problem(auth, self.runtime.schemas)
        if problem is not None:
            refusal = IamRefusal(400, "Bad Request", f"The request body is invalid: {problem}")
            return self._iam_error(request, refusal)
        found = self.iam.login(auth["auth"])
        if isinstance(found, IamRefusal):
            return self._iam_error(request, found)
        user, project_id = found
        token, claims = self.gateway.issue(project_id, user["name"], now)
        headers = {"X-Subject-Token": token, "X-Request-Id": new_request_id()}
        return self.respond(
            request, 201, self.iam.token_body(user, claims), schema="iam_token", encode=encode,
            content_type=IAM_CONTENT_TYPE, headers=headers,
        )

    # ---- the gateway ---------------------------------------------------------------------

    async def _admit(self, request: web.Request, project_id: str, request_id: str) -> web.Response | None:
        """None when the gateway lets the request through, else its refusal."""
        arrived = self.wall_time()  # what the gateway judges the credentials by
        try:
            caller: Caller = self.gateway.authenticate(
                method=request.method,
                raw_target=request.raw_path,
                headers=request.headers,
                body=await request.read() if request.body_exists else b"",
                now=arrived,
            )
            if project_id not in caller.projects:
                raise not_authorized()
        except GatewayError as error:
            return self.respond(
                request, error.status, gateway_error_body(error, request_id), schema="gateway_error",
                encode=encode, content_type=GATEWAY_CONTENT_TYPE, headers={"X-Request-Id": request_id},
            )
        return None

    def _scope(self, request: web.Request, project_id: str) -> dict[str, str]:
        workspace = request.headers.get("workspace", "").strip() or self.default_workspace
        return {"project_id": project_id, "workspace": workspace}

    def _dlf(
        self, request: web.Request, status: int, data: Any, schema: str, request_id: str,
        *, body: bytes | None = None,
    ) -> web.Response:
        return self.respond(
            request, status, data, schema=schema, encode=encode, content_type=DLF_CONTENT_TYPE,
            headers={"X-Request-Id": request_id}, body=body,
        )

    def error_response(self, request: web.Request, status: int, retry_after: int | None) -> web.Response:
        """A 429 is the API gateway's throttling answer (APIGW.0308); a 500 or a 503 comes
        from the service behind it in DLF's shape [inf: DLF documents no code for them]."""
        request_id = new_request_id()
        headers = {"X-Request-Id": request_id}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if status == 429:
            body = gateway_error_body(GatewayError(429, THROTTLED[0], THROTTLED[1]), request_id)
            return self.respond(
                request, status, body, schema="gateway_error", encode=encode,
                content_type=GATEWAY_CONTENT_TYPE, headers=headers,
            )
        return self.respond(
            request, status, dlf_error("DLF.0000", HTTPStatus(status).phrase), schema="dlf_error",
            encode=encode, content_type=DLF_CONTENT_TYPE, headers=headers,
        )

    def _iam_error(self, request: web.Request, refusal: IamRefusal) -> web.Response:
        return self.respond(
            request, refusal.status, refusal.body(), schema="iam_error", encode=encode,
            content_type=IAM_CONTENT_TYPE, headers={"X-Request-Id": new_request_id()},
        )


def _encoded(data: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    return data, encode(data)


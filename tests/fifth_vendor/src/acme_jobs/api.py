"""Acme Jobs: a small job API, the shape of many a vendor's asynchronous tasks.

    POST /acme/jobs {"kind": "export"}  ->  202 {"id": "1"}, Location: /acme/jobs/1
    GET /acme/jobs/1                    ->  200 {"id": "1", "state": "running", "message": ...}

No auth. Every answer goes out through `respond`, which checks it against this package's
schemas; every status read and every start goes through the base helpers, so the journal
files the request under its job and fault rules scoped to a job or a step see the read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from emulator.apis.base import VendorApi
from emulator.lifecycle import Phase
from emulator.vendor import IdSource, TriggerRoute

if TYPE_CHECKING:
    from emulator.task import Task

PACKAGE = Path(__file__).resolve().parent
JOBS = "/acme/jobs"
# The engine's phases in Acme's words.
STATES: Mapping[Phase, str] = {
    Phase.SCHEDULED: "queued",
    Phase.RUNNING: "running",
    Phase.SUCCEEDED: "done",
    Phase.FAILED: "failed",
}


def encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


class AcmeJobs(VendorApi):
    # ---- the spec: what the scenario loader and the engine know of the API ---------------
    name: ClassVar[str] = "acme_jobs"  # the entry point's name too
    title: ClassVar[str] = "Acme Jobs"
    # A scenario with `trigger: {method: POST, path: /acme/jobs}` is started by this route;
    # its `when:` may test the job's kind.
    triggers: ClassVar[tuple[TriggerRoute, ...]] = (
        TriggerRoute("POST", JOBS, frozenset({"kind"})),
    )
    base_path: ClassVar[str] = JOBS
    # Replaced key by key by a settings file (checked against settings.schema.json).
    default_settings: ClassVar[Mapping[str, Any]] = {
        "kinds": ["export", "import"],
        "default_kind": "export",
    }

    @classmethod
    def schemas_dir(cls) -> Path:
        return PACKAGE / "schemas"

    @classmethod
    def scenarios_dir(cls) -> Path | None:
        return PACKAGE / "scenarios"

    @classmethod
    def check_task_id(cls, raw: object) -> str:
        text = str(raw).strip()
        if isinstance(raw, bool) or not text.isdigit() or int(text) < 1:
            raise ValueError(f"an Acme job id is a positive integer, not {raw!r}")
        return str(int(text))

    @classmethod
    def new_task_id(cls, ids: IdSource) -> str:
        return str(ids.next_serial(cls.name))  # 1, 2, 3 … again after a reset

    @classmethod
    def settings_problems(
        cls, settings: Mapping[str, Any]
    ) -> list[tuple[tuple[str | int, ...], str]]:
        # A rule between two keys, which the settings schema cannot state: a default kind
        # that is not a kind would refuse every job started without one.
        if settings["default_kind"] not in settings["kinds"]:
            kinds = ", ".join(settings["kinds"])
            return [(("default_kind",), f"{settings['default_kind']!r} is not a kind ({kinds})")]
        return []

    # ---- serving -------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(JOBS, self.start_job),
            web.get(JOBS + "/{id}", self.job_status, allow_head=False),
        ]

    def status_path(self, task: Task) -> str:
        return f"{JOBS}/{task.id}"

    def credentials(self) -> dict[str, str]:
        return {}  # no auth: any client gets in

    def expire_credentials(self) -> None:
        """Nothing to expire: Acme Jobs issues no credentials."""

    def describe(self) -> str:
        return f"GET {JOBS}/{{id}} after POST {JOBS}; no auth"

    async def start_job(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            return self._error(request, 400, "the body is not JSON")
        if not isinstance(body, dict):
            return self._error(request, 400, "the body is not a JSON object")
        kind = body.get("kind", self.settings["default_kind"])
        if kind not in self.settings["kinds"]:
            return self._error(request, 400, f"unknown kind {kind!r}")
        scenario = self.trigger_scenario("POST", JOBS, {"kind": kind})
        if scenario is None:
            return self._error(request, 500, f"no acme_jobs scenario starts a {kind!r} job")
        # start_task, not the engine: the journal files this request under the new job.
        task = await self.start_task(request, scenario, facts={"body": body})
        location = self.status_path(task)
        return self.respond(
            request, 202, {"id": task.id}, schema="started", encode=encode,
            headers={"Location": location},
        )

    async def job_status(self, request: web.Request) -> web.Response:
        task = await self.find_task(request.match_info["id"])
        if task is None:
            return self._error(request, 404, "no such job")
        # read_status counts the read (a step may last so many polls) and shows it to the
        # fault rules scoped to this job or its step.
        view = await self.read_status(request, task)
        data: dict[str, Any] = {"id": task.id, "state": STATES[view.phase]}
        if view.message is not None:
            data["message"] = view.message
        return self.respond(request, 200, data, schema="job", encode=encode)

    # ---- errors --------------------------------------------------------------------------

    def error_response(
        self, request: web.Request, status: int, retry_after: int | None
    ) -> web.Response:
        # An injected 500, 503 or 429 in Acme's own error body.
        headers = None if retry_after is None else {"Retry-After": str(retry_after)}
        return self._error(request, status, HTTPStatus(status).phrase, headers)

    def _error(
        self, request: web.Request, status: int, text: str,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        return self.respond(
            request, status, {"error": text}, schema="error", encode=encode, headers=headers
        )

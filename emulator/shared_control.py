"""The control API's task, clock, reset and health routes when replicas share a Redis store:
the same answers as `ControlApi`'s, read from and written to the store."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import __version__
from .control import DEFAULT_TASK_LIMIT, ControlApi, ControlError, _iso, check_new_task
from .errors import NotFound, shown
from .lifecycle import Phase
from .shared import SharedStore, StoreUnavailable, TaskGone


class SharedControlApi(ControlApi):
    @property
    def shared(self) -> SharedStore:
        assert self.runtime.shared is not None
        return self.runtime.shared

    async def health(self, request: web.Request) -> web.Response:
        try:
            tasks = await self.shared.count()
            clock = await self._shared_clock_json()
        except StoreUnavailable as error:
            return web.json_response(
                {
                    "status": "unavailable",
                    "version": __version__,
                    "store": "redis",
                    "error": str(error),
                },
                status=503,
            )
        return web.json_response(
            {
                "status": "ok",
                "version": __version__,
                "apis": sorted(self.runtime.apis),
                "scenarios": len(self.engine.catalog.scenarios),
                "tasks": tasks,
                "clock": clock,
                "store": "redis",
            }
        )

    async def create_task(self, request: web.Request) -> web.Response:
        body = await self._body(request, "create_task")
        api = self._api(body["api"])
        scenario = self.engine.scenario(api, body["scenario"])
        task_id = None
        if "id" in body:
            try:
                task_id = self.runtime.apis[api].check_task_id(body["id"])
            except ValueError as error:
                raise ControlError(400, f"id: {error}") from None
        fields, scope = check_new_task(
            self.runtime, api, body.get("fields", {}), body.get("scope", {})
        )
        task = await self.shared.create(scenario, task_id=task_id, fields=fields, scope=scope)
        view = await self.shared.read(task, count=False)
        return web.json_response(self._task_json(request, view), status=201)

    async def list_tasks(self, request: web.Request) -> web.Response:
        only = request.query.get("api")
        apis = [self._api(only)] if only is not None else sorted(self.runtime.apis)
        phase = Phase.parse(request.query["phase"]) if "phase" in request.query else None
        scenario = request.query.get("scenario")
        limit = self._int_query(request, "limit", DEFAULT_TASK_LIMIT, minimum=1)
        offset = self._int_query(request, "offset", 0, minimum=0)
        matching = [
            view
            for api in apis
            for view in await self.shared.tasks(api)
            if (scenario is None or view.task.scenario.name == scenario)
            and (phase is None or view.phase is phase)
        ]
        page = matching[offset : offset + limit]
        next_offset = offset + limit if len(matching) > offset + limit else None
        return web.json_response(
            {"tasks": [self._task_json(request, v) for v in page], "next_offset": next_offset}
        )

    async def _view(self, request: web.Request) -> Any:
        api = self._api(request.match_info["api"])
        task_id = request.match_info["id"]
        task = await self.shared.find(api, task_id)
        try:
            if task is not None:
                return await self.shared.read(task, count=False)
        except TaskGone:
            pass
        raise NotFound(f"no {api} task with id {shown(task_id)}")

    async def get_task(self, request: web.Request) -> web.Response:
        return web.json_response(self._task_json(request, await self._view(request)))

    async def transition(self, request: web.Request) -> web.Response:
        view = await self._view(request)
        body = await self._body(request, "transition")
        moved = await self.shared.transition(view.task, Phase(body["phase"]), body.get("message"))
        return web.json_response(self._task_json(request, moved))

    async def clock(self, request: web.Request) -> web.Response:
        return web.json_response(await self._shared_clock_json())

    async def advance_clock(self, request: web.Request) -> web.Response:
        body = await self._body(request, "advance_clock")
        try:
            await self.shared.advance_clock(float(body["seconds"]))
        except ValueError as error:
            raise ControlError(400, f"seconds: {error}") from None
        return web.json_response(await self._shared_clock_json())

    async def reset(self, request: web.Request) -> web.Response:
        self.runtime.reset()  # this replica's journal, faults and sessions
        await self.shared.reset()
        return web.json_response({"status": "reset", "tasks": await self.shared.count()})

    async def _shared_clock_json(self) -> dict[str, Any]:
        now = await self.shared.now()
        return {"mode": self.shared.clock.mode, "now": now, "iso": _iso(now)}

"""The Traffic Ops API: its routes, handlers and the privilege or permission checks of its
middleware (`routing/routes.go`, `routing/routing.go`, `routing/middleware/wrappers.go`)."""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from ...errors import shown
from ...vendor import IdSource, Secrets, TriggerRoute
from ..base import RenderCache, VendorApi
from .auth import NO_ROLE, Guard, Role, User, authorize
from .godecode import GoDecodeError, decode_form
from .routing import (
    ASYNC_VERSIONS,
    LOGIN_VERSIONS,
    ROUTED_METHODS,
    async_status_body,
    atoi,
    unknown_api_version,
)
from .sessions import LOGIN_SECONDS, REFRESH_SECONDS, AuthFailure, Sessions
from .wire import (
    ROUTE_HEADERS,
    UNKNOWN_VERSION_BODY,
    _sha512,
    accepts_gzip,
    alerts,
    encode_go_json,
    gzipped,
)

if TYPE_CHECKING:
    from ...task import Task

# Creators always point at the 4.0 path, even when called on 5.0 (CurrentAsyncEndpoint).
ASYNC_ENDPOINT = "/api/4.0/async_status/"
# The store note naming the DNSSEC refresh started last (one runs at a time, on every replica).
DNSSEC_REFRESH_NOTE = "traffic_ops:dnssec-refresh"
PRIV_OPERATIONS = 20


Handler = Callable[[web.Request], Awaitable[web.Response]]
STATUS_GUARD = Guard(PRIV_OPERATIONS, ("ASYNC-STATUS:READ",))


class TrafficOps(VendorApi):
    name: ClassVar[str] = "traffic_ops"
    title: ClassVar[str] = "Traffic Ops"
    triggers: ClassVar[tuple[TriggerRoute, ...]] = (
        TriggerRoute("POST", "/api/{version}/acme_autorenew"),
        TriggerRoute("PUT", "/api/{version}/cdns/dnsseckeys/refresh"),
    )
    base_path: ClassVar[str] = "/api/4.0/"
    # Roles and permissions as the server's seeds.sql makes them; session lifetimes as its
    # login.go and tocookie make them.
    default_settings: ClassVar[Mapping[str, Any]] = {
        "role_based_permissions": False,
        "roles": {
            "admin": {"priv_level": 30, "permissions": ["ALL"]},
            "operations": {
                "priv_level": 20,
                "permissions": [
                    "ASYNC-STATUS:READ",
                    "ACME:READ",
                    "CDN:READ",
                    "CDN:UPDATE",
                    "DELIVERY-SERVICE:UPDATE",
                    "DNS-SEC:UPDATE",
                ],
            },
            "read-only": {
                "priv_level": 10,
                "permissions": ["ASYNC-STATUS:READ", "ACME:READ", "CDN:READ"],
            },
        },
        "users": [
            {"username": "admin", "password": "twelve12", "role": "admin"},
            {"username": "operations", "password": "twelve12", "role": "operations"},
            {"username": "readonly", "password": "twelve12", "role": "read-only"},
        ],
        "login_tokens": {"emulator-login-token": "admin"},
        "login_cookie_seconds": LOGIN_SECONDS,
        "refresh_cookie_seconds": REFRESH_SECONDS,
    }

    def __init__(self, runtime: Any, settings: Mapping[str, Any]) -> None:
        super().__init__(runtime, settings)
        self.role_based_permissions: bool = settings["role_based_permissions"]
        self.roles = {
            name: Role(role["priv_level"], frozenset(role.get("permissions", ())))
            for name, role in settings["roles"].items()
        }
        self.users = {
            u["username"]: User(u["username"], u["password"], u["role"]) for u in settings["users"]
        }
        self.login_tokens: dict[str, str] = dict(settings.get("login_tokens", {}))
        self.sessions = Sessions(
            runtime.keyring(self.name),
            self.wall_time,
            settings.get("login_cookie_seconds", LOGIN_SECONDS),
            settings.get("refresh_cookie_seconds", REFRESH_SECONDS),
        )
        self._statuses: RenderCache[tuple[dict[str, Any], bytes]] = RenderCache()

    # ---- the spec ------------------------------------------------------------------------

    secrets: ClassVar[Secrets] = Secrets(
        keys=frozenset({"p", "t"}),  # {"u": …, "p": …} and the login token's {"t": …}
        login_paths=(r"/api/[^/]+/user/login",),  # and /user/login/token
        settings=frozenset({"password", "login_tokens"}),
    )

    @classmethod
    def settings_problems(cls, settings: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
        # A user whose role no role defines could log in and then be refused everything,
        # with no hint why: refused when the settings are read.
        roles = sorted(settings["roles"])
        return [
            (("users", index, "role"), f"unknown role {shown(user['role'])} (the roles: {', '.join(roles)})")
            for index, user in enumerate(settings["users"])
            if user["role"] not in settings["roles"]
        ]

    @classmethod
    def check_task_id(cls, raw: object) -> str:
        text = str(raw).strip()
        if isinstance(raw, bool) or not re.fullmatch(r"[0-9]{1,18}", text) or int(text) < 1:
            raise ValueError(
                f"a Traffic Ops async status id is a positive integer, not {shown(raw)}"
            )
        return str(int(text))

    @classmethod
    def new_task_id(cls, ids: IdSource) -> str:
        return str(ids.next_serial(cls.name))

    def status_path(self, task: Task) -> str:
        return f"{ASYNC_ENDPOINT}{task.id}"

    def reset(self) -> None:
        # Sessions go too, as every other API's tokens do: the keyring forgot them.
        self._statuses.clear()

    # expire_credentials has nothing to do here: the keyring moved on, and Sessions sees it.

    def credentials(self) -> dict[str, str]:
        """A user allowed to read statuses, and a login token."""
        for user in self.users.values():
            try:
                self._authorize(user.username, STATUS_GUARD)
            except AuthFailure:
                continue
            tokens = [t for t, name in self.login_tokens.items() if name == user.username]
            return {
                "username": user.username,
                "password": user.password,
                **({"login_token": tokens[0]} if tokens else {}),
            }
        return {}

    def describe(self) -> str:
        users = ", ".join(f"{u.username}/{u.password} ({u.role})" for u in self.users.values())
        return f"GET /api/4.0/async_status/{{id}} after POST /api/4.0/user/login; users {users}"

    # ---- routes --------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        # aiohttp tries the routes under /api in this order, a regex match each: the status
        # poll, by far the most frequent call, first. No HEAD routes: Traffic Ops has none.
        return [
            web.get(
                "/api/{version}/async_status/{id:[^/]+}",
                self._versioned(self._guarded(self.async_status, STATUS_GUARD), ASYNC_VERSIONS),
                allow_head=False,
            ),
            web.post(
                r"/api/{version}/user/login{slash:/?}", self._versioned(self.login, LOGIN_VERSIONS)
            ),
            web.post(
                r"/api/{version}/user/login/token{slash:/?}",
                self._versioned(self.token_login, LOGIN_VERSIONS),
            ),
            web.post(
                r"/api/{version}/acme_autorenew{slash:/?}",
                self._versioned(
                    self._guarded(
                        self.acme_autorenew,
                        Guard(
                            PRIV_OPERATIONS,
                            ("ACME:READ", "DS-SECURITY-KEY:UPDATE", "DELIVERY-SERVICE:UPDATE"),
                        ),
                    ),
                    ASYNC_VERSIONS,
                ),
            ),
            web.put(
                r"/api/{version}/cdns/dnsseckeys/refresh{slash:/?}",
                self._versioned(
                    self._guarded(
                        self.dnssec_refresh,
                        Guard(PRIV_OPERATIONS, ("DNS-SEC:UPDATE", "CDN:UPDATE", "CDN:READ")),
                    ),
                    ASYNC_VERSIONS,
                ),
            ),
            # Every other path under /api, a newline in it included (`.` would stop there).
            web.route("*", r"/api/{version}/{tail:[\s\S]*}", self.no_such_route),
            web.route("*", "/api/{version}", self.no_such_route),
            web.route("*", "/api{slash:/?}", self.no_such_route),
        ]

    def _versioned(self, handler: Handler, versions: frozenset[str]) -> Handler:
        async def versioned(request: web.Request) -> web.Response:
            if request.match_info["version"] not in versions:
                return await self.no_such_route(request)
            return await handler(request)

        return versioned

    def _guarded(self, handler: Handler, guard: Guard) -> Handler:
        """`handler` behind the auth middleware: GetUserFromReq, then the privilege level or
        the permissions. A known user's session is refreshed even when refused for lack of
        privileges (GetUserFromReq sets the cookies before the check)."""
        sessions = self.sessions

        async def guarded(request: web.Request) -> web.Response:
            refresh: tuple[str, ...] = ()
            try:
                credential = sessions.credential(request)
                username = sessions.username(credential.cookie)
                if username is not None:
                    if not username:
                        raise AuthFailure(401, "unauthorized, please log in.")
                    if username not in self.users:
                        raise AuthFailure(401, "user not found")  # auth.GetCurrentUserFromDB
                    refresh = sessions.refresh_headers(username, credential)
                self._authorize(username, guard)
            except AuthFailure as failure:
                response = self._reply(request, failure.status, alerts(failure.text), "alerts")
            else:
                response = await handler(request)
            for header in refresh:
                response.headers.add("Set-Cookie", header)
            return response

        return guarded

    async def no_such_route(self, request: web.Request) -> web.Response:
        """routing.go Handler when no route matched: the 501 of IsRequestAPIAndUnknownVersion
        for a method that has routes, else the catch-all's 404. Neither is wrapped in the
        route middleware: no Traffic Ops headers, no gzip."""
        if request.method in ROUTED_METHODS and unknown_api_version(request.path):
            return web.Response(
                status=501, body=UNKNOWN_VERSION_BODY, content_type="application/json"
            )
        body = alerts(f"The requested path '{request.path}' does not exist.")
        return self.respond(request, 404, body, schema="alerts", encode=encode_go_json)

    # ---- handlers ------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        try:
            form = decode_form(await request.read(), "auth.PasswordForm", ("u", "p"))
        except GoDecodeError as error:
            return self._reply(request, 400, alerts(str(error)), "alerts")
        username, password = form.get("u", ""), form.get("p", "")
        if not username or not password:
            return self._reply(request, 400, alerts("username and password are required"), "alerts")
        user = self.users.get(username)
        # Compared as UTF-8 bytes: compare_digest takes no str beyond ASCII.
        if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
            return self._reply(request, 401, alerts("Invalid username or password."), "alerts")
        response = self._reply(request, 200, alerts("Successfully logged in.", "success"), "alerts")
        for header in self.sessions.login_headers(username, with_access_token=True):
            response.headers.add("Set-Cookie", header)
        return response

    async def token_login(self, request: web.Request) -> web.Response:
        try:
            form = decode_form(await request.read(), "tc.UserToken", ("t",))
        except GoDecodeError as error:
            return self._reply(request, 400, alerts(f"Invalid request: {error}"), "alerts")
        username = self.login_tokens.get(form.get("t", ""))
        if username is None or username not in self.users:
            return self._reply(
                request, 401, alerts("Invalid token. Please contact your administrator."), "alerts"
            )
        response = self._reply(request, 200, alerts("Successfully logged in.", "success"), "alerts")
        for header in self.sessions.login_headers(username, with_access_token=False):
            response.headers.add("Set-Cookie", header)
        return response

    async def async_status(self, request: web.Request) -> web.Response:
        number = atoi(request.match_info["id"].removesuffix(".json"))
        if number is None:
            return self._reply(
                request,
                400,
                alerts("getting integer parameters: parameter 'id' not an integer"),
                "alerts",
            )
        task = await self.find_task(str(number))
        if task is None:
            return self._reply(request, 404, alerts("Not Found"), "alerts")
        view = await self.read_status(request, task)
        data, body = self._statuses.get(
            view, lambda: _encoded({"response": async_status_body(view)})
        )
        return self._reply(request, 200, data, "async_status", body=body)

    async def acme_autorenew(self, request: web.Request) -> web.Response:
        task = await self._start(request, "POST", "/api/{version}/acme_autorenew")
        if isinstance(task, web.Response):
            return task
        location = self.status_path(task)
        text = (
            "Beginning async call to renew certificates. This may take a few minutes. "
            f"Status updates can be found here: {location}"
        )
        return self._reply(request, 202, alerts(text, "success"), "alerts", {"Location": location})

    async def dnssec_refresh(self, request: web.Request) -> web.Response:
        # The refresh that may still run, as every replica sees it (the store's note).
        noted = await self.runtime.store.note(DNSSEC_REFRESH_NOTE)
        running = noted and await self.find_task(noted)
        if running and not (await self.look(running)).phase.is_terminal:
            # dnssecrefresh.go: one refresh at a time; a second call points at id 0.
            return self._reply(
                request,
                202,
                alerts("the server is already executing a DNSSEC refresh", "success"),
                "alerts",
                {"Location": f"{ASYNC_ENDPOINT}0"},
            )
        task = await self._start(request, "PUT", "/api/{version}/cdns/dnsseckeys/refresh")
        if isinstance(task, web.Response):
            return task
        await self.runtime.store.set_note(DNSSEC_REFRESH_NOTE, task.id)
        location = self.status_path(task)
        text = (
            "Starting DNSSEC key refresh in the background. This may take a few minutes. "
            f"Status updates can be found here: {location}"
        )
        return self._reply(request, 202, alerts(text, "success"), "alerts", {"Location": location})

    async def _start(self, request: web.Request, method: str, path: str) -> Task | web.Response:
        scenario = self.trigger_scenario(method, path, {})
        if scenario is None:
            text = f"task-emulator: no traffic_ops scenario has the trigger {method} {path}"
            return self._reply(request, 500, alerts(text), "alerts")
        return await self.start_task(request, scenario)

    # ---- auth ----------------------------------------------------------------------------

    def _authorize(self, username: str | None, guard: Guard) -> None:
        """What `username` may do (None: the user an empty session cookie leaves)."""
        role_name = self.users[username].role if username is not None else ""
        authorize(role_name, self.roles.get(role_name, NO_ROLE), guard, self.role_based_permissions)

    # ---- responses -----------------------------------------------------------------------

    def error_response(
        self, request: web.Request, status: int, retry_after: int | None
    ) -> web.Response:
        # api.HandleErr without a user error: the alert is Go's http.StatusText(status).
        headers = None if retry_after is None else {"Retry-After": str(retry_after)}
        return self._reply(request, status, alerts(HTTPStatus(status).phrase), "alerts", headers)

    def _reply(
        self,
        request: web.Request,
        status: int,
        data: dict[str, Any],
        schema: str,
        extra_headers: Mapping[str, str] | None = None,
        *,
        body: bytes | None = None,
    ) -> web.Response:
        """`data` as a routed response of Traffic Ops: with the headers WrapHeaders adds, and
        gzipped when the client accepts gzip (a response the emulator refuses as invalid gets
        none of this). `body` is `data` already encoded."""
        if body is None:
            body = encode_go_json(data)
        headers = {**ROUTE_HEADERS, "Whole-Content-Sha512": _sha512(body)}
        if extra_headers:
            headers.update(extra_headers)
        # One header lookup is all a client that does not ask for gzip pays.
        if request.headers.get("Accept-Encoding") is not None and accepts_gzip(
            request.headers.getall("Accept-Encoding")
        ):
            headers["Content-Encoding"] = "gzip"
            body = gzipped(body)
        return self.respond(
            request, status, data, schema=schema, encode=encode_go_json, headers=headers, body=body
        )


def _encoded(data: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    return data, encode_go_json(data)

"""Apache Traffic Control, Traffic Ops: `GET /api/{4.0,4.1,5.0}/async_status/{id}`.

Modelled on the Go server (apache/trafficcontrol, traffic_ops_golang): `api/async_status.go`,
`api/api.go` (response framing), `routing/` (routes, versions, middleware headers),
`login/login.go` and `tocookie/` (sessions). Notes with sources: API-NOTES.md section 4.

Auth follows the server's two modes. With `role_based_permissions` off (the server's default
when its config does not set it) a route needs a privilege level: async_status needs
`operations`, so `read-only` users get 403 "Forbidden.". With it on, a route needs
permissions (`ASYNC-STATUS:READ`), and the `admin` role has them all.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import jwt
from aiohttp import web

from ..errors import shown
from ..lifecycle import Phase
from ..requestkeys import JOURNAL_TASK, OBSERVED
from ..vendor import IdSource, TriggerRoute
from .base import RenderCache, VendorApi

if TYPE_CHECKING:
    from ..engine import Task, TaskView

# Versions the server knows; async routes exist from 4.0 on (routing.go, routes.go).
KNOWN_VERSIONS = ("3.0", "3.1", "4.0", "4.1", "5.0")
ASYNC_VERSIONS = frozenset({"4.0", "4.1", "5.0"})
# Creators always point at the 4.0 path, even when called on 5.0 (CurrentAsyncEndpoint).
ASYNC_ENDPOINT = "/api/4.0/async_status/"
SERVER_NAME = "traffic_ops_golang/8.0.2"

PRIV_OPERATIONS = 20
ATOI = re.compile(r"[+-]?[0-9]+")  # what strconv.Atoi takes: a sign and digits
LOGIN_COOKIE_SECONDS = 6 * 3600  # login.go defaultCookieDuration
REFRESH_COOKIE_SECONDS = 3600  # tocookie.DefaultDuration, re-sent on authenticated calls

STATUS_BY_PHASE = {
    Phase.SCHEDULED: "PENDING",
    Phase.RUNNING: "PENDING",
    Phase.SUCCEEDED: "SUCCEEDED",
    Phase.FAILED: "FAILED",
}

UNKNOWN_VERSION_BODY = (
    b'{"alerts":[{"level":"error","text":"The requested api version is not implemented by this '
    b"server. If you are using a newer client with an older server, you will need to use an "
    b'older client version or upgrade your server."}]}'
)


def encode_go_json(value: Any) -> bytes:
    """Bytes as Go's json.Marshal writes them, plus the newline api.WriteResp appends:
    compact, keys in the given order, and HTML-escaped (Go escapes <, > and &). Bytes that
    were not UTF-8 (a request's, echoed back as lone surrogates) become U+FFFD, as in Go."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        text = (
            text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        )
    return (text + "\n").encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode()


def rfc3339nano(seconds: float) -> str:
    """A time as Go encodes a Postgres timestamptz: microseconds, trailing zeros trimmed."""
    moment = datetime.fromtimestamp(round(seconds, 6), tz=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


EMPTY_COOKIES: Mapping[str, str] = MappingProxyType({})


def alerts(text: str, level: str = "error") -> dict[str, Any]:
    return {"alerts": [{"text": text, "level": level}]}


@dataclass(frozen=True, slots=True)
class Role:
    priv_level: int
    permissions: frozenset[str]


@dataclass(frozen=True, slots=True)
class User:
    username: str
    password: str
    role: str


class AuthFailure(Exception):
    def __init__(self, status: int, text: str) -> None:
        self.status = status
        self.text = text


@dataclass(frozen=True, slots=True)
class Guard:
    """What a route demands of the caller (routes.go: RequiredPrivLevel, RequiredPermissions)."""

    priv_level: int
    permissions: tuple[str, ...]


Handler = Callable[[web.Request], Awaitable[web.Response]]


class TrafficOps(VendorApi):
    name: ClassVar[str] = "traffic_ops"
    title: ClassVar[str] = "Traffic Ops"
    triggers: ClassVar[tuple[TriggerRoute, ...]] = (
        TriggerRoute("POST", "/api/{version}/acme_autorenew"),
        TriggerRoute("PUT", "/api/{version}/cdns/dnsseckeys/refresh"),
    )
    base_path: ClassVar[str] = "/api/4.0/"
    # Roles and permissions as the server's seeds.sql makes them.
    default_settings: ClassVar[Mapping[str, Any]] = {
        "role_based_permissions": False,
        "roles": {
            "admin": {"priv_level": 30, "permissions": ["ALL"]},
            "operations": {
                "priv_level": 20,
                "permissions": [
                    "ASYNC-STATUS:READ", "ACME:READ", "CDN:READ", "CDN:UPDATE",
                    "DELIVERY-SERVICE:UPDATE", "DNS-SEC:UPDATE",
                ],
            },
            "read-only": {"priv_level": 10, "permissions": ["ASYNC-STATUS:READ", "ACME:READ", "CDN:READ"]},
        },
        "users": [
            {"username": "admin", "password": "twelve12", "role": "admin"},
            {"username": "operations", "password": "twelve12", "role": "operations"},
            {"username": "readonly", "password": "twelve12", "role": "read-only"},
        ],
        "login_tokens": {"emulator-login-token": "admin"},
    }

    def __init__(self, runtime: Any, settings: Mapping[str, Any]) -> None:
        super().__init__(runtime, settings)
        self.role_based_permissions: bool = settings["role_based_permissions"]
        self.roles = {
            name: Role(role["priv_level"], frozenset(role.get("permissions", ())))
            for name, role in settings["roles"].items()
        }
        self.users = {u["username"]: User(u["username"], u["password"], u["role"]) for u in settings["users"]}
        self.login_tokens: dict[str, str] = dict(settings.get("login_tokens", {}))
        # Signs session cookies; new per server, so cookies cannot be forged from outside.
        self._secret = secrets.token_bytes(32)
        # Signing and checking cost more than the rest of a poll: what was signed or checked
        # is remembered (signatures are deterministic; expiry is still checked every time).
        self._signed: dict[Any, Any] = {}
        self._checked: dict[str, Any] = {}
        self._parsed_cookie_headers: dict[str, Mapping[str, str]] = {}
        self._statuses: RenderCache[tuple[dict[str, Any], bytes]] = RenderCache()
        self._dnssec_refresh: str | None = None

    # ---- the spec ------------------------------------------------------------------------

    @classmethod
    def check_task_id(cls, raw: object) -> str:
        text = str(raw).strip()
        if isinstance(raw, bool) or not re.fullmatch(r"[0-9]{1,18}", text) or int(text) < 1:
            raise ValueError(f"a Traffic Ops async status id is a positive integer, not {shown(raw)}")
        return str(int(text))

    @classmethod
    def new_task_id(cls, ids: IdSource) -> str:
        return str(ids.next_serial(cls.name))

    def status_path(self, task: Task) -> str:
        return f"{ASYNC_ENDPOINT}{task.id}"

    def reset(self) -> None:
        self._dnssec_refresh = None
        self._statuses.clear()

    def credentials(self) -> dict[str, str]:
        """A user allowed to read statuses, and a login token."""
        guard = Guard(PRIV_OPERATIONS, ("ASYNC-STATUS:READ",))
        for user in self.users.values():
            try:
                self._authorize(user.username, guard)
            except AuthFailure:
                continue
            tokens = [t for t, name in self.login_tokens.items() if name == user.username]
            return {"username": user.username, "password": user.password, **({"login_token": tokens[0]} if tokens else {})}
        return {}

    def describe(self) -> str:
        users = ", ".join(f"{u.username}/{u.password} ({u.role})" for u in self.users.values())
        return f"GET /api/4.0/async_status/{{id}} after POST /api/4.0/user/login; users {users}"

    # ---- routes --------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        async_only = ASYNC_VERSIONS
        # aiohttp tries the routes under /api in this order, a regex match each: the status
        # poll, by far the most frequent call, first.
        return [
            web.get(
                "/api/{version}/async_status/{id}",
                self._versioned(
                    self._guarded(self.async_status, Guard(PRIV_OPERATIONS, ("ASYNC-STATUS:READ",))),
                    async_only,
                ),
            ),
            web.post(r"/api/{version}/user/login{slash:/?}", self._versioned(self.login, KNOWN_VERSIONS)),
            web.post(
                r"/api/{version}/user/login/token{slash:/?}",
                self._versioned(self.token_login, KNOWN_VERSIONS),
            ),
            web.post(
                r"/api/{version}/acme_autorenew{slash:/?}",
                self._versioned(
                    self._guarded(
                        self.acme_autorenew,
                        Guard(PRIV_OPERATIONS, ("ACME:READ", "DS-SECURITY-KEY:UPDATE", "DELIVERY-SERVICE:UPDATE")),
                    ),
                    async_only,
                ),
            ),
            web.put(
                r"/api/{version}/cdns/dnsseckeys/refresh{slash:/?}",
                self._versioned(
                    self._guarded(
                        self.dnssec_refresh, Guard(PRIV_OPERATIONS, ("DNS-SEC:UPDATE", "CDN:UPDATE", "CDN:READ"))
                    ),
                    async_only,
                ),
            ),
            web.route("*", "/api/{version}/{tail:.*}", self.no_such_route),
        ]

    def _versioned(self, handler: Handler, versions: frozenset[str] | tuple[str, ...]) -> Handler:
        async def versioned(request: web.Request) -> web.Response:
            if request.match_info["version"] not in versions:
                return await self.no_such_route(request)
            return await handler(request)

        return versioned

    def _guarded(self, handler: Handler, guard: Guard) -> Handler:
        async def guarded(request: web.Request) -> web.Response:
            cookies = self._cookies(request)
            try:
                username = self._authenticate(request, cookies)
                self._authorize(username, guard)
            except AuthFailure as failure:
                return self._reply(request, failure.status, alerts(failure.text), "alerts")
            response = await handler(request)
            # Every authenticated call hands back a fresh one-hour session, and a fresh
            # access token when it came with one (api.go).
            for header in self._session_headers(username, REFRESH_COOKIE_SECONDS, "access_token" in cookies):
                response.headers.add("Set-Cookie", header)
            return response

        return guarded

    async def no_such_route(self, request: web.Request) -> web.Response:
        if request.match_info["version"] not in KNOWN_VERSIONS:
            # wrappers.go: a fixed body, no trailing newline, no other headers.
            return web.Response(status=501, body=UNKNOWN_VERSION_BODY, content_type="application/json")
        body = alerts(f"The requested path '{request.path}' does not exist.")
        return self.respond(request, 404, body, schema="alerts", encode=encode_go_json)

    # ---- handlers ------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        form, error = await _read_json(request)
        if error is not None:
            return self._reply(request, 400, alerts(error), "alerts")
        username = form.get("u") if isinstance(form, dict) else None
        password = form.get("p") if isinstance(form, dict) else None
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            return self._reply(request, 400, alerts("username and password are required"), "alerts")
        user = self.users.get(username)
        if user is None or not hmac.compare_digest(user.password, password):
            return self._reply(request, 401, alerts("Invalid username or password."), "alerts")
        response = self._reply(request, 200, alerts("Successfully logged in.", "success"), "alerts")
        for header in self._session_headers(username, LOGIN_COOKIE_SECONDS, with_access_token=True):
            response.headers.add("Set-Cookie", header)
        return response

    async def token_login(self, request: web.Request) -> web.Response:
        form, error = await _read_json(request)
        if error is not None:
            return self._reply(request, 400, alerts(f"Invalid request: {error}"), "alerts")
        token = form.get("t") if isinstance(form, dict) else None
        username = self.login_tokens.get(token) if isinstance(token, str) else None
        if username is None or username not in self.users:
            return self._reply(
                request, 401, alerts("Invalid token. Please contact your administrator."), "alerts"
            )
        response = self._reply(request, 200, alerts("Successfully logged in.", "success"), "alerts")
        for header in self._session_headers(username, LOGIN_COOKIE_SECONDS, with_access_token=False):
            response.headers.add("Set-Cookie", header)
        return response

    async def async_status(self, request: web.Request) -> web.Response:
        raw_id = request.match_info["id"]
        if raw_id.endswith(".json"):
            raw_id = raw_id[: -len(".json")]
        try:
            number = int(raw_id)  # strconv.Atoi: accepts a sign and leading zeros
        except ValueError:
            number = None
        if number is None or not ATOI.fullmatch(raw_id):
            return self._reply(
                request, 400, alerts("getting integer parameters: parameter 'id' not an integer"), "alerts"
            )
        task = self.runtime.engine.find(self.name, str(number))
        if task is None:
            return self._reply(request, 404, alerts("Not Found"), "alerts")
        request[JOURNAL_TASK] = task.id
        view = self.runtime.engine.observe(task, count_read=True)
        request[OBSERVED] = view
        data, body = self._statuses.get(view, lambda: _encoded({"response": async_status_body(view)}))
        return self._reply(request, 200, data, "async_status", body=body)

    async def acme_autorenew(self, request: web.Request) -> web.Response:
        task = self._start(request, "POST", "/api/{version}/acme_autorenew")
        if isinstance(task, web.Response):
            return task
        location = self.status_path(task)
        text = (
            "Beginning async call to renew certificates. This may take a few minutes. "
            f"Status updates can be found here: {location}"
        )
        return self._reply(request, 202, alerts(text, "success"), "alerts", {"Location": location})

    async def dnssec_refresh(self, request: web.Request) -> web.Response:
        running = self._dnssec_refresh and self.runtime.engine.find(self.name, self._dnssec_refresh)
        if running and not self.runtime.engine.observe(running, count_read=False).phase.is_terminal:
            # dnssecrefresh.go: one refresh at a time; a second call points at id 0.
            return self._reply(
                request, 202, alerts("the server is already executing a DNSSEC refresh", "success"),
                "alerts", {"Location": f"{ASYNC_ENDPOINT}0"},
            )
        task = self._start(request, "PUT", "/api/{version}/cdns/dnsseckeys/refresh")
        if isinstance(task, web.Response):
            return task
        self._dnssec_refresh = task.id
        location = self.status_path(task)
        text = (
            "Starting DNSSEC key refresh in the background. This may take a few minutes. "
            f"Status updates can be found here: {location}"
        )
        return self._reply(request, 202, alerts(text, "success"), "alerts", {"Location": location})

    def _start(self, request: web.Request, method: str, path: str) -> Task | web.Response:
        engine = self.runtime.engine
        scenario = engine.catalog.for_trigger(self.name, method, path, {})
        if scenario is None:
            text = f"task-emulator: no traffic_ops scenario has the trigger {method} {path}"
            return self._reply(request, 500, alerts(text), "alerts")
        task = engine.create_task(scenario)
        request[JOURNAL_TASK] = task.id
        return task

    # ---- sessions ------------------------------------------------------------------------

    def _cookies(self, request: web.Request) -> Mapping[str, str]:
        """The request's cookies. Clients send the same Cookie header poll after poll, and
        parsing it costs more than the rest of authentication: parsed headers are kept."""
        header = request.headers.get("Cookie", "")
        if not header:
            return EMPTY_COOKIES
        cookies = self._parsed_cookie_headers.get(header)
        if cookies is None:
            cookies = MappingProxyType(dict(request.cookies))
            _remember(self._parsed_cookie_headers, header, cookies)
        return cookies

    def _authenticate(self, request: web.Request, cookies: Mapping[str, str]) -> str:
        """The user a request is made by (api.GetUserFromReq), or AuthFailure with TO's text."""
        authorization = request.headers.get("Authorization", "")
        if "Bearer" in authorization:
            cookie = self._cookie_from_jwt(authorization.partition(" ")[2].strip())
        elif "access_token" in cookies:
            cookie = self._cookie_from_jwt(cookies["access_token"])
        elif "mojolicious" in cookies:
            cookie = cookies["mojolicious"]
        else:
            raise AuthFailure(401, "unauthorized, please log in.")
        username = self._parse_cookie(cookie)
        if username not in self.users:
            raise AuthFailure(403, "user not found")
        return username

    def _authorize(self, username: str, guard: Guard) -> None:
        role_name = self.users[username].role
        role = self.roles.get(role_name, Role(0, frozenset()))
        if not self.role_based_permissions:
            if role.priv_level < guard.priv_level:
                raise AuthFailure(403, "Forbidden.")
            return
        if role_name == "admin" or "ALL" in role.permissions:
            return
        missing = [p for p in guard.permissions if p not in role.permissions]
        if missing:
            raise AuthFailure(403, f"missing required Permissions: {', '.join(missing)}")

    def _cookie_from_jwt(self, token: str) -> str:
        known = self._checked.get(token)
        if isinstance(known, str):
            return known
        try:
            claims = jwt.decode(token, self._secret, algorithms=["HS256"], options={"verify_exp": False})
        except (jwt.PyJWTError, UnicodeEncodeError):  # header bytes that are not UTF-8 arrive as surrogates
            raise AuthFailure(401, "unauthorized, please log in.") from None
        cookie = claims.get("mojoCookie")
        if not isinstance(cookie, str) or not cookie:
            raise AuthFailure(401, "unauthorized, please log in.")
        _remember(self._checked, token, cookie)
        return cookie

    def _make_cookie(self, username: str, expires: float) -> str:
        """tocookie.GetCookie: base64url(JSON) + "--" + hex(HMAC-SHA1(secret, base64 part))."""
        key = ("cookie", username, int(expires))
        known = self._signed.get(key)
        if isinstance(known, str):
            return known
        payload = {"auth_data": username, "expires": int(expires), "by": "trafficcontrol-go-tocookie"}
        encoded = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
        text = encoded.decode().rstrip("=")
        signature = hmac.new(self._secret, text.encode(), hashlib.sha1).hexdigest()
        cookie = f"{text}--{signature}"
        _remember(self._signed, key, cookie)
        return cookie

    def _parse_cookie(self, cookie: str) -> str:
        """tocookie.Parse: the user a session cookie names, checking signature and expiry."""
        known = self._checked.get(cookie)
        username: str
        expires: float
        if isinstance(known, tuple):
            username, expires = known
        else:
            username, expires = self._parse_signed_cookie(cookie)
        if expires < self.runtime.engine.clock.now():
            raise AuthFailure(401, "signature expired - unauthorized, please log in")
        return username

    def _parse_signed_cookie(self, cookie: str) -> tuple[str, float]:
        text, dashes, signature = cookie.rpartition("--")
        if not dashes:
            raise AuthFailure(401, f"error parsing cookie: malformed cookie '{cookie}' - no dashes")
        # Cookie bytes that are not UTF-8 arrive as lone surrogates: signed as sent.
        expected = hmac.new(self._secret, text.encode("utf-8", "surrogateescape"), hashlib.sha1).hexdigest()
        if not signature.isascii() or not hmac.compare_digest(expected, signature):
            raise AuthFailure(401, "bad signature - unauthorized, please log in")
        try:
            padded = text + "=" * (-len(text) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded))
            username, expires = payload["auth_data"], float(payload["expires"])
        except (ValueError, KeyError, TypeError):
            raise AuthFailure(401, "Unauthorized") from None
        _remember(self._checked, cookie, (str(username), expires))
        return str(username), expires

    def _session_headers(self, username: str, seconds: int, with_access_token: bool) -> tuple[str, ...]:
        """The Set-Cookie values handing `username` a session of `seconds` from now: the
        `mojolicious` cookie and, if asked, the `access_token` JWT carrying it (login.go).
        They change once a second, so they are built once a second."""
        expires = int(self.runtime.engine.clock.now() + seconds)
        key = ("headers", username, expires, seconds, with_access_token)
        known = self._signed.get(key)
        if isinstance(known, tuple):
            return known
        cookie = self._make_cookie(username, expires)
        headers = [_set_cookie("mojolicious", cookie, expires, seconds)]
        if with_access_token:
            token = jwt.encode({"exp": expires, "mojoCookie": cookie}, self._secret, algorithm="HS256")
            headers.append(_set_cookie("access_token", token, expires, seconds))
        _remember(self._signed, key, tuple(headers))
        return tuple(headers)

    # ---- responses -----------------------------------------------------------------------

    def error_response(self, request: web.Request, status: int, retry_after: int | None) -> web.Response:
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
        """`data` as TO writes it, with the headers its middleware adds (a response the
        emulator refuses as invalid gets none of them). `body` is `data` already encoded."""
        if body is None:
            body = encode_go_json(data)
        headers = {**ROUTE_HEADERS, "Whole-Content-Sha512": _sha512(body)}
        if extra_headers:
            headers.update(extra_headers)
        return self.respond(request, status, data, schema=schema, encode=encode_go_json, headers=headers, body=body)


REMEMBERED = 4096


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Store `value` under `key` in a cache that starts again when it is full."""
    if len(cache) >= REMEMBERED:
        cache.clear()
    cache[key] = value


@functools.lru_cache(maxsize=64)
def _http_date(seconds: int) -> str:
    return format_datetime(datetime.fromtimestamp(seconds, tz=UTC), usegmt=True)


def async_status_body(view: TaskView) -> dict[str, Any]:
    """tc.AsyncStatus: end_time and message are left out while empty (Go pointers)."""
    body: dict[str, Any] = {
        "id": int(view.id),
        "status": STATUS_BY_PHASE[view.phase],
        "start_time": rfc3339nano(view.created_at),
    }
    if view.phase.is_terminal:
        body["end_time"] = rfc3339nano(view.entered_at)
    message = view.message
    if message:
        body["message"] = message
    return body


# What routing/middleware/wrappers.go WrapHeaders sets on every routed response, with
# Whole-Content-Sha512 (the body's digest) added per response.
ROUTE_HEADERS = {
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Allow-Headers": "Origin, X-Requested-With, Content-Type, Accept, Set-Cookie, Cookie",
    "Access-Control-Allow-Methods": "POST,GET,OPTIONS,PUT,DELETE",
    "Access-Control-Allow-Origin": "*",
    "Vary": "Accept-Encoding",
    "X-Server-Name": SERVER_NAME,
    "Permissions-Policy": "interest-cohort=()",
}


@functools.lru_cache(maxsize=1024)
def _sha512(body: bytes) -> str:
    """Whole-Content-Sha512: polls of an unchanged task send the same body again."""
    return base64.b64encode(hashlib.sha512(body).digest()).decode()


def _encoded(data: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    return data, encode_go_json(data)


def _set_cookie(name: str, value: str, expires: int, max_age: int) -> str:
    """A Set-Cookie value as Go's http.Cookie.String writes the cookies tocookie makes."""
    return f"{name}={value}; Path=/; Expires={_http_date(expires)}; Max-Age={max_age}; HttpOnly"


class _NotJson(ValueError):
    pass


def _not_json(constant: str) -> Any:
    """Python's parser takes NaN and Infinity; Go's stops at them, as at any stray letter."""
    if constant.startswith("-"):
        raise _NotJson(f"invalid character '{constant[1]}' in numeric literal")
    raise _NotJson(f"invalid character '{constant[0]}' looking for beginning of value")


async def _read_json(request: web.Request) -> tuple[Any, str | None]:
    """The request's JSON, or an error worded as Go's decoder words the common cases."""
    raw = await request.read()
    if not raw.strip():
        return None, "EOF"
    try:
        return json.loads(raw, parse_constant=_not_json), None
    except json.JSONDecodeError as error:
        text = error.doc
        if error.pos >= len(text.rstrip()):
            return None, "unexpected EOF"
        return None, f"invalid character '{text[error.pos]}' looking for beginning of value"
    except _NotJson as error:
        return None, str(error)
    except UnicodeDecodeError:
        return None, "invalid character looking for beginning of value"
    except RecursionError:  # deeper than Python's parser goes; Go's words for its own limit
        return None, "exceeded max depth"

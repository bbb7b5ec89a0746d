"""Apache Traffic Ops `async_status`: what its contract is, as `TOSession` clients use it.

Clients log in (`POST /api/<v>/user/login` `{"u", "p"}`, or `.../login/token` `{"t"}`) and
keep the `mojolicious` cookie; a creator answers `202` with `Location:
/api/4.0/async_status/<id>`; clients poll that path until `status` is no longer `PENDING`.
Every routed answer is `application/json` with `Whole-Content-Sha512`, the base64 SHA-512
of the body, which clients may use to check what they got.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from http.cookies import SimpleCookie
from typing import Any, ClassVar

from ..checks import sha512_base64, shown
from ..model import Exchange, Observation, Violation
from .base import Answer, Http, Route, Session, VendorContract

VERSION = "4.0"
MEDIA = "application/json"
ALERTS = Answer("alerts", MEDIA)
ERRORS = {status: ALERTS for status in (400, 401, 403, 404, 500, 503)}
STATUS_PATH = re.compile(r"^/api/(\d+\.\d+)/async_status/([^/]+?)(?:\.json)?$")
LOGIN_PATH = re.compile(r"^/api/\d+\.\d+/user/login(/token)?/?$")
# The creators (traffic_ops_golang routes), and the trigger path the emulator's scenarios use.
CREATORS = {
    ("POST", "acme_autorenew"): "/api/{version}/acme_autorenew",
    ("PUT", "cdns/dnsseckeys/refresh"): "/api/{version}/cdns/dnsseckeys/refresh",
    ("POST", "deliveryservices/sslkeys/generate/acme"): None,
    ("POST", "deliveryservices/sslkeys/generate/letsencrypt"): None,
    ("POST", "letsencrypt/autorenew"): None,
}
CREATOR_PATH = re.compile(r"^/api/\d+\.\d+/(.+?)/?$")
LOCATION = re.compile(r"^/api/4\.0/async_status/(\d+)$")  # always the 4.0 path
PHASES = {"PENDING": "running", "SUCCEEDED": "succeeded", "FAILED": "failed"}
# --trigger-input: which creator to call.
TRIGGERS = {
    "acme_autorenew": ("POST", "acme_autorenew"),
    "dnssec_refresh": ("PUT", "cdns/dnsseckeys/refresh"),
}


class TrafficOpsContract(VendorContract):
    api: ClassVar[str] = "traffic_ops"
    credential_keys: ClassVar[tuple[str, ...]] = ("username", "password", "login_token")
    secret_keys: ClassVar[frozenset[str]] = frozenset({"password", "login_token"})
    default_trigger_body: ClassVar[str] = "acme_autorenew"

    def route(self, exchange: Exchange) -> Route | None:
        path, method = exchange.path, exchange.method
        found = STATUS_PATH.match(path)
        if found and method == "GET":
            task = found.group(2)
            task = str(int(task)) if task.isdigit() else task
            return Route(
                "status", task, frozenset({200}), {200: Answer("async_status", MEDIA), **ERRORS}
            )
        if LOGIN_PATH.match(path) and method == "POST":
            return Route("login", None, frozenset({200}), {200: ALERTS, **ERRORS})
        creator = CREATOR_PATH.match(path)
        if creator and (method, creator.group(1)) in CREATORS:
            return Route("trigger", None, frozenset({202}), {202: ALERTS, **ERRORS})
        return None

    def header_violations(self, exchange: Exchange, route: Route) -> list[Violation]:
        found: list[Violation] = []
        digest = exchange.header("Whole-Content-Sha512")
        if digest is None:
            found.append(Violation("header", "header Whole-Content-Sha512", "present", "absent"))
        elif exchange.body is not None and digest != sha512_base64(exchange.body):
            found.append(
                Violation(
                    "header",
                    "header Whole-Content-Sha512",
                    "the base64 SHA-512 of the body",
                    shown(digest),
                )
            )
        if route.kind == "trigger" and exchange.status == 202:
            location = exchange.header("Location")
            if location is None or not LOCATION.match(location):
                found.append(
                    Violation(
                        "header",
                        "header Location",
                        "/api/4.0/async_status/<id>",
                        shown(location) if location else "absent",
                    )
                )
        return found

    def answer_violations(self, exchange: Exchange, route: Route, body: Any) -> list[Violation]:
        response = body.get("response") if isinstance(body, dict) else None
        if route.kind != "status" or not isinstance(response, dict) or "id" not in response:
            return []
        if str(response["id"]) != route.task:
            return [
                Violation(
                    "body", "$.response.id", f"{route.task} (the id polled)", shown(response["id"])
                )
            ]
        return []

    def observe(self, exchange: Exchange, route: Route, body: Any) -> list[Observation]:
        if route.kind != "status" or route.task is None or exchange.status != 200:
            return []
        response = body.get("response") if isinstance(body, dict) else None
        if not isinstance(response, dict) or not isinstance(response.get("status"), str):
            return []
        status = response["status"]
        fixed = {key: response[key] for key in ("id", "start_time", "end_time") if key in response}
        message = response.get("message")
        fields = {"message": message} if isinstance(message, str) else {}
        return [
            Observation(
                route.task, PHASES.get(status, "running"), status, fixed=fixed, fields=fields
            )
        ]

    def created_task(self, exchange: Exchange, body: Any) -> str | None:
        found = LOCATION.match(exchange.header("Location") or "")
        return found.group(1) if found else None

    # ---- live ----------------------------------------------------------------------------

    async def login(self, http: Http, credentials: Mapping[str, str]) -> Session:
        if credentials.get("username") and credentials.get("password"):
            form = {"u": credentials["username"], "p": credentials["password"]}
            path = f"/api/{VERSION}/user/login"
        elif credentials.get("login_token"):
            form, path = {"t": credentials["login_token"]}, f"/api/{VERSION}/user/login/token"
        else:
            return Session()
        answer = await http.send(
            "POST", path, headers={"Content-Type": MEDIA}, body=json.dumps(form).encode()
        )
        cookies: SimpleCookie = SimpleCookie()
        for name, value in answer.response_headers or ():
            if name.lower() == "set-cookie":
                cookies.load(value)
        for morsel in cookies.values():
            http.secret(morsel.value)
        if "mojolicious" not in cookies:
            return Session()
        # The cookie alone, as TOSession keeps it (requests sends mojolicious first).
        return Session({"Cookie": f"mojolicious={cookies['mojolicious'].value}"})

    async def trigger(
        self, http: Http, session: Session, credentials: Mapping[str, str], body: str | None
    ) -> str | None:
        choice = body or self.default_trigger_body
        if choice not in TRIGGERS:
            raise ValueError(f"traffic_ops triggers: {', '.join(TRIGGERS)} (not {choice!r})")
        method, route = TRIGGERS[choice]
        answer = await http.send(method, f"/api/{VERSION}/{route}", headers=session.headers)
        return self.created_task(answer, None)

    async def poll(
        self, http: Http, session: Session, credentials: Mapping[str, str], task: str
    ) -> None:
        await http.send("GET", f"/api/{VERSION}/async_status/{task}", headers=session.headers)

    # ---- recording -------------------------------------------------------------------------

    def step_fields(self, observation: Observation) -> dict[str, Any]:
        return dict(observation.fields)

    def task_fields(self, observations: Sequence[Observation]) -> dict[str, Any]:
        return {}

    def trigger_of(self, exchange: Exchange) -> tuple[str, str, dict[str, str]] | None:
        creator = CREATOR_PATH.match(exchange.path)
        path = CREATORS.get((exchange.method, creator.group(1))) if creator else None
        return (exchange.method, path, {}) if path else None

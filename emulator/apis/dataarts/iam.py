"""A minimal IAM for `POST /v3/auth/tokens`: the password method with a project scope.

Who may have a token (the `users` and `projects` settings) and what the 201 body says. The
token itself is made by the gateway's seal (tokens.py), which the gateway later opens.
[inf] IAM's error bodies are written in Keystone's shape, `{"error": {code, message, title}}`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .tokens import TokenClaims, iam_time


@dataclass(frozen=True, slots=True)
class IamRefusal:
    status: int
    title: str
    message: str

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.status, "message": self.message, "title": self.title}}


WRONG_PASSWORD = IamRefusal(401, "Unauthorized", "The username or password is wrong.")
NOT_IN_PROJECT = IamRefusal(
    401, "Unauthorized", "The request you have made requires authentication."
)


class Iam:
    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.projects: dict[str, str] = {p["id"]: p["name"] for p in settings["projects"]}
        self.users: dict[str, Mapping[str, Any]] = {u["name"]: u for u in settings["users"]}

    def login(self, auth: Mapping[str, Any]) -> tuple[Mapping[str, Any], str] | IamRefusal:
        """The user and the project id a token request (valid against its schema) is for,
        or IAM's refusal."""
        user = auth["identity"]["password"]["user"]
        known = self.users.get(user["name"])
        domain = user.get("domain", {})
        if (
            known is None
            or not hmac.compare_digest(_utf8(known["password"]), _utf8(user["password"]))
            or domain.get("name", known["domain"]) != known["domain"]
        ):
            return WRONG_PASSWORD
        scope = auth.get("scope", {}).get("project", {})
        project_id = scope.get("id") or next(
            (pid for pid, name in self.projects.items() if name == scope.get("name")), None
        )
        if project_id is None or project_id not in known["projects"]:
            return NOT_IN_PROJECT
        return known, project_id

    def token_body(self, user: Mapping[str, Any], claims: TokenClaims) -> dict[str, Any]:
        """The reduced TokenResult; its times are the token's own, on the wall clock."""
        domain_ref = {"id": _stable_id(user["domain"]), "name": user["domain"]}
        project_id = claims.project_id
        return {
            "token": {
                "catalog": [],
                "expires_at": iam_time(claims.expires_at),
                "issued_at": iam_time(claims.issued_at),
                "methods": ["password"],
                "project": {
                    "domain": domain_ref,
                    "id": project_id,
                    "name": self.projects.get(project_id, project_id),
                },
                "roles": [{"id": "0", "name": "te_admin"}],
                "user": {
                    "domain": domain_ref,
                    "id": _stable_id(user["name"]),
                    "name": user["name"],
                },
            }
        }


def _utf8(text: str) -> bytes:
    """A password as bytes to compare. A JSON `\\ud800` decodes to a lone surrogate, which no
    configured password holds: kept as it is (surrogatepass), it simply does not match."""
    return text.encode("utf-8", "surrogatepass")


def _stable_id(name: str) -> str:
    """A 32-hex IAM id for a configured name, the same on every run."""
    return hashlib.md5(name.encode("utf-8", "surrogatepass")).hexdigest()

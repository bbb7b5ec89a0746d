"""Users, roles and tokens of Spectrum Discover's auth service (`GET /auth/v1/token`).

A token is handed out for HTTP Basic credentials and sent back as `Authorization: Bearer`.
Inside a cluster, Basic credentials plus `X-ALLOW-BASIC-AUTH-SD: true` are taken instead of a
token (IBM's application SDK, `ApplicationLib.obtain_token`). Tokens are opaque and random
(`secrets`), shaped like the Fernet tokens the real service hands out, and expire on the
emulator's clock, so a client's re-login path can be tested by moving a virtual clock.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ROLES = ("Data admin", "Data user", "Collection Admin", "Admin", "Service user")
# Who may read task_status and peek (the doc's role table); sql_query_async is taken to allow
# the same roles [inf].
TASK_ROLES = frozenset({"Data admin", "Data user", "Collection Admin"})
ALLOW_BASIC_HEADER = "X-ALLOW-BASIC-AUTH-SD"
# Expired tokens are swept out when this many are held, so the table cannot grow for ever.
SWEEP_AT = 1024


@dataclass(frozen=True, slots=True)
class User:
    username: str
    password: str
    roles: frozenset[str]


class AuthFailure(Exception):
    """A request the auth layer refuses: 401 (who are you) or 403 (not with your role)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def users_from_settings(settings: Mapping[str, Any]) -> dict[str, User]:
    users = {}
    for raw in settings["users"]:
        roles = raw["roles"] if "roles" in raw else [raw["role"]]
        users[raw["username"]] = User(raw["username"], raw["password"], frozenset(roles))
    return users


def fernet_like_token(now: float) -> str:
    """Random bytes laid out as a Fernet token (version 0x80, a big-endian timestamp, IV,
    ciphertext, HMAC) and base64url-encoded, so it starts `gAAAAAB` like the real ones."""
    raw = b"\x80" + int(now).to_bytes(8, "big") + secrets.token_bytes(16 + 64 + 32)
    return base64.urlsafe_b64encode(raw).decode()


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """(username, password) from an `Authorization: Basic …` value, or None."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64 (or not even ASCII, binascii.Error's parent), not UTF-8
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def bearer_token(authorization: str) -> str | None:
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


class Authenticator:
    """The users and the tokens handed out to them."""

    def __init__(self, users: Mapping[str, User], lifetime: float) -> None:
        self.users = dict(users)
        self.lifetime = lifetime
        self._tokens: dict[str, tuple[str, float]] = {}

    def clear(self) -> None:
        self._tokens.clear()

    def check_password(self, username: str, password: str) -> User | None:
        user = self.users.get(username)
        if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
            return None
        return user

    def issue(self, user: User, now: float) -> str:
        if len(self._tokens) >= SWEEP_AT:
            self._tokens = {t: held for t, held in self._tokens.items() if held[1] > now}
        token = fernet_like_token(now)
        self._tokens[token] = (user.username, now + self.lifetime)
        return token

    def login(self, headers: Mapping[str, str], now: float) -> str:
        """A new token for the Basic credentials in `headers`, or AuthFailure(401)."""
        credentials = basic_credentials(headers.get("Authorization", ""))
        if credentials is None:
            raise AuthFailure(401, "Authentication required: use HTTP Basic credentials")
        user = self.check_password(*credentials)
        if user is None:
            raise AuthFailure(401, "Invalid username or password")
        return self.issue(user, now)

    def authenticate(self, headers: Mapping[str, str], now: float) -> User:
        """The user a request is made by: a live Bearer token, or Basic credentials with
        `X-ALLOW-BASIC-AUTH-SD: true`. AuthFailure(401) otherwise."""
        authorization = headers.get("Authorization", "")
        token = bearer_token(authorization)
        if token is not None:
            held = self._tokens.get(token)
            if held is None:
                raise AuthFailure(401, "Invalid token")
            username, expires = held
            if expires <= now:
                del self._tokens[token]
                raise AuthFailure(401, "Token has expired")
            user = self.users.get(username)
            if user is None:
                raise AuthFailure(401, "Invalid token")
            return user
        credentials = basic_credentials(authorization)
        if credentials is not None and headers.get(ALLOW_BASIC_HEADER, "").strip().lower() == "true":
            user = self.check_password(*credentials)
            if user is None:
                raise AuthFailure(401, "Invalid username or password")
            return user
        raise AuthFailure(401, "Authorization required: send 'Authorization: Bearer <token>'")


def authorize(user: User, allowed: frozenset[str]) -> None:
    if not user.roles & allowed:
        raise AuthFailure(403, f"User {user.username} does not have a role that may use this endpoint")

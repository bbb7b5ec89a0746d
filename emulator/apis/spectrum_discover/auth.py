"""Users, roles and tokens of Spectrum Discover's auth service (`GET /auth/v1/token`).

A token is handed out for HTTP Basic credentials and sent back as `Authorization: Bearer`.
Inside a cluster, Basic credentials plus `X-ALLOW-BASIC-AUTH-SD: true` are taken instead of a
token (IBM's application SDK, `ApplicationLib.obtain_token`).

Tokens are laid out as the Fernet tokens the real service hands out (version byte, issue
time, IV, ciphertext, HMAC) and, like those, carry their own proof of origin: the HMAC is
made with a key this server drew at start. Their lifetime is judged on the wall clock, as the
real service judges it, never on the emulator clock: a jump of a virtual clock stands for
time in which the client kept its session, so it must not expire a token by itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import VendorError
from ..base import basic_credentials

# Who may read task_status and peek (the doc's role table); sql_query_async is taken to allow
# the same roles [inf].
TASK_ROLES = frozenset({"Data admin", "Data user", "Collection Admin"})
ALLOW_BASIC_HEADER = "X-ALLOW-BASIC-AUTH-SD"
# The most tokens a server keeps. Issuing one more retires the oldest, which then answers as
# an expired token does (the client logs in again). A client polls with the token it got
# last, so this many logins between two polls of one client never happen in a test run.
MAX_TOKENS = 10_000
EXPIRED = "Token has expired"
INVALID = "Invalid token"

# The Fernet layout: version 0x80, 8-byte big-endian issue time, 16-byte IV, ciphertext (64
# bytes here), then an HMAC-SHA256 of everything before it.
_VERSION = b"\x80"
_SIGNED = 1 + 8 + 16 + 64
_TOKEN_BYTES = _SIGNED + 32


@dataclass(frozen=True, slots=True)
class User:
    username: str
    password: str
    roles: frozenset[str]


class AuthFailure(VendorError):
    """A request the auth layer refuses: 401 (who are you) or 403 (not with your role)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.reason = reason


def users_from_settings(settings: Mapping[str, Any]) -> dict[str, User]:
    users = {}
    for raw in settings["users"]:
        roles = raw["roles"] if "roles" in raw else [raw["role"]]
        users[raw["username"]] = User(raw["username"], raw["password"], frozenset(roles))
    return users


def bearer_token(authorization: str) -> str | None:
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


class TokenStore:
    """The tokens a server handed out, oldest first, each with its user and expiry.

    Issuing and checking a token cost the same however many are held: a check is one lookup;
    an issue drops the expired tokens at the old end (each token is dropped once, so this is
    constant work per issue over time) and, at `limit`, the oldest live one. A token no longer
    held that this server made (its HMAC proves it) answers as expired: it was retired by age,
    by the limit or by `expire_all`, and the client's way on is the same, a new token.
    """

    def __init__(self, lifetime: float, limit: int = MAX_TOKENS) -> None:
        self.lifetime = lifetime
        self.limit = limit
        self._held: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._key = secrets.token_bytes(32)

    def __len__(self) -> int:
        return len(self._held)

    def issue(self, username: str, now: float) -> str:
        held = self._held
        # Oldest first, and every token lives as long: the expired ones are at the front.
        # (A wall clock set back only leaves some for later.)
        while held:
            oldest = next(iter(held))
            if held[oldest][1] > now:
                break
            del held[oldest]
        if len(held) >= self.limit:
            held.popitem(last=False)
        token = self._make(now)
        held[token] = (username, now + self.lifetime)
        return token

    def check(self, token: str, now: float) -> str:
        """The username `token` was issued to; AuthFailure(401) when it is expired or is
        not one of this server's."""
        found = self._held.get(token)
        if found is None:
            raise AuthFailure(401, EXPIRED if self._made_here(token) else INVALID)
        username, expires = found
        if expires <= now:
            del self._held[token]
            raise AuthFailure(401, EXPIRED)
        return username

    def expire_all(self) -> None:
        """Every token issued so far answers as expired from now on."""
        self._held.clear()

    def forget_all(self) -> None:
        """Every token issued so far is unknown from now on (a new key: not even recognised)."""
        self._held.clear()
        self._key = secrets.token_bytes(32)

    def _make(self, now: float) -> str:
        signed = _VERSION + int(now).to_bytes(8, "big") + secrets.token_bytes(16 + 64)
        mac = hmac.new(self._key, signed, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(signed + mac).decode()

    def _made_here(self, token: str) -> bool:
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
        except (ValueError, binascii.Error):  # not ASCII, or not base64
            return False
        if len(raw) != _TOKEN_BYTES or not raw.startswith(_VERSION):
            return False
        mac = hmac.new(self._key, raw[:_SIGNED], hashlib.sha256).digest()
        return hmac.compare_digest(mac, raw[_SIGNED:])


class Authenticator:
    """The users and the tokens handed out to them. Every `now` is wall-clock time."""

    def __init__(self, users: Mapping[str, User], lifetime: float) -> None:
        self.users = dict(users)
        self.tokens = TokenStore(lifetime)

    @property
    def lifetime(self) -> float:
        return self.tokens.lifetime

    def clear(self) -> None:
        self.tokens.forget_all()

    def check_password(self, username: str, password: str) -> User | None:
        user = self.users.get(username)
        if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
            return None
        return user

    def login(self, headers: Mapping[str, str], now: float) -> str:
        """A new token for the Basic credentials in `headers`, or AuthFailure(401)."""
        credentials = basic_credentials(headers.get("Authorization", ""))
        if credentials is None:
            raise AuthFailure(401, "Authentication required: use HTTP Basic credentials")
        user = self.check_password(*credentials)
        if user is None:
            raise AuthFailure(401, "Invalid username or password")
        return self.tokens.issue(user.username, now)

    def authenticate(self, headers: Mapping[str, str], now: float) -> User:
        """The user a request is made by: a live Bearer token, or Basic credentials with
        `X-ALLOW-BASIC-AUTH-SD: true`. AuthFailure(401) otherwise."""
        authorization = headers.get("Authorization", "")
        token = bearer_token(authorization)
        if token is not None:
            user = self.users.get(self.tokens.check(token, now))
            if user is None:
                raise AuthFailure(401, INVALID)
            return user
        credentials = basic_credentials(authorization)
        allowed = headers.get(ALLOW_BASIC_HEADER, "").strip().lower() == "true"
        if credentials is not None and allowed:
            user = self.check_password(*credentials)
            if user is None:
                raise AuthFailure(401, "Invalid username or password")
            return user
        raise AuthFailure(401, "Authorization required: send 'Authorization: Bearer <token>'")


def authorize(user: User, allowed: frozenset[str]) -> None:
    if not user.roles & allowed:
        reason = f"User {user.username} does not have a role that may use this endpoint"
        raise AuthFailure(403, reason)

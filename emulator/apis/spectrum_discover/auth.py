"""Users, roles and tokens of Spectrum Discover's auth service (`GET /auth/v1/token`).

A token is handed out for HTTP Basic credentials and sent back as `Authorization: Bearer`.
Inside a cluster, Basic credentials plus `X-ALLOW-BASIC-AUTH-SD: true` are taken instead of a
token (IBM's application SDK, `ApplicationLib.obtain_token`).

Tokens are laid out as the Fernet tokens the real service hands out (version byte, issue
time, IV, ciphertext, HMAC) and, like those, carry what they grant and their own proof of
origin, so the server keeps no table of them: nothing grows with the logins, and every
replica checks a token any of them issued. The HMAC is made with the API's keyring (the same
on every replica; emulator/keyring.py); the body says who the token is for, when exactly it
was issued and the keyring's generation, so expiring every credential on purpose is a new
generation. Lifetimes are judged on the wall clock, as the real service judges them, never
on the emulator clock: a jump of a virtual clock stands for time in which the client kept its
session, so it must not expire a token by itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import VendorError
from ...keyring import Keyring
from ..base import basic_credentials, remember

# Who may read task_status and peek (the doc's role table); sql_query_async is taken to allow
# the same roles [inf].
TASK_ROLES = frozenset({"Data admin", "Data user", "Collection Admin"})
ALLOW_BASIC_HEADER = "X-ALLOW-BASIC-AUTH-SD"
EXPIRED = "Token has expired"
INVALID = "Invalid token"

# The Fernet layout: version 0x80, 8-byte big-endian issue time, 16-byte IV, a body of 64
# bytes, then an HMAC-SHA256 of everything before it. The body (in the clear: it holds
# nothing secret) is the keyring's generation, the exact issue time, a digest of the
# username and random bytes.
_VERSION = b"\x80"
_BODY = struct.Struct(">Qd16s32s")
_SIGNED = 1 + 8 + 16 + _BODY.size
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


class Tokens:
    """Makes and checks tokens: the same work however many were issued, and nothing kept."""

    def __init__(self, keyring: Keyring, lifetime: float, usernames: list[str]) -> None:
        self.keyring = keyring
        self.lifetime = lifetime
        self._names = {_digest(name): name for name in usernames}
        # A client sends the same token poll after poll, and opening one costs an HMAC: what
        # a token was found to say is remembered while the keyring stands still (the
        # generation and expiry are still checked every time).
        self._opened: dict[str, tuple[int, int, float, str]] = {}

    def issue(self, username: str, now: float) -> str:
        body = _BODY.pack(self.keyring.generation, now, _digest(username), secrets.token_bytes(32))
        signed = _VERSION + int(now).to_bytes(8, "big") + secrets.token_bytes(16) + body
        return base64.urlsafe_b64encode(signed + self._mac(signed)).decode()

    def check(self, token: str, now: float) -> str:
        """The username `token` was issued to; AuthFailure(401) when it is expired (by age,
        or expired on purpose since) or is not one of this server's."""
        keyring = self.keyring
        opened = self._opened.get(token)
        if opened is None or opened[0] != keyring.version:
            opened = self._open(token)
        _, generation, issued_at, username = opened
        if generation < keyring.state.generation or issued_at + self.lifetime <= now:
            raise AuthFailure(401, EXPIRED)
        return username

    def _open(self, token: str) -> tuple[int, int, float, str]:
        """(the keyring's version, the token's generation, its issue time, its user),
        remembered; AuthFailure(401) for a token that is not this server's."""
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
        except (ValueError, binascii.Error):  # not ASCII, or not base64
            raise AuthFailure(401, INVALID) from None
        if (
            len(raw) != _TOKEN_BYTES
            or not raw.startswith(_VERSION)
            or not hmac.compare_digest(self._mac(raw[:_SIGNED]), raw[_SIGNED:])
        ):
            raise AuthFailure(401, INVALID)
        generation, issued_at, digest, _ = _BODY.unpack_from(raw, 1 + 8 + 16)
        username = self._names.get(digest)
        if username is None:  # a user of another replica's settings
            raise AuthFailure(401, INVALID)
        opened = (self.keyring.version, generation, issued_at, username)
        remember(self._opened, token, opened)
        return opened

    def _mac(self, signed: bytes) -> bytes:
        return hmac.new(self.keyring.lasting_key, signed, hashlib.sha256).digest()


def _digest(username: str) -> bytes:
    return hashlib.sha256(username.encode("utf-8", "surrogateescape")).digest()[:16]


class Authenticator:
    """The users and the tokens handed out to them. Every `now` is wall-clock time."""

    def __init__(self, users: Mapping[str, User], lifetime: float, keyring: Keyring) -> None:
        self.users = dict(users)
        self.tokens = Tokens(keyring, lifetime, list(self.users))

    @property
    def lifetime(self) -> float:
        return self.tokens.lifetime

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

"""Traffic Ops sessions: the `mojolicious` cookie (`tocookie/cookie.go`) and the `access_token`
JWT that carries one (`login/login.go`), found and checked as `api.GetUserFromReq` does, on
the wall clock.

A login hands out a cookie of six hours (login.go defaultCookieDuration) and, with a password,
an access token carrying it. Every authenticated call then sets a new `mojolicious` cookie of
one hour from now (tocookie.DefaultDuration); a call authenticated by an access token also
gets that token back, re-signed unchanged (it still carries the cookie it came with, so its
session still ends when that cookie does), with the new cookie's Expires and Max-Age.

Cookies are signed with the key of the API's keyring (emulator/keyring.py: the same on every
replica). Expiring every credential on purpose moves the ring to a new generation and the
keys of the old ones are still tried (a bounded number): a cookie signed with an old one is
answered as expired, one signed with none as a bad signature, as Traffic Ops would.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web

from ...errors import VendorError
from ...keyring import Keyring
from ..base import remember
from .wire import encode_go_json, read_cookies, set_cookie

LOGIN_SECONDS = 6 * 3600  # login.go defaultCookieDuration
REFRESH_SECONDS = 3600  # tocookie.DefaultDuration
OLD_SECRETS = 64  # generations tried after expire_credentials; older cookies become bad signatures

LOG_IN = "unauthorized, please log in."
EXPIRED = "signature expired - unauthorized, please log in"
SESSION_NAMES = frozenset({"mojolicious", "access_token"})
# What an expired secret's cookies are taken to expire at: before any time there is.
_LONG_AGO = -(1 << 62)


class AuthFailure(VendorError):
    """A request refused with `status` and the alert `text` Traffic Ops gives."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(status, text)
        self.text = text


@dataclass(frozen=True, slots=True)
class Credential:
    """What a request authenticates with: a session cookie, and the access token it came in
    (None when the cookie was sent as itself)."""

    cookie: str
    token: str | None


class Sessions:
    """Issues and checks one server's session cookies and access tokens."""

    def __init__(
        self, keyring: Keyring, wall_time: Callable[[], float], login_seconds: int, refresh_seconds: int
    ) -> None:
        self.keyring = keyring
        self.wall_time = wall_time
        self.login_seconds = login_seconds
        self.refresh_seconds = refresh_seconds
        # Signing and checking cost more than the rest of a poll, and a client sends the same
        # Cookie header poll after poll: what was found, checked or signed is remembered
        # (signatures are deterministic; expiry is still checked every time).
        self._found: dict[str, tuple[str, str] | None] = {}
        self._tokens: dict[str, str] = {}
        self._cookies: dict[str, tuple[str, int]] = {}
        self._signed: dict[tuple[Any, ...], Any] = {}

        self._version = keyring.version

    def _keys_checked(self) -> None:
        """What was checked or signed with the keys of before is dropped once the keyring
        moved on (credentials expired or forgotten, on this replica or another)."""
        if self._version != self.keyring.version:
            self._version = self.keyring.version
            self._tokens.clear()
            self._cookies.clear()
            self._signed.clear()

    # ---- checking ------------------------------------------------------------------------

    def credential(self, request: web.Request) -> Credential:
        """The credential GetUserFromReq takes: a Bearer token when the Authorization header
        names one, else the first `mojolicious` or `access_token` cookie of the Cookie header."""
        self._keys_checked()
        authorization = request.headers.get("Authorization")
        if authorization and "Bearer" in authorization:
            parts = authorization.split(" ")
            token = parts[1] if len(parts) > 1 else authorization
            return Credential(self._cookie_in(token), token)
        found = self._first_session_cookie(request)
        if found is None:
            raise AuthFailure(401, LOG_IN)
        name, value = found
        if name == "access_token":
            return Credential(self._cookie_in(value), value)
        return Credential(value, None)

    def _first_session_cookie(self, request: web.Request) -> tuple[str, str] | None:
        lines = request.headers.getall("Cookie", ())
        if not lines:
            return None
        key = lines[0] if len(lines) == 1 else "\n".join(lines)
        if key in self._found:
            return self._found[key]
        cookies = read_cookies(lines, SESSION_NAMES)
        found = cookies[0] if cookies else None
        remember(self._found, key, found)
        return found

    def _cookie_in(self, token: str) -> str:
        """The session cookie an access token carries (getCookieFromAccessToken). Its `exp`
        is not checked (jwx v1's Parse does not validate), only the cookie inside it."""
        known = self._tokens.get(token)
        if known is not None:
            return known
        for _, secret in self.keyring.recent(OLD_SECRETS):
            try:
                claims = jwt.decode(
                    token,
                    secret,
                    algorithms=["HS256"],
                    options={
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                        "verify_aud": False,
                    },
                )
            except jwt.InvalidSignatureError:
                continue
            except (
                jwt.PyJWTError,
                UnicodeError,
            ):  # header bytes that are not UTF-8 arrive as surrogates
                break
            cookie = claims.get("mojoCookie")
            if not isinstance(cookie, str):
                break
            remember(self._tokens, token, cookie)
            return cookie
        raise AuthFailure(401, LOG_IN)

    def username(self, cookie: str) -> str | None:
        """tocookie.Parse: the user a session cookie names, checking its signature and expiry
        on the wall clock. None for an empty cookie: Parse finds no cookie and no error, and
        the server goes on with a user that has no privileges."""
        if not cookie:
            return None
        known = self._cookies.get(cookie)
        username, expires = known if known is not None else self._parse(cookie)
        if expires - int(self.wall_time()) < 0:
            raise AuthFailure(401, EXPIRED)
        return username

    def _parse(self, cookie: str) -> tuple[str, int]:
        dash, last_dash = cookie.find("-"), cookie.rfind("-")
        if dash < 0:
            raise AuthFailure(401, f"error parsing cookie: malformed cookie '{cookie}' - no dashes")
        # Go's own order: the data and the signature are decoded before the signature is
        # checked. Its failures there are system errors: the client reads "Unauthorized".
        payload = _raw_url_b64decode(cookie[:dash])
        signature = _hex(cookie[last_dash + 1 :])
        if payload is None or signature is None or last_dash == 0:  # Go panics at last_dash 0
            raise AuthFailure(401, "Unauthorized")
        signed = cookie[: last_dash - 1].encode("utf-8", "surrogateescape")
        generation = next(
            (g for g, key in self.keyring.recent(OLD_SECRETS) if _signs(key, signed, signature)), None
        )
        if generation is None:
            raise AuthFailure(401, "bad signature - unauthorized, please log in")
        try:
            data = json.loads(payload)
            username, expires = data["auth_data"], data["expires"]
        except (ValueError, KeyError, TypeError):
            raise AuthFailure(401, "Unauthorized") from None
        if (
            not isinstance(username, str)
            or not isinstance(expires, int)
            or isinstance(expires, bool)
        ):
            raise AuthFailure(401, "Unauthorized")
        parsed = (username, expires if generation == self.keyring.generation else _LONG_AGO)
        remember(self._cookies, cookie, parsed)
        return parsed

    # ---- issuing -------------------------------------------------------------------------

    def login_headers(self, username: str, with_access_token: bool) -> tuple[str, ...]:
        """The Set-Cookie values of a login: the cookie and, after a password, the token."""
        self._keys_checked()
        seconds = self.login_seconds
        expires = int(self.wall_time()) + seconds
        key = ("login", username, expires, with_access_token)
        known = self._signed.get(key)
        if known is not None:
            return known  # type: ignore[no-any-return]
        cookie = self._make_cookie(username, expires)
        headers = [set_cookie("mojolicious", cookie, expires, seconds)]
        if with_access_token:
            token = jwt.encode(
                {"exp": expires, "mojoCookie": cookie}, self.keyring.key(), algorithm="HS256"
            )
            headers.append(set_cookie("access_token", token, expires, seconds))
        remember(self._signed, key, tuple(headers))
        return tuple(headers)

    def refresh_headers(self, username: str, credential: Credential) -> tuple[str, ...]:
        """The Set-Cookie values of an authenticated call: a new cookie for an hour and, when
        the call came with an access token, that token again (re-signing it unchanged gives
        the same bytes) with the new cookie's lifetime."""
        seconds = self.refresh_seconds
        expires = int(self.wall_time()) + seconds
        key = ("refresh", username, expires, credential.token)
        known = self._signed.get(key)
        if known is not None:
            return known  # type: ignore[no-any-return]
        headers = [
            set_cookie("mojolicious", self._make_cookie(username, expires), expires, seconds)
        ]
        if credential.token is not None:
            headers.append(set_cookie("access_token", credential.token, expires, seconds))
        remember(self._signed, key, tuple(headers))
        return tuple(headers)

    def _make_cookie(self, username: str, expires: int) -> str:
        """tocookie.GetCookie: base64url(JSON) + "--" + hex(HMAC-SHA1(key, base64 part))."""
        payload = {"auth_data": username, "expires": expires, "by": "trafficcontrol-go-tocookie"}
        # Go's JSON: a name that is not ASCII can put a "-" in the base64, where Parse then
        # cuts the data short (the real server refuses such a cookie, and so does this one).
        text = base64.urlsafe_b64encode(encode_go_json(payload)[:-1]).decode().rstrip("=")
        return f"{text}--{hmac.new(self.keyring.key(), text.encode(), hashlib.sha1).hexdigest()}"


def _signs(secret: bytes, signed: bytes, signature: bytes) -> bool:
    return hmac.compare_digest(hmac.new(secret, signed, hashlib.sha1).digest(), signature)


def _raw_url_b64decode(text: str) -> bytes | None:
    """base64.RawURLEncoding.DecodeString: no padding, CR and LF skipped, None on error."""
    text = text.replace("\r", "").replace("\n", "")
    if not text.isascii() or "=" in text or "+" in text or "/" in text:
        return None
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        return None


def _hex(text: str) -> bytes | None:
    """hex.DecodeString, None on error."""
    try:
        return binascii.unhexlify(text.encode("ascii"))
    except (UnicodeEncodeError, binascii.Error):
        return None

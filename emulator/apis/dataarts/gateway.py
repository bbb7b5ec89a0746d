"""What Huawei Cloud's API gateway does before a request reaches DataArts: it authenticates
the caller (an AK/SK signature or an IAM token), checks the project, and answers failures in
its own shape: `{"error_msg", "error_code": "APIGW.03xx", "request_id"}` plus an
`X-Request-Id` header (the SDK reads the request id from the header only).

Messages: API-NOTES.md section 3 and the gateway's documented error codes; where the gateway's
wording for a case is not documented, ours is marked [inf].
"""

from __future__ import annotations

import hmac
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import signing

# The gateway rejects a signature whose X-Sdk-Date is more than 15 minutes off (API signing
# guide); configurable because a virtual clock may sit far from the client's real clock.
DEFAULT_MAX_SKEW_SECONDS = 15 * 60
TOKEN_LIFETIME_SECONDS = 24 * 3600  # IAM: "The validity period of a token is 24 hours."
# Issued tokens kept at most; the oldest go first (a long test run issuing tokens per call
# must not grow without bound).
MAX_ISSUED_TOKENS = 10_000

IAM_AUTH = "Incorrect IAM authentication information"


class GatewayError(Exception):
    """A request the gateway refuses, with its status, APIGW code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def missing_credentials() -> GatewayError:
    return GatewayError(401, "APIGW.0301", f"{IAM_AUTH}: x-auth-token not found")


def not_authorized() -> GatewayError:
    return GatewayError(403, "APIGW.0302", "The IAM user is not authorized to access the API.")


# Request ids need to be unique, not secret: a generator of its own instead of one
# os.urandom system call per request.
_REQUEST_IDS = random.Random()


def new_request_id() -> str:
    """32 hex characters, like the gateway's. Not from the seeded source: a request id must
    not shift the ids later tasks draw."""
    return f"{_REQUEST_IDS.getrandbits(128):032x}"


def gateway_error_body(error: GatewayError, request_id: str) -> dict[str, str]:
    return {"error_msg": error.message, "error_code": error.code, "request_id": request_id}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request was authenticated as, and the projects it may act in."""

    kind: str  # "aksk" or "token"
    name: str
    projects: frozenset[str]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    project_id: str
    user: str
    expires_at: float


class Gateway:
    """Credentials from the API's settings, and the tokens POST /v3/auth/tokens issued."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.keys: dict[str, tuple[str, frozenset[str]]] = {
            key["ak"]: (key["sk"], frozenset(key["projects"])) for key in settings["access_keys"]
        }
        self.tokens: dict[str, str] = {t["token"]: t["project_id"] for t in settings["tokens"]}
        # Who each configured token is, made once: a token is checked on every poll.
        self._token_callers = {
            token: Caller("token", "configured token", frozenset({project_id}))
            for token, project_id in self.tokens.items()
        }
        self.max_skew: float = float(settings.get("max_clock_skew_seconds", DEFAULT_MAX_SKEW_SECONDS))
        self.issued: dict[str, IssuedToken] = {}

    def reset(self) -> None:
        self.issued.clear()

    def issue(self, project_id: str, user: str, now: float) -> tuple[str, IssuedToken]:
        # Expired tokens can never be used again: drop them before adding one.
        for token in [t for t, issued in self.issued.items() if issued.expires_at <= now]:
            del self.issued[token]
        while len(self.issued) >= MAX_ISSUED_TOKENS:
            del self.issued[next(iter(self.issued))]
        token = "MII" + secrets.token_urlsafe(48)
        issued = IssuedToken(project_id, user, now + TOKEN_LIFETIME_SECONDS)
        self.issued[token] = issued
        return token, issued

    def authenticate(
        self,
        *,
        method: str,
        raw_target: str,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
    ) -> Caller:
        """The caller of a request, or GatewayError. `headers` are looked up by lower-case
        name: a case-insensitive mapping (the request's own) or one keyed by lower-case names.

        A request signed with AK/SK is checked as such even when it also carries a token
        [inf: the SDK never sends both]."""
        authorization = headers.get("authorization", "")
        if authorization.startswith("SDK-"):
            return self._check_signature(method, raw_target, headers, body, now, authorization)
        token = headers.get("x-auth-token", "")
        if token:
            return self._check_token(token, now)
        raise missing_credentials()

    def _check_token(self, token: str, now: float) -> Caller:
        # A dictionary look-up, not a constant-time comparison: the emulator's tokens are
        # test credentials, printed at start-up, with nothing to hide from a timing attack.
        configured = self._token_callers.get(token)
        if configured is not None:
            return configured
        issued = self.issued.get(token)
        if issued is None:
            raise GatewayError(401, "APIGW.0301", f"{IAM_AUTH}: decrypt token fail")
        if issued.expires_at <= now:
            # [inf] the gateway's wording for an expired token is not documented.
            raise GatewayError(401, "APIGW.0301", f"{IAM_AUTH}: token expired")
        return Caller("token", issued.user, frozenset({issued.project_id}))

    def _check_signature(
        self,
        method: str,
        raw_target: str,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
        authorization: str,
    ) -> Caller:
        parsed = signing.parse_authorization(authorization)
        if parsed is None:
            # [inf] wording
            raise GatewayError(
                401, "APIGW.0301", f"{IAM_AUTH}: verify aksk signature fail, invalid Authorization header"
            )
        if parsed.algorithm != signing.ALGORITHM:
            # [inf] the real gateway also takes SDK-HMAC-SM3; the emulator checks only SHA-256.
            raise GatewayError(
                401, "APIGW.0301", f"{IAM_AUTH}: verify aksk signature fail, unsupported algorithm {parsed.algorithm}"
            )
        key = self.keys.get(parsed.access_key)
        if key is None:
            # As the gateway answers today (the signing guide's older text: "Get secretKey failed").
            raise GatewayError(401, "APIGW.0301", f"{IAM_AUTH}: ak {parsed.access_key} not exist")
        secret_key, projects = key
        if "x-sdk-date" not in parsed.signed_headers or "host" not in parsed.signed_headers:
            # [inf] the gateway's samples always sign at least host and x-sdk-date.
            raise GatewayError(
                401, "APIGW.0301",
                f"{IAM_AUTH}: verify aksk signature fail, SignedHeaders must include host and x-sdk-date",
            )
        sdk_date = headers.get("x-sdk-date", "")
        signed_at = signing.parse_sdk_date(sdk_date)
        if signed_at is None:
            raise GatewayError(
                401, "APIGW.0301",
                f"{IAM_AUTH}: verify aksk signature fail, x-sdk-date {sdk_date!r} is not in the format "
                "YYYYMMDDTHHMMSSZ",
            )
        if abs(now - signed_at) > self.max_skew:
            # [inf] worded like the gateway's app-auth message for the same case.
            raise GatewayError(
                401, "APIGW.0301",
                f"{IAM_AUTH}: signature expired, signature time:{sdk_date.strip()},"
                f"server time:{signing.format_sdk_date(now)}",
            )
        request_text = signing.canonical_request(method, raw_target, headers, parsed.signed_headers, body)
        expected = signing.signature(secret_key, signing.string_to_sign(sdk_date.strip(), request_text))
        if not hmac.compare_digest(expected, parsed.signature):
            # The gateway quotes the canonical request it computed, newlines as '|', which
            # is what a client needs to find its mistake.
            raise GatewayError(
                401, "APIGW.0301",
                f"{IAM_AUTH}: verify aksk signature fail,canonicalRequest:{request_text.replace(chr(10), '|')}",
            )
        return Caller("aksk", parsed.access_key, projects)

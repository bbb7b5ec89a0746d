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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import VendorError
from ...keyring import Keyring
from . import signing
from .tokens import TokenClaims, TokenSeal, iam_time

# The gateway rejects a signature whose X-Sdk-Date is more than 15 minutes from the time it
# received the request (API signing guide); a setting, as are the other figures here.
DEFAULT_MAX_SKEW_SECONDS = 15 * 60
DEFAULT_TOKEN_LIFETIME_SECONDS = 24 * 3600  # IAM: "The validity period of a token is 24 hours."
# "AK/SK authentication fails for more than five consecutive times, and the AK/SK pair is
# locked for five minutes" (APIG FAQ, "Common Errors Related to IAM Authentication").
DEFAULT_LOCK_AFTER_FAILURES = 5
DEFAULT_LOCK_SECONDS = 5 * 60

IAM_AUTH = "Incorrect IAM authentication information"


class GatewayError(VendorError):
    """A request the gateway refuses, with its status, APIGW code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.code = code


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


class Gateway:
    """Credentials from the API's settings, the tokens POST /v3/auth/tokens issued, and the
    AK/SK pairs locked after failed signatures. Every `now` is the wall time the request
    arrived: the real gateway judges signatures and tokens by its own clock, never by the
    emulator's (a virtual clock's jump stands for time in which a client kept its session)."""

    def __init__(self, settings: Mapping[str, Any], keyring: Keyring) -> None:
        self.keys: dict[str, tuple[str, frozenset[str]]] = {
            key["ak"]: (key["sk"], frozenset(key["projects"])) for key in settings["access_keys"]
        }
        self.tokens: dict[str, str] = {t["token"]: t["project_id"] for t in settings["tokens"]}
        # Who each configured token is, made once: a token is checked on every poll.
        self._token_callers = {
            token: Caller("token", "configured token", frozenset({project_id}))
            for token, project_id in self.tokens.items()
        }
        get = settings.get
        self.max_skew = float(get("max_clock_skew_seconds", DEFAULT_MAX_SKEW_SECONDS))
        self.token_lifetime = float(get("token_lifetime_seconds", DEFAULT_TOKEN_LIFETIME_SECONDS))
        self.lock_after = int(get("ak_lock_after_failures", DEFAULT_LOCK_AFTER_FAILURES))
        self.lock_seconds = float(get("ak_lock_seconds", DEFAULT_LOCK_SECONDS))
        self.seal = TokenSeal(keyring)
        # Per configured AK (so bounded by the settings): failed signatures in a row, and
        # the wall time its lock ends.
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}

    def reset(self) -> None:
        """No AK is locked (tokens issued so far no longer open: the keyring forgot them)."""
        self._failures.clear()
        self._locked_until.clear()

    def issue(self, project_id: str, user: str, now: float) -> tuple[str, TokenClaims]:
        return self.seal.issue(project_id, user, now, self.token_lifetime)

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
        claims = self.seal.open(token)
        if claims is None:
            raise GatewayError(401, "APIGW.0301", f"{IAM_AUTH}: decrypt token fail")
        expires_at = self.seal.expires_at(claims)
        if expires_at <= now:
            # The documented text (APIG.0301 FAQs); the time is written as the token body
            # writes it [inf].
            raise GatewayError(
                401, "APIGW.0301", f"{IAM_AUTH}: token expires, expires_at: {iam_time(expires_at)}"
            )
        return Caller("token", claims.user, frozenset({claims.project_id}))

    def _locked(self, access_key: str, now: float) -> bool:
        until = self._locked_until.get(access_key)
        if until is None:
            return False
        if now < until:
            return True
        del self._locked_until[access_key]
        return False

    def _failed(self, access_key: str, now: float) -> None:
        """One more failed signature in a row for a configured AK; the last one allowed locks it."""
        if self.lock_after <= 0:
            return
        failures = self._failures.get(access_key, 0) + 1
        if failures >= self.lock_after:
            self._failures.pop(access_key, None)
            self._locked_until[access_key] = now + self.lock_seconds
        else:
            self._failures[access_key] = failures

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
        access_key = parsed.access_key
        key = self.keys.get(access_key)
        if key is None:
            # The signing guide's text, which masks the AK as it masks the request id; the
            # gateway names the AK it was sent [inf], which is what a caller needs to see.
            detail = f"Get secretKey failed,ak:{printable(access_key)},err:ak not exist"
            raise GatewayError(401, "APIGW.0301", f"{IAM_AUTH}: {detail}")
        if self._locked(access_key, now):
            # Rejected whatever the signature, until the lock ends (same FAQ).
            raise GatewayError(
                401, "APIGW.0301", f"{IAM_AUTH}: AK access failed to reach the limit,forbidden."
            )
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
            # Only a signature the secret key does not make counts towards the lock: the
            # FAQ's cause is "The AK and SK do not match".
            self._failed(access_key, now)
            # The gateway quotes the canonical request it computed, newlines as '|', which
            # is what a client needs to find its mistake.
            raise GatewayError(
                401, "APIGW.0301",
                f"{IAM_AUTH}: verify aksk signature fail,canonicalRequest:"
                f"{printable(request_text.replace(chr(10), '|'))}",
            )
        if self._failures:
            self._failures.pop(access_key, None)  # "consecutive" failures: a success ends the run
        return Caller("aksk", access_key, projects)


def printable(text: str) -> str:
    """`text` as an error message can carry it: a header byte that is not UTF-8 (handed over
    as a lone surrogate) is written U+FFFD, as a JSON encoder of raw bytes would."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return text

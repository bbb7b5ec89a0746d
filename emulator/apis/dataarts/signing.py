"""AK/SK request signing as Huawei Cloud SDKs do it (`SDK-HMAC-SHA256`), checked server-side.

The SDK (huaweicloudsdkcore's `Signer`) signs a canonical request built from the method, the
path, the sorted query, the headers it names in SignedHeaders and the body's SHA-256. It
uses the secret key itself as the HMAC key (no key derivation). Everything here is pure:
the gateway module feeds it a request's parts and a secret key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_HASH = hashlib.sha256(b"").hexdigest()
# The SDK writes `<algorithm> Access=<ak>, SignedHeaders=<a;b>, Signature=<hex>`.
_AUTHORIZATION = re.compile(
    r"^(?P<algorithm>SDK-[A-Z0-9-]+) Access=(?P<ak>[^,\s]+), SignedHeaders=(?P<signed>[^,\s]+), "
    r"Signature=(?P<signature>[0-9a-fA-F]+)$"
)


@dataclass(frozen=True, slots=True)
class Authorization:
    algorithm: str
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Authorization | None:
    """The parts of an `Authorization: SDK-…` header, or None when it is not of that form."""
    match = _AUTHORIZATION.match(value.strip())
    if match is None:
        return None
    return Authorization(
        match["algorithm"],
        match["ak"],
        tuple(match["signed"].split(";")),
        match["signature"].lower(),
    )


def canonical_uri(raw_path: str) -> str:
    """The path as the signer writes it: decoded, each segment re-encoded (only `~` kept), and
    always ending in `/`. A `%2F` inside a segment is therefore signed as a `/`."""
    path = "/".join(quote(segment, safe="~") for segment in unquote(raw_path).split("/"))
    return path if path.endswith("/") else path + "/"


def canonical_query(raw_query: str) -> str:
    pairs = sorted(parse_qsl(raw_query, keep_blank_values=True))
    return "&".join(f"{quote(key, safe='~')}={quote(value, safe='~')}" for key, value in pairs)


def payload_hash(body: bytes, headers: Mapping[str, str]) -> str:
    """Empty body: the hash of nothing. Otherwise X-Sdk-Content-Sha256 when the client sent
    one (`UNSIGNED-PAYLOAD` for non-JSON bodies), else the body's SHA-256."""
    if not body:
        return EMPTY_HASH
    return headers.get("x-sdk-content-sha256") or hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    raw_target: str,
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    body: bytes,
) -> str:
    """The text the signature covers. `headers` are keyed by lower-case name; `raw_target`
    is the request target as sent (path and query, still percent-encoded)."""
    path, _, query = raw_target.partition("?")
    header_lines = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            header_lines,
            ";".join(signed_headers),
            payload_hash(body, headers),
        ]
    )


def string_to_sign(sdk_date: str, request_text: str) -> str:
    digest = hashlib.sha256(as_sent(request_text)).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def as_sent(text: str) -> bytes:
    """The bytes of `text` as the client sent them. A header byte that is not UTF-8 reaches
    the server as a lone surrogate (`surrogateescape`): it is hashed as the byte it was, so
    a client that signed other bytes gets the gateway's signature mismatch, not a crash."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no decoder made: not bytes anyone sent
        return text.encode("utf-8", "surrogatepass")


def signature(secret_key: str, text: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_sdk_date(value: str) -> float | None:
    """Epoch seconds of an `X-Sdk-Date` (`20260102T030405Z`), or None when malformed."""
    try:
        moment = datetime.strptime(value.strip(), DATE_FORMAT)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC).timestamp()


def format_sdk_date(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime(DATE_FORMAT)


def sign_headers(
    method: str,
    raw_target: str,
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
    now: float,
) -> dict[str, str]:
    """`headers` plus X-Sdk-Date and the Authorization the SDK would send: every header given
    (names without `_`) is signed, as the SDK signs every header it has set. `headers` must
    hold the Host header as it will be sent."""
    signed: dict[str, str] = {**headers, "X-Sdk-Date": format_sdk_date(now)}
    lower = {name.lower(): value for name, value in signed.items()}
    names = tuple(sorted(name for name in lower if "_" not in name))
    text = string_to_sign(lower["x-sdk-date"], canonical_request(method, raw_target, lower, names, body))
    signed["Authorization"] = (
        f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature(secret_key, text)}"
    )
    return signed

"""Traffic Ops' bytes on the wire: JSON as Go's encoding/json writes it, the headers and gzip
of its middleware (`routing/middleware/wrappers.go` WrapHeaders), cookies as net/http writes
them."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import struct
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

SERVER_NAME = "traffic_ops_golang/8.0.2"

# What WrapHeaders sets on every routed response, with Whole-Content-Sha512 (the digest of
# the uncompressed body) added per response. The catch-all 404 and the 501 of an unknown
# version are not routed: they get none of these.
ROUTE_HEADERS = {
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Allow-Headers": (
        "Origin, X-Requested-With, Content-Type, Accept, Set-Cookie, Cookie"
    ),
    "Access-Control-Allow-Methods": "POST,GET,OPTIONS,PUT,DELETE",
    "Access-Control-Allow-Origin": "*",
    "Vary": "Accept-Encoding",
    "X-Server-Name": SERVER_NAME,
    "Permissions-Policy": "interest-cohort=()",
}

# middleware.NotImplementedHandler: a fixed body, no trailing newline.
UNKNOWN_VERSION_BODY = (
    b'{"alerts":[{"level":"error","text":"The requested api version is not implemented by this '
    b"server. If you are using a newer client with an older server, you will need to use an "
    b'older client version or upgrade your server."}]}'
)

# compress/gzip's header: no name, no modification time, no extra flags at the default
# level, and OS byte 255 ("unknown"), where Python's gzip module writes 3 ("Unix").
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_GO_DEFAULT_COMPRESSION = 6  # compress/flate.DefaultCompression


def encode_go_json(value: Any) -> bytes:
    """Bytes as Go's json.Marshal writes them, plus the newline api.WriteResp appends:
    compact, keys in the given order, and HTML-escaped (Go escapes <, > and &). Bytes that
    were not UTF-8 (a request's, echoed back as lone surrogates) become U+FFFD, as in Go."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        text = (
            text.replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
            .replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029")
        )
    return (text + "\n").encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode()


def rfc3339nano(seconds: float) -> str:
    """A time as Go encodes a Postgres timestamptz: microseconds, trailing zeros trimmed."""
    moment = datetime.fromtimestamp(round(seconds, 6), tz=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def alerts(text: str, level: str = "error") -> dict[str, Any]:
    """tc.Alerts with one alert (Go writes `text` before `level`)."""
    return {"alerts": [{"text": text, "level": level}]}


@functools.lru_cache(maxsize=1024)
def _sha512(body: bytes) -> str:
    """Whole-Content-Sha512: polls of an unchanged task send the same body again."""
    return base64.b64encode(hashlib.sha512(body).digest()).decode()


def accepts_gzip(values: Sequence[str]) -> bool:
    """rfc.AcceptsGzip: some comma-separated item of some Accept-Encoding header is exactly
    `gzip` once all whitespace is gone, in any case. `gzip;q=1` is not (nor is `x-gzip`)."""
    return any(
        item.lower() == "gzip" for value in values for item in "".join(value.split()).split(",")
    )


@functools.lru_cache(maxsize=256)
def gzipped(body: bytes) -> bytes:
    """`body` as GzipIfAccepts compresses it (the deflate stream differs from Go's bit for
    bit, as any two compressors' do; what it decompresses to does not). Kept per body: polls
    of an unchanged task compress the same bytes again."""
    compressor = zlib.compressobj(_GO_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = compressor.compress(body) + compressor.flush()
    return _GZIP_HEADER + deflated + struct.pack("<II", zlib.crc32(body), len(body) & 0xFFFFFFFF)


@functools.lru_cache(maxsize=64)
def _http_date(seconds: int) -> str:
    return format_datetime(datetime.fromtimestamp(seconds, tz=UTC), usegmt=True)


def set_cookie(name: str, value: str, expires: int, max_age: int) -> str:
    """A Set-Cookie value as Go's http.Cookie.String writes the cookies Traffic Ops makes."""
    return f"{name}={value}; Path=/; Expires={_http_date(expires)}; Max-Age={max_age}; HttpOnly"


# net/http's token characters (isCookieNameValid) and cookie-value bytes (validCookieValueByte).
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_VALUE_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - frozenset('";\\')
_ASCII_SPACE = " \t\r\n"  # textproto.TrimString


def read_cookies(lines: Sequence[str], names: frozenset[str]) -> list[tuple[str, str]]:
    """The cookies called one of `names` in the request's Cookie header lines, in order, as
    net/http's readCookies finds them: parts split at `;`, names made of token characters,
    values stripped of one pair of double quotes and refused if any byte is out of range."""
    found = []
    for line in lines:
        for part in line.split(";"):
            name, _, value = part.strip(_ASCII_SPACE).partition("=")
            name = name.strip(_ASCII_SPACE)
            if name not in names or not name or not set(name) <= _TOKEN:
                continue
            if len(value) > 1 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if set(value) <= _VALUE_CHARS:
                found.append((name, value))
    return found

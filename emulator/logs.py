"""The server's log: its two formats (text, or one JSON object a line) and what it never writes.

A log ends up in CI output, `docker logs` and log collectors, read by more people than use
the emulator, so no credential may reach it. Two of aiohttp's lines would write one:

- its error line for a request it cannot parse quotes the raw bytes of the line it stopped
  at: `Invalid header value char: b'Authorization: Bearer <admin token>\\x7f'`. Such a record
  becomes one WARNING line saying what was wrong and in which header, never the bytes;
- its access log writes the request line with the query string (`?access_token=…`) and the
  Referer header, which can carry one too: secret query parameters read `[redacted]`.

The filters sit on aiohttp's loggers, not on a handler: every handler, the host
application's or pytest's among them, gets the record already clean.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import unquote_plus

from .redact import REDACTED, is_secret_header, is_secret_key

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The longest description of a malformed request a log line keeps.
DESCRIPTION_LIMIT = 120


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class ClientMistakes(logging.Filter):
    """aiohttp logs a request it cannot parse (a malformed request line or header) at ERROR
    with a traceback, though it answers 400 and nothing is wrong with the server: such a
    record becomes one WARNING line saying what the client sent wrong, without the bytes it
    sent (they can hold a credential)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = "a request that is not valid HTTP: %s"
            record.args = (what_was_wrong(error),)
            record.exc_info = record.exc_text = None
            if record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class SecretQueries(logging.Filter):
    """The access log's line, and the values it was made of (a handler may log those as
    structured fields), with secret query parameters and headers redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = redact_query_text(record.msg)
        line = getattr(record, "first_request_line", None)
        if isinstance(line, str):
            record.first_request_line = redact_query_text(line)
        headers = getattr(record, "request_header", None)
        if isinstance(headers, dict):
            record.request_header = {
                name: REDACTED if is_secret_header(name) else redact_query_text(str(value))
                for name, value in headers.items()
            }
        return True


def setup_logging(level: str, log_format: str) -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    protect_loggers()


def protect_loggers() -> None:
    """Put the filters on aiohttp's loggers (once, however often it is called)."""
    for name, kind in (("aiohttp.server", ClientMistakes), ("aiohttp.access", SecretQueries)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


# What aiohttp quotes after its description of a malformed request: a repr of the bytes,
# after a space or a colon (so an apostrophe inside a word is not taken for one).
_QUOTED = re.compile(r"""(?:^|(?<=[\s:]))b?['"]""")
# A header's name at the start of a quoted line: a token (RFC 9110) before a colon.
_HEADER_NAME = re.compile(r"""(?:^|(?<=[\s:]))b?['"]([!#$%&*+.^_`|~0-9A-Za-z-]{1,64}):""")


def what_was_wrong(error: Exception) -> str:
    """What a client got wrong, from aiohttp's parse error, without the bytes it quotes:
    `Invalid header value char (in the Authorization header)`."""
    text = str(getattr(error, "message", "") or "") or type(error).__name__
    quoted = _QUOTED.search(text)
    description = " ".join((text[: quoted.start()] if quoted else text).split()).rstrip(" :.")
    if len(description) > DESCRIPTION_LIMIT:
        description = description[:DESCRIPTION_LIMIT] + "…"
    header = _HEADER_NAME.search(text)
    if header is not None:
        description += f" (in the {header.group(1)} header)"
    return description or type(error).__name__


# A query parameter, wherever a line shows a URL: `?name=value`, `&name=value`, `;name=value`.
_QUERY_PAIR = re.compile(r"""([?&;])([^=&;#\s"?]+)=([^&;#\s"]*)""")


def redact_query_text(text: str) -> str:
    """`text` with the values of secret query parameters (by name, percent-decoded and in
    any case: `?%74oken=` is `?token=`) replaced by [redacted]."""

    def blank(match: re.Match[str]) -> str:
        if is_secret_key(unquote_plus(match.group(2))):
            return f"{match.group(1)}{match.group(2)}={REDACTED}"
        return match.group(0)

    return _QUERY_PAIR.sub(blank, text)


__all__ = [
    "ClientMistakes",
    "JsonLogFormatter",
    "SecretQueries",
    "protect_loggers",
    "redact_query_text",
    "setup_logging",
    "what_was_wrong",
]

"""Credentials blanked out of whatever the emulator keeps or writes of a request: the journal
(headers, query, body) and the access log (the query string).

What is secret: the generic names here (any `Authorization`, any key holding "password" or
"token" …), and what each vendor API declares (`VendorApi.secrets`: its header and key
names, the routes a client logs in on, its secret settings), registered when the APIs are
found. A fifth API's credentials are redacted by its declaration alone.

A body is read as key/value pairs wherever it can be: as JSON (secret keys' values redacted
at any depth); else as text, where every `key: value`, `"key": value`, `'key': value` and
`key=value` pair whose key is secret is blanked, the key's escapes decoded first (`"\\u0070"`
is `"p"`, `%70` is `p`), a value cut short included. On a login route a body that is neither
JSON nor a form is not kept at all: there, text that could not be read is a credential.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from .jsonbody import loads
from .vendor import Secrets

REDACTED = "[redacted]"
# Header names whose values are credentials (compared lower-case), besides any name
# `is_secret_key` calls secret (X-Auth-Token, X-Subject-Token, X-Security-Token, X-Api-Key)
# and those the APIs declare.
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
# Keys whose values are credentials wherever they appear: these names, those the APIs
# declare (Traffic Ops logs in with `p`, and with a login token `t`) …
SECRET_KEYS = {"pw", "pwd"}
# … and any name holding one of these (password, access_token, client_secret, X-Auth-Token).
SECRET_PARTS = (
    "password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "credential",
)
# Setting keys whose values (or, for a mapping, whose keys) are credentials.
SECRET_SETTINGS = {"password", "token"}
# The paths a client logs in or gets a token on (regular expressions), as the APIs declare.
_LOGIN_PATHS: list[str] = []
_CREDENTIAL_PATH = re.compile(r"(?!)")  # matches nothing until an API declares a path


def register(secrets: Secrets) -> None:
    """Add what an API declares secret (called once for each API found)."""
    global _CREDENTIAL_PATH
    SECRET_HEADERS.update(name.lower() for name in secrets.headers)
    SECRET_KEYS.update(name.lower() for name in secrets.keys)
    SECRET_SETTINGS.update(secrets.settings)
    new = [path for path in secrets.login_paths if path not in _LOGIN_PATHS]
    if new:
        _LOGIN_PATHS.extend(new)
        _CREDENTIAL_PATH = re.compile("|".join(f"(?:{pattern})" for pattern in _LOGIN_PATHS))


def is_secret_key(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_KEYS or any(part in lowered for part in SECRET_PARTS)


def is_secret_header(name: str) -> bool:
    return name.lower() in SECRET_HEADERS or is_secret_key(name)


def is_credential_route(path: str) -> bool:
    """True for a path some vendor logs in on (whichever API the request went to: a login
    path no route took still carries the password a client meant for it)."""
    return _CREDENTIAL_PATH.match(path) is not None


def redact_pairs(pairs: Iterable[tuple[str, str]], *, headers: bool = False) -> dict[str, str]:
    secret = is_secret_header if headers else is_secret_key
    return {name: REDACTED if secret(name) else value for name, value in pairs}


def redact_body(body: bytes, *, credentials: bool = False) -> Any:
    """The body with its credentials redacted: JSON as its value, anything else as text.
    `credentials`: the body was sent to a login route, where text that is neither JSON nor
    a form is not kept. JSON is looked for whatever the Content-Type says, as the servers
    emulated read it so (`curl -d '{"u": …, "p": …}'` logs in to Traffic Ops with a form
    Content-Type), and so is a form."""
    if not body:
        return None
    try:
        value = loads(body)
    except ValueError:  # not JSON, or nested deeper than a request body may (TooDeep)
        pass
    else:
        return redact_text(value) if isinstance(value, str) else _redact_json(value)
    text = body.decode("utf-8", errors="replace")
    return redact_text_body(text, credentials=credentials, size=len(body))


def redact_text_body(text: str, *, credentials: bool, size: int) -> str:
    """A body that is not JSON, as text with its secrets blanked; on a login route, only
    when it is a form, and otherwise a note of what was not kept."""
    if credentials and not _is_form(text):
        return f"[not kept: {size:,} bytes sent to a login route that are neither JSON nor a form]"
    return redact_text(text)


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_key(key) else _redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(item) for item in value]
    return value


def _is_form(text: str) -> bool:
    """`u=admin&p=…`: fields of name=value, names without JSON's quotes or braces."""
    try:
        fields = parse_qsl(text.strip(), keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return False
    return all(_FORM_NAME.fullmatch(name) for name, _ in fields)


_FORM_NAME = re.compile(r"[^\s{}\"':,]+")
# A key followed by `:` or `=`: quoted with either quote (escapes inside), or bare.
_KEY = re.compile(
    r"""(?:(?P<q>["'])(?P<quoted>(?:\\.|(?!(?P=q))[^\\])*)(?P=q)"""
    r"""|(?<![\w$%.+\-])(?P<bare>[\w$%.+\-]+))\s*(?P<sep>[:=])\s*"""
)
# What a form's field follows: the start of the text, or one of these.
_FIELD_START = "&;?,{\n\r"
_SCALAR_END = {":": re.compile(r"[,}\]\s]"), "=": re.compile(r"[&;\s]")}


def redact_text(text: str) -> str:
    """`text` with the value of every secret key it shows blanked, however it is written."""
    out: list[str] = []
    done = 0
    for match in _KEY.finditer(text):
        if match.start() < done:  # inside a value already blanked
            continue
        quote, sep = match.group("q"), match.group("sep")
        before = text[match.start() - 1] if match.start() else "&"
        if sep == "=" and not quote and before not in _FIELD_START:
            continue  # `where p=1` in a query language, not a form's field
        key = _decoded(match.group("quoted"), quote) if quote else unquote_plus(match.group("bare"))
        if not is_secret_key(key):
            continue
        start = match.end()
        end = _value_end(text, start, sep)
        shown = f'"{REDACTED}"' if sep == ":" else REDACTED
        out += [text[done:start], shown]
        done = end
    out.append(text[done:])
    return "".join(out)


def _decoded(key: str, quote: str) -> str:
    """A quoted key as the program reading it sees it: JSON escapes decoded."""
    if "\\" not in key:
        return key
    if quote == "'":  # as JSON would have it: \' is ', and " needs its backslash
        key = key.replace("\\'", "'").replace('"', '\\"')
    try:
        return str(json.loads(f'"{key}"'))
    except ValueError:
        return key


def _value_end(text: str, start: int, sep: str) -> int:
    """Where the value that starts at `start` ends: a quoted string (to its closing quote, or
    the end of a text cut short), an array or object (to its closing bracket), or a scalar."""
    if start >= len(text):
        return start
    first = text[start]
    if first in "\"'":
        index = start + 1
        while index < len(text):
            if text[index] == "\\":
                index += 2
            elif text[index] == first:
                return index + 1
            else:
                index += 1
        return len(text)
    if first in "{[" and sep == ":":
        depth, index, quote = 0, start, ""
        while index < len(text):
            char = text[index]
            if quote:
                if char == "\\":
                    index += 1
                elif char == quote:
                    quote = ""
            elif char in "\"'":
                quote = char
            elif char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
                if depth == 0:
                    return index + 1
            index += 1
        return len(text)
    found = _SCALAR_END[sep].search(text, start)
    return len(text) if found is None else found.start()

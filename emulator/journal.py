"""The request journal: the latest vendor requests the emulator answered, for tests to inspect.

A ring buffer, so a long run or a soak never grows it past its bound. Credentials are
redacted before an entry is stored: nothing read back from the journal (or logged from it)
can leak a password, token, cookie or signature.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REDACTED = "[redacted]"
# Header names whose values are credentials (compared lower-case).
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "x-auth-token", "x-subject-token", "proxy-authorization"}
)
# Keys whose values are credentials wherever they appear in a JSON body or a query string.
SECRET_KEYS = frozenset({"password", "passwd", "p", "t", "token", "secret", "sk", "access_token"})
BODY_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    time: float  # emulator clock
    api: str | None
    task: str | None
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    status: int
    violation: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "api": self.api,
            "task": self.task,
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "headers": dict(self.headers),
            "body": self.body,
            "status": self.status,
            "violation": self.violation,
        }


class Journal:
    def __init__(self, limit: int = 10_000) -> None:
        if limit < 1:
            raise ValueError(f"the journal must hold at least one entry, not {limit}")
        self._entries: deque[JournalEntry] = deque(maxlen=limit)
        self._seq = itertools.count(1)

    def record(
        self,
        *,
        time: float,
        api: str | None,
        task: str | None,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]],
        headers: Iterable[tuple[str, str]],
        body: bytes,
        content_type: str,
        status: int,
        violation: str | None = None,
    ) -> JournalEntry:
        entry = JournalEntry(
            next(self._seq),
            time,
            api,
            task,
            method,
            path,
            redact_pairs(query, SECRET_KEYS),
            redact_pairs(headers, SECRET_HEADERS),
            redact_body(body, content_type),
            status,
            violation,
        )
        self._entries.append(entry)
        return entry

    def entries(self, api: str | None = None, task: str | None = None) -> list[JournalEntry]:
        return [
            e
            for e in self._entries
            if (api is None or e.api == api) and (task is None or e.task == task)
        ]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def redact_pairs(pairs: Iterable[tuple[str, str]], secret: frozenset[str]) -> dict[str, str]:
    return {name: REDACTED if name.lower() in secret else value for name, value in pairs}


def redact_body(body: bytes, content_type: str) -> Any:
    """The body with credentials redacted: as JSON when it parses, else as text; either
    cut to text of BODY_LIMIT characters when the body is bigger than that.

    JSON is looked for whatever the Content-Type says, because the servers emulated read
    it so: `curl -d '{"u": …, "p": …}'` logs in to Traffic Ops with a form Content-Type.
    Text that is not JSON still has its secrets blanked: form fields by name, and
    `"key": value` pairs of JSON too broken to parse.
    """
    if not body:
        return None
    try:
        return _bounded(_redact_json(json.loads(body)), len(body))
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse or walk
        pass
    text = body[:BODY_LIMIT].decode("utf-8", errors="replace")
    # Cut before blanking: a secret cut short is still matched to its end.
    if "x-www-form-urlencoded" in content_type:
        text = _FORM_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _JSON_SECRET.sub(lambda m: m.group(1) + f'"{REDACTED}"', text)
    return text + ("…" if len(body) > BODY_LIMIT else "")


_SECRET_NAMES = "|".join(sorted(SECRET_KEYS))
# A secret field of a form body (`p=twelve12`), up to the next field.
_FORM_SECRET = re.compile(r"((?:^|(?<=&))(?:" + _SECRET_NAMES + r")=)[^&]*", re.IGNORECASE)
# A secret key of a JSON object and its value: a string, possibly cut short, or a scalar.
_JSON_SECRET = re.compile(
    r'("(?:' + _SECRET_NAMES + r')"\s*:\s*)(?:"(?:[^"\\]|\\.)*"?|[^\s,}\]]+)', re.IGNORECASE
)


def _bounded(value: Any, size: int) -> Any:
    """`value`, or its JSON text cut at BODY_LIMIT when the body was bigger: a journal of
    10,000 entries must not hold 10,000 megabyte-sized bodies."""
    if size <= BODY_LIMIT:
        return value
    return json.dumps(value, ensure_ascii=False)[:BODY_LIMIT] + "…"


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED if key.lower() in SECRET_KEYS else _redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(item) for item in value]
    return value

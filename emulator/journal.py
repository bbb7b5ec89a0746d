"""The request journal: the latest vendor requests the emulator answered, for tests to inspect.

A ring buffer, so a long run or a soak never grows it past its bound. Recording is on every
vendor request's path, so it only keeps references to what aiohttp has already parsed;
building the entry (decoding the body, redacting credentials) waits until someone reads the
journal. Redaction happens in that one place, so nothing read back from the journal (or
logged from it) can leak a password, token, cookie or signature.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from yarl import URL

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
    # The status line the client got; None when an injected fault closed the connection first.
    status: int | None
    violation: str | None = None
    fault: str | None = None  # the kind of the injected fault that hit the answer, if one did

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
            "fault": self.fault,
        }


class _Recorded(NamedTuple):
    """A request as recorded: references only, made into a JournalEntry when read. (A
    tuple: it is made per request, and tuples are the cheapest thing to make. Path, query
    and content type are looked up when read, not per request.)"""

    seq: int
    time: float
    api: str | None
    task: str | None
    method: str
    url: URL
    headers: Mapping[str, str]
    body: bytes
    status: int | None
    violation: str | None
    fault: str | None

    def entry(self) -> JournalEntry:
        return JournalEntry(
            self.seq,
            self.time,
            self.api,
            self.task,
            self.method,
            self.url.path,
            redact_pairs(self.url.query.items(), SECRET_KEYS),
            redact_pairs(self.headers.items(), SECRET_HEADERS),
            redact_body(self.body, self.headers.get("Content-Type", "")),
            self.status,
            self.violation,
            self.fault,
        )


class Journal:
    def __init__(self, limit: int = 10_000) -> None:
        if limit < 1:
            raise ValueError(f"the journal must hold at least one entry, not {limit}")
        self._recorded: deque[_Recorded] = deque(maxlen=limit)
        self._seq = itertools.count(1)

    def record(
        self,
        *,
        time: float,
        api: str | None,
        task: str | None,
        method: str,
        url: URL,
        headers: Mapping[str, str],
        body: bytes,
        status: int | None,
        violation: str | None = None,
        fault: str | None = None,
    ) -> None:
        """Keep a request: `url` its path and query (a yarl URL, immutable) and `headers`
        kept as given and read only when the journal is, so they must not change afterwards
        (aiohttp's parsed request headers are immutable; a case-insensitive mapping, as they
        are, finds the Content-Type however it was written)."""
        self._recorded.append(
            _Recorded(next(self._seq), time, api, task, method, url, headers, body, status, violation, fault)
        )

    def entries(self, api: str | None = None, task: str | None = None) -> list[JournalEntry]:
        return [
            r.entry()
            for r in self._recorded
            if (api is None or r.api == api) and (task is None or r.task == task)
        ]

    def latest(
        self, limit: int, *, after: int = 0, api: str | None = None, task: str | None = None
    ) -> list[JournalEntry]:
        """The newest `limit` entries (oldest first) with a seq above `after`: only those
        are built, so a reader that asks for what is new pays for what is new."""
        found: list[_Recorded] = []
        for r in reversed(self._recorded):
            if r.seq <= after or len(found) >= limit:
                break
            if (api is None or r.api == api) and (task is None or r.task == task):
                found.append(r)
        return [r.entry() for r in reversed(found)]

    def clear(self) -> None:
        self._recorded.clear()

    def __len__(self) -> int:
        return len(self._recorded)


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

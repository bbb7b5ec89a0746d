"""The request journal: the latest vendor requests the emulator answered, for tests to inspect.

A ring buffer bounded twice: in entries (`limit`) and in bytes (`max_bytes`), the oldest
dropped first, so neither a long run nor a client sending the largest requests aiohttp takes
can grow it past its bound. What one entry may hold is cut when it is recorded:

- a body up to BODY_LIMIT bytes; a longer one is kept as its first BODY_LIMIT bytes of
  text, its secrets blanked then and there (on a login route, not at all);
- headers and URL up to HEADER_CHARS_LIMIT characters; beyond, the entry keeps a cut copy
  of the headers: at most HEADER_COUNT_LIMIT of them, each value up to HEADER_VALUE_LIMIT
  characters, and a last header named CUT_HEADER saying how many more there were.

What an entry counts against `max_bytes` is an upper bound of the memory it holds. Python
stores a character in 1, 2 or 4 bytes, and telling which costs more than counting, so every
character counts CHAR_BYTES; the URL's count twice (yarl caches its decoded forms as they
are used); each string and the entry itself also count what their objects take.

Recording is on every vendor request's path, a status poll's included, so a request within
those bounds (all but hostile ones) is kept by reference to what aiohttp has already parsed:
the URL and the header mapping, immutable both, and measured in one C-level pass. Building
the entry (decoding the body, redacting credentials: see redact.py) waits until someone reads
the journal, and redaction happens in that one place, so nothing read back from the journal
can leak a credential.
"""

from __future__ import annotations

import itertools
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .redact import is_credential_route, redact_body, redact_pairs, redact_text_body

BODY_LIMIT = 4096
# Nearly every request is within these (a browser's headers: ~15, ~2 KB).
HEADER_CHARS_LIMIT = 16 * 1024
HEADER_COUNT_LIMIT = 64
# What a cut copy keeps of each header.
HEADER_NAME_LIMIT = 128
HEADER_VALUE_LIMIT = 1024
CUT_HEADER = "..."
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# The most bytes CPython stores a character in: what a character counts.
CHAR_BYTES = 4
# What an entry holds besides its characters, in characters (of CHAR_BYTES): each string's
# object and its slot in the header mapping, and the entry's own objects (the tuple, the URL,
# the mapping). Measured with tracemalloc on recorded aiohttp requests, rounded up. Counted
# by the join that counts the characters: STRING_COST as the separator between strings, the
# entry's as a string of its own.
STRING_COST = 24
ENTRY_COST = 128
_SEPARATOR = " " * STRING_COST
_ENTRY = " " * (ENTRY_COST - STRING_COST)


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


# A request as recorded: references only, made into a JournalEntry when read. A plain
# tuple: it is made per request, and a tuple display costs a poll ~100 instructions where a
# NamedTuple's constructor (a Python function) costs ~3,000. Path, query and content type are
# looked up when read, not per request. Its fields, in order: seq, time, api, task, method,
# url (a yarl URL), headers, body (as sent, up to BODY_LIMIT bytes, or the text kept of a
# longer one), status, violation, fault, and start: what the journal had counted (in
# characters) before this entry, so that the entries from this one on count the journal's
# latest count less this.
_Recorded = tuple[
    int, float, str | None, str | None, str, URL, Mapping[str, str], bytes | str, int | None,
    str | None, str | None, int,
]
_API: Final = 2
_TASK: Final = 3
_START: Final = 11


def _entry(recorded: _Recorded) -> JournalEntry:
    seq, time, api, task, method, url, headers, body, status, violation, fault, _ = recorded
    path = url.path
    if isinstance(body, bytes):  # as sent: else, the text kept of a longer body
        body = redact_body(body, credentials=is_credential_route(path))
    return JournalEntry(
        seq,
        time,
        api,
        task,
        method,
        path,
        redact_pairs(url.query.items()),
        redact_pairs(headers.items(), headers=True),
        body,
        status,
        violation,
        fault,
    )


class Journal:
    def __init__(self, limit: int = 10_000, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if limit < 1:
            raise ValueError(f"the journal must hold at least one entry, not {limit}")
        if max_bytes < 1:
            raise ValueError(f"the journal must hold at least one byte, not {max_bytes}")
        self.limit = limit
        self.max_bytes = max_bytes
        self._max_chars = max_bytes // CHAR_BYTES
        self._recorded: deque[_Recorded] = deque(maxlen=limit)
        self._counted = 0  # characters counted since the journal began
        # A count past which the journal may be over max_bytes: checked per request, so one
        # comparison; made exact (and the oldest entries dropped) only once it is passed.
        self._check_at = self._max_chars
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
        # All a poll costs besides the tuple: the characters the entry holds, counted by one
        # join in C (a Python loop over the headers costs ~700 instructions a header), the
        # URL's by yarl's own fields (its public properties are computed on first use).
        path, query = url._path, url._query
        strings = [_ENTRY, *headers, *headers.values(), path, query, path, query]
        chars = len(_SEPARATOR.join(strings))
        kept: bytes | str = body
        if body or chars > HEADER_CHARS_LIMIT:
            headers, kept, chars = _bounded(headers, body, url, chars)
        start = self._counted
        self._counted = counted = start + chars
        seq = next(self._seq)
        self._recorded.append(
            (seq, time, api, task, method, url, headers, kept, status, violation, fault, start)
        )
        if counted > self._check_at:
            self._trim()

    def _trim(self) -> None:
        """Drop the oldest entries until the rest count at most max_bytes (the newest is
        always kept), and set where to check again."""
        recorded, counted, most = self._recorded, self._counted, self._max_chars
        while len(recorded) > 1 and counted - recorded[0][_START] > most:
            recorded.popleft()
        self._check_at = recorded[0][_START] + most

    def entries(self, api: str | None = None, task: str | None = None) -> list[JournalEntry]:
        return [
            _entry(r)
            for r in self._recorded
            if (api is None or r[_API] == api) and (task is None or r[_TASK] == task)
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
        self._check_at = self._counted + self._max_chars

    def __len__(self) -> int:
        return len(self._recorded)

    @property
    def bytes(self) -> int:
        """What the entries count against `max_bytes`."""
        recorded = self._recorded
        return (self._counted - recorded[0][_START]) * CHAR_BYTES if recorded else 0


def _bounded(
    headers: Mapping[str, str], body: bytes, url: URL, chars: int
) -> tuple[Mapping[str, str], bytes | str, int]:
    """The headers and body an entry keeps of a request with a body or with headers past
    HEADER_CHARS_LIMIT, and the characters the entry then counts."""
    if chars > HEADER_CHARS_LIMIT:
        headers = _cut_headers(headers)
        path, query = url._path, url._query
        strings = [_ENTRY, *headers, *headers.values(), path, query, path, query]
        chars = len(_SEPARATOR.join(strings))
    kept: bytes | str = body
    if len(body) > BODY_LIMIT:
        kept = _cut_body(body, url.path)
        chars += sys.getsizeof(kept) // CHAR_BYTES + 1
    else:
        chars += len(body) // CHAR_BYTES + 1 + STRING_COST
    return headers, kept, chars


def _cut_headers(headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
    """A copy of `headers` within the bounds."""
    kept: CIMultiDict[str] = CIMultiDict()
    chars = dropped = 0
    for name, value in headers.items():
        if len(kept) >= HEADER_COUNT_LIMIT or chars >= HEADER_CHARS_LIMIT // 2:
            dropped += 1
            continue
        name = name[:HEADER_NAME_LIMIT]
        if len(value) > HEADER_VALUE_LIMIT:
            value = f"{value[:HEADER_VALUE_LIMIT]}... ({len(value):,} characters)"
        kept.add(name, value)
        chars += len(name) + len(value)
    if dropped:
        kept.add(CUT_HEADER, f"{dropped:,} more headers not kept")
    return CIMultiDictProxy(kept)


def _cut_body(body: bytes, path: str) -> str:
    """What is kept of a body longer than BODY_LIMIT: its beginning as text, secrets blanked
    now, since the rest of it is gone by the time the journal is read. Cut before blanking,
    so that a secret cut short is still matched to its end. A login route's is not kept:
    only a whole body can be told to be JSON or a form."""
    if is_credential_route(path):
        return f"[not kept: {len(body):,} bytes sent to a login route, longer than {BODY_LIMIT:,}]"
    text = body[:BODY_LIMIT].decode("utf-8", errors="replace")
    return redact_text_body(text, credentials=False, size=len(body)) + "…"

"""The request journal: the latest vendor requests the emulator answered, for tests to inspect.

A ring buffer bounded twice: in entries (`limit`) and in bytes (`max_bytes`), the oldest
dropped first, so neither a long run nor a client sending the largest requests aiohttp takes
can grow it past its bound. What one entry may hold is cut when it is recorded:

- a body up to BODY_LIMIT bytes; a longer one is kept as its first BODY_LIMIT bytes of
  text, its secrets blanked then and there (on a login route, not at all);
- headers up to HEADER_COUNT_LIMIT of them and HEADER_CHARS_LIMIT characters in all;
  beyond, the entry keeps a cut copy: each value up to HEADER_VALUE_LIMIT characters, at most
  HEADER_CHARS_LIMIT in all, and a last header named CUT_HEADER saying how many more there
  were.

What an entry counts against `max_bytes` is an upper bound of the memory it holds: Python
stores a character in 1, 2 or 4 bytes, and telling which costs more than counting, so a
header's character counts 4 bytes, and the URL's twice that (yarl caches its decoded forms
as they are used); a body counts its bytes, the text kept of a long one what it takes.

Recording is on every vendor request's path, a status poll's included, so a request within
those bounds (all but hostile ones) is kept by reference to what aiohttp has already parsed:
the URL and the header mapping, immutable both. Building the entry (decoding the body,
redacting credentials: see redact.py) waits until someone reads the journal, and redaction
happens in that one place, so nothing read back from the journal can leak a credential.
"""

from __future__ import annotations

import itertools
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .redact import is_credential_route, redact_body, redact_pairs, redact_text_body

BODY_LIMIT = 4096
# Nearly every request's headers are within these (a browser's: ~15 headers, ~2 KB).
HEADER_COUNT_LIMIT = 64
HEADER_CHARS_LIMIT = 16 * 1024
# What a cut copy keeps of each header.
HEADER_NAME_LIMIT = 128
HEADER_VALUE_LIMIT = 1024
CUT_HEADER = "..."
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# The most bytes CPython stores a character in.
CHAR_BYTES = 4
# What an entry holds besides the characters it counts: the tuple, the URL object, the
# header mapping's table (per header) and each object's own header. Measured with
# tracemalloc on recorded aiohttp requests, rounded up.
ENTRY_OVERHEAD = 512
HEADER_OVERHEAD = 64


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
    # The body as sent (up to BODY_LIMIT bytes), or the text kept of a longer one.
    body: bytes | str
    status: int | None
    violation: str | None
    fault: str | None
    size: int  # what it counts against the journal's max_bytes

    def entry(self) -> JournalEntry:
        path = self.url.path
        body = self.body
        if isinstance(body, bytes):  # as sent: else, the text kept of a longer body
            body = redact_body(body, credentials=is_credential_route(path))
        return JournalEntry(
            self.seq,
            self.time,
            self.api,
            self.task,
            self.method,
            path,
            redact_pairs(self.url.query.items()),
            redact_pairs(self.headers.items(), headers=True),
            body,
            self.status,
            self.violation,
            self.fault,
        )


class Journal:
    def __init__(self, limit: int = 10_000, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if limit < 1:
            raise ValueError(f"the journal must hold at least one entry, not {limit}")
        if max_bytes < 1:
            raise ValueError(f"the journal must hold at least one byte, not {max_bytes}")
        self.limit = limit
        self.max_bytes = max_bytes
        self._recorded: deque[_Recorded] = deque(maxlen=limit)
        self._bytes = 0
        self._seq = itertools.count(1)
        self._seq_at_clear = 0

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
        # Their size in one C-level pass over the strings: a Python loop over a poll's
        # headers costs twice the instructions (~700 a header), a percent of a poll.
        count = len(headers)
        chars = len("".join([*headers, *headers.values()]))
        if chars > HEADER_CHARS_LIMIT or count > HEADER_COUNT_LIMIT:
            headers, chars, count = _cut_headers(headers)
        # The URL's path and query string (yarl's own fields: its public properties are
        # computed on first use, a Python call each), and as much again for the decoded
        # forms it caches as they are used.
        url_chars = len(url._path) + len(url._query)
        size = ENTRY_OVERHEAD + CHAR_BYTES * (chars + 2 * url_chars) + HEADER_OVERHEAD * count
        kept: bytes | str = body
        if body:
            if len(body) > BODY_LIMIT:
                kept, body_bytes = _cut_body(body, url.path)
                size += body_bytes
            else:
                size += len(body)
        recorded = self._recorded
        if len(recorded) == self.limit:  # the append drops the oldest
            self._bytes -= recorded[0].size
        recorded.append(
            _Recorded(
                next(self._seq), time, api, task, method, url, headers, kept, status,
                violation, fault, size,
            )
        )
        self._bytes += size
        if self._bytes > self.max_bytes:
            while self._bytes > self.max_bytes and len(recorded) > 1:
                self._bytes -= recorded.popleft().size

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
        self._seq_at_clear = self.last_seq
        self._recorded.clear()
        self._bytes = 0

    @property
    def last_seq(self) -> int:
        """The seq of the latest entry recorded (0: none yet). Read, not kept per record: a
        poll pays nothing for it."""
        recorded = self._recorded
        return recorded[-1].seq if recorded else self._seq_at_clear

    def __len__(self) -> int:
        return len(self._recorded)

    @property
    def bytes(self) -> int:
        """What the entries count against `max_bytes`."""
        return self._bytes


def _cut_headers(headers: Mapping[str, str]) -> tuple[CIMultiDictProxy[str], int, int]:
    """A copy of `headers` within the bounds, the characters it holds and how many headers."""
    kept: CIMultiDict[str] = CIMultiDict()
    chars = dropped = 0
    for name, value in headers.items():
        if len(kept) >= HEADER_COUNT_LIMIT or chars >= HEADER_CHARS_LIMIT:
            dropped += 1
            continue
        name = name[:HEADER_NAME_LIMIT]
        if len(value) > HEADER_VALUE_LIMIT:
            value = f"{value[:HEADER_VALUE_LIMIT]}... ({len(value):,} characters)"
        kept.add(name, value)
        chars += len(name) + len(value)
    if dropped:
        note = f"{dropped:,} more headers not kept"
        kept.add(CUT_HEADER, note)
        chars += len(CUT_HEADER) + len(note)
    return CIMultiDictProxy(kept), chars, len(kept)


def _cut_body(body: bytes, path: str) -> tuple[str, int]:
    """What is kept of a body longer than BODY_LIMIT: its beginning as text, secrets blanked
    now, since the rest of it is gone by the time the journal is read. Cut before blanking,
    so that a secret cut short is still matched to its end. A login route's is not kept:
    only a whole body can be told to be JSON or a form."""
    if is_credential_route(path):
        kept = f"[not kept: {len(body):,} bytes sent to a login route, longer than {BODY_LIMIT:,}]"
    else:
        text = body[:BODY_LIMIT].decode("utf-8", errors="replace")
        kept = redact_text_body(text, credentials=False, size=len(body)) + "…"
    return kept, sys.getsizeof(kept)

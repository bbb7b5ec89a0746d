"""What contract checking is made of: the HTTP exchanges seen (live, in a HAR file, in the
emulator's journal, through the recording proxy), what a vendor's answer says about its task,
and what a check found.

Pure data, no I/O: every source turns what it read into `Exchange`s, and every check works on
those, so a live run, a HAR file and a journal export are judged by the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PHASES = ("scheduled", "running", "succeeded", "failed")
TERMINAL = frozenset({"succeeded", "failed"})


@dataclass(frozen=True)
class Exchange:
    """One request and the answer it got, as far as the source knows it.

    `status` is None when no answer came (refused, broken off, timed out: `error` says which);
    `response_headers` is None when the source does not keep them (the journal), and `body`
    None when it does not keep response bodies. Header names are kept as sent; `header()`
    finds them in any case.
    """

    index: int
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    raw_query: str = ""
    request_headers: tuple[tuple[str, str], ...] = ()
    request_body: bytes | None = None
    status: int | None = None
    response_headers: tuple[tuple[str, str], ...] | None = ()
    body: bytes | None = None
    # Seconds (any origin, one per source): when the request was sent. Measures step lengths.
    time: float | None = None
    error: str | None = None
    # What the source itself said about this answer (the journal's schema violation, a fault).
    source_notes: tuple[str, ...] = ()
    # The task id the source attributes the exchange to, when it knows (the journal does).
    task_hint: str | None = None

    def header(self, name: str) -> str | None:
        """The first response header `name` (any case), or None."""
        return _first(self.response_headers or (), name)

    def request_header(self, name: str) -> str | None:
        return _first(self.request_headers, name)

    def query_value(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None

    @property
    def target(self) -> str:
        """Method and path, for reports (never the query: it may name a dataset or SQL text
        a report reader does not need, and never a credential)."""
        return f"{self.method} {self.path}"


def _first(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


@dataclass(frozen=True)
class Observation:
    """What one answer says about one task: its phase (a generic one, `PHASES`) as the vendor
    showed it (`shown`: PENDING, work in progress …), and the values the vendor promises about
    a task over time: `counters` never fall, `fixed` never change once seen."""

    task: str
    phase: str
    shown: str
    counters: Mapping[str, float] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    # A client's status read (counts towards a step's `polls` when the task is replayed);
    # False for the trigger's own answer.
    read: bool = True
    # What the answer rendered for this task, for the recorder: messages, counts, rows …
    fields: Mapping[str, Any] = field(default_factory=dict)
    # Observations of the task's subtasks in the same answer (DataArts).
    subtasks: tuple[Observation, ...] = ()


@dataclass(frozen=True)
class Violation:
    """A way an answer (or a sequence of them) breaks the contract: which check, where
    (a JSON path into the body, `header Location`, `status`), and expected against actual."""

    check: str
    where: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.check} {self.where}: expected {self.expected}, got {self.actual}"

    def to_json(self) -> dict[str, str]:
        return {
            "check": self.check,
            "where": self.where,
            "expected": self.expected,
            "actual": self.actual,
        }


@dataclass
class CheckResult:
    """One named check (an answer, or the phase sequence of a task) and what it found."""

    name: str
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass
class Report:
    """Everything one `verify` run found. `source` says what was checked (a URL, a file)."""

    api: str
    source: str
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    phases: dict[str, list[str]] = field(default_factory=dict)
    # What was judged, for callers that look further (never written to a report file: it
    # holds requests as they were sent, credentials and all).
    exchanges: list[Exchange] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def violations(self) -> list[Violation]:
        return [v for check in self.checks for v in check.violations]

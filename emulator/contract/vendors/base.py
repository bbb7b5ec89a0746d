"""What a contract checker knows of one vendor API, in one class per API.

Each API's module says how its clients start a task and poll it (`login`, `trigger`,
`poll`), which answers its routes give and which schema and content type each has
(`route`), which headers clients rely on (`header_violations`), how to read a task's phase
and promised values from an answer (`observe`), which credentials it takes, and how a
recorded task becomes scenario fields (`step_fields`, `results`, `trigger_when`). Nothing
else in `emulator.contract` knows anything about a particular vendor.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ..model import Exchange, Observation, Violation


@dataclass(frozen=True)
class Answer:
    """One answer a route documents: the schema of its body (a name under `schemas/<api>/`
    without `.schema.json`; None: not checked as JSON) and its media type (None: any)."""

    schema: str | None
    media: str | None


@dataclass(frozen=True)
class Route:
    """A request the contract knows. `expected`: the statuses a lifecycle that goes as
    documented answers it with; `answers`: every status whose body and headers the contract
    documents (errors too), so a documented error still has its body checked."""

    kind: str  # login, trigger, status, peek, abort
    task: str | None
    expected: frozenset[int]
    answers: Mapping[int, Answer]


class Http(Protocol):
    """The live client a vendor's `login`/`trigger`/`poll` talk through: every call is
    recorded as an `Exchange`, bounded by a timeout, and its credentials kept out of reports."""

    @property
    def host(self) -> str:
        """host[:port] of the base URL, as the Host header carries it."""

    @property
    def scheme(self) -> str: ...

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Exchange: ...

    def secret(self, value: str) -> None:
        """Keep `value` (a token, a cookie the server handed out) out of every output."""


@dataclass
class Session:
    """What a login gave: headers every later call sends, and anything else a vendor keeps."""

    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class VendorContract(ABC):
    api: ClassVar[str]
    # Credential keys this API's clients use, as `TaskEmulator.credentials(api)` gives them.
    credential_keys: ClassVar[tuple[str, ...]]
    # Which of them are secrets (never printed, never written).
    secret_keys: ClassVar[frozenset[str]]
    # What `trigger` sends when the user gives nothing (`--trigger-body`).
    default_trigger_body: ClassVar[str]

    # ---- reading answers: the same for a live run, a HAR file, a journal, the proxy ------

    @abstractmethod
    def route(self, exchange: Exchange) -> Route | None:
        """What the contract says of this request, or None when it is none of its business."""

    def header_violations(self, exchange: Exchange, route: Route) -> list[Violation]:
        """Headers this vendor's clients rely on, beyond the content type."""
        return []

    def answer_violations(self, exchange: Exchange, route: Route, body: Any) -> list[Violation]:
        """What the vendor promises of an answer that a schema cannot say (the id polled is
        the id answered, counters in order), `body` being the parsed body."""
        return []

    @abstractmethod
    def observe(self, exchange: Exchange, route: Route, body: Any) -> list[Observation]:
        """What the answer says about its task (`body` is the parsed body, or None when the
        source has no body: then only what the status says, if anything)."""

    def created_task(self, exchange: Exchange, body: Any) -> str | None:
        """The id of the task a trigger's answer created, if it says."""
        return None

    def created_task_in_json(self, exchange: Exchange) -> str | None:
        """`created_task` of an answer whose body is JSON; None when it is not."""
        try:
            return self.created_task(exchange, json.loads(exchange.body or b""))
        except ValueError:
            return None

    # ---- driving a live server ------------------------------------------------------------

    @abstractmethod
    async def login(self, http: Http, credentials: Mapping[str, str]) -> Session:
        """Authenticate as the vendor's clients do (a token, a cookie; nothing for Basic)."""

    @abstractmethod
    async def trigger(
        self, http: Http, session: Session, credentials: Mapping[str, str], body: str | None
    ) -> str | None:
        """Start a task; its id, or None when the answer gave none."""

    @abstractmethod
    async def poll(
        self, http: Http, session: Session, credentials: Mapping[str, str], task: str
    ) -> None:
        """One round of the vendor's clients' polling loop."""

    # ---- writing a scenario from a recorded task ---------------------------------------------

    def step_fields(self, observation: Observation) -> dict[str, Any]:
        """The scenario step keys that make the emulator render what this answer showed."""
        return {}

    def task_fields(self, observations: Sequence[Observation]) -> dict[str, Any]:
        """The scenario's `task:` fields (rendered the same at every step)."""
        return {}

    def results(self, observations: Sequence[Observation]) -> dict[str, Any]:
        """The scenario's `results:` from what the task's answers showed."""
        return {}

    def trigger_of(self, exchange: Exchange) -> tuple[str, str, dict[str, str]] | None:
        """(method, path as scenarios write it, `when:` facts) of a trigger request."""
        return None

    def scope_of(self, exchange: Exchange) -> dict[str, str]:
        """Where a task polled by `exchange` lives (a preloaded task's `scope:`)."""
        return {}

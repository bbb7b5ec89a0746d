"""The interface the core consumes from a vendor API: what the scenario loader and the
engine need to know about it. The core owns it (vendors implement it), so the core never
imports a vendor or the server.

`ApiSpec` is the class-level description every vendor API gives (its `VendorApi` subclass
in `emulator.apis.base` implements it); `IdSource` is what an API draws a new task id from
(the engine implements it): the seeded random source, the clock, per-API serial numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .lifecycle import Phase
    from .randomness import RandomSource


@dataclass(frozen=True, slots=True)
class TriggerRoute:
    """A vendor request that creates a task. `path` is written as scenarios write it;
    `match_keys` are the request facts a scenario's `when:` may test."""

    method: str
    path: str
    match_keys: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Secrets:
    """What of an API's traffic and settings is a credential, declared by the API so that
    the journal, the logs and the start-up banner never show it: header names, key names
    (of JSON and form bodies and query strings, in any case), the paths a client logs in on
    (regular expressions; a body there that cannot be read is not kept at all), and the
    setting keys whose values are credentials (a mapping under such a key: its keys are)."""

    headers: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()
    login_paths: tuple[str, ...] = ()
    settings: frozenset[str] = frozenset()


class IdSource(Protocol):
    """What a new task id is drawn from: all of it replays with a seed and a clock start."""

    @property
    def random(self) -> RandomSource: ...

    def now(self) -> float:
        """Now on the emulator clock."""
        ...

    def next_serial(self, api: str) -> int:
        """1, 2, 3 … per API, started again by a reset."""
        ...

    def taken(self, api: str, task_id: str) -> bool:
        """Whether `api` has a task with this id."""
        ...


class ApiSpec(Protocol):
    """What the scenario loader and the engine need to know about an API."""

    name: str
    title: str
    triggers: tuple[TriggerRoute, ...]
    scope_defaults: Mapping[str, str]

    def trigger_route(self, method: str, path: str) -> TriggerRoute | None: ...

    def check_task_id(self, raw: object) -> str: ...

    def new_task_id(self, ids: IdSource) -> str: ...

    def new_subtask_id(self, ids: IdSource, parent_id: str, index: int) -> str: ...

    def default_facts(self, ids: IdSource) -> Mapping[str, Any]: ...

    def forced_fields(self, phase: Phase, message: str, current: Mapping[str, Any]) -> Mapping[str, Any]: ...

"""Scenarios: what a YAML file says a task of some API does, as typed values (`Scenario`,
its `Trigger`, `Preload`s and subtasks), and the `Catalog` of those loaded. Loading and
checking files is `scenario_loader.py`'s."""

from __future__ import annotations

import fnmatch
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .faults import Fault
from .lifecycle import Lifecycle, Phase, Step, format_duration

EMPTY: Mapping[str, Any] = MappingProxyType({})


class FieldTemplate(string.Template):
    """`${body.path}`, `${fake.file_name}`: placeholders with dotted names."""

    idpattern = r"(?a:[_a-z][_a-z0-9]*(?:\.[_a-z0-9]+)*)"
    flags = re.IGNORECASE


TEMPLATE_ROOTS = ("id", "body", "query", "header", "scope", "fake")


@dataclass(frozen=True, slots=True)
class Source:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Trigger:
    """The vendor request that creates a task from a scenario, and what it must look like."""

    method: str
    path: str
    when: tuple[tuple[str, str], ...] = ()

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    def matches(self, facts: Mapping[str, str]) -> bool:
        """True when every `when` glob matches the request fact of the same name."""
        return all(
            fnmatch.fnmatchcase(facts.get(key, ""), pattern) for key, pattern in self.when
        )


@dataclass(frozen=True, slots=True)
class SubtaskSpec:
    name: str
    lifecycle: Lifecycle
    fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class Preload:
    """A task that exists from start-up (and again after every reset)."""

    id: str
    at: Phase | None = None
    created_at: float | None = None
    fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    scope: Mapping[str, str] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class Scenario:
    api: str
    name: str
    source: Source
    description: str = ""
    # None only where subtasks give the task its phase (see engine.derived_phase).
    lifecycle: Lifecycle | None = None
    fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    subtasks: tuple[SubtaskSpec, ...] = ()
    trigger: Trigger | None = None
    results: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    options: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    preload: tuple[Preload, ...] = ()
    # Names of `fields` whose values hold ${...} placeholders, rendered when a task is made.
    templated: frozenset[str] = frozenset()
    # Faults the scenario declares (for its API, or its own tasks): see faults.py.
    faults: tuple[Fault, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.api, self.name)

    def summary(self) -> str:
        """`scheduled 5s → running 3 polls → succeeded`."""
        if self.lifecycle is None:
            return f"phase from {len(self.subtasks)} subtask(s)"
        return " → ".join(_describe_step(step) for step in self.lifecycle.steps)


def _describe_step(step: Step) -> str:
    ends = []
    if step.duration is not None:
        ends.append(format_duration(step.duration))
    if step.polls is not None:
        ends.append(f"{step.polls} poll{'s' if step.polls != 1 else ''}")
    return step.phase.value + (f" {' or '.join(ends)}" if ends else "")


@dataclass
class Catalog:
    """The loaded scenarios, and which one a vendor request starts."""

    scenarios: dict[tuple[str, str], Scenario] = field(default_factory=dict)
    # Built-in scenarios a person's scenario replaced (same API and name, or the same
    # preloaded task id): (the person's, the built-in one).
    replaced: tuple[tuple[Scenario, Scenario], ...] = ()
    _routes: dict[tuple[str, str, str], list[Scenario]] | None = field(default=None, repr=False, compare=False)

    def get(self, api: str, name: str) -> Scenario | None:
        return self.scenarios.get((api, name))

    def for_api(self, api: str) -> list[Scenario]:
        return [s for s in self.scenarios.values() if s.api == api]

    def for_trigger(
        self, api: str, method: str, path: str, facts: Mapping[str, str]
    ) -> Scenario | None:
        """The first scenario, in load order, whose trigger is this route and matches."""
        for scenario in self._by_route().get((api, method, path), ()):
            if scenario.trigger is not None and scenario.trigger.matches(facts):
                return scenario
        return None

    def _by_route(self) -> dict[tuple[str, str, str], list[Scenario]]:
        """The scenarios of each trigger route, in load order: a vendor request looks only
        at those of its own route, however many scenarios are loaded."""
        if self._routes is None:
            routes: dict[tuple[str, str, str], list[Scenario]] = {}
            for scenario in self.scenarios.values():
                if scenario.trigger is not None:
                    key = (scenario.api, scenario.trigger.method, scenario.trigger.path)
                    routes.setdefault(key, []).append(scenario)
            self._routes = routes
        return self._routes

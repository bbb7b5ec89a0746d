"""A scenario from one document of a scenario file, once the scenario schemas passed it:
checked for what a schema cannot say (durations, step order, templates, triggers, task ids,
preloaded positions and times, fault rules) while the typed `Scenario` is built. Reading
files and checking them against the schemas is `scenario_loader.py`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .faults import Fault
from .faultspec import FaultError, Owner, parse_fault
from .lifecycle import Lifecycle, Phase, Step, lifecycle_problems, parse_duration
from .randomness import faker_has_provider
from .scenario import (
    TEMPLATE_ROOTS,
    FieldTemplate,
    Preload,
    Scenario,
    Source,
    SubtaskSpec,
    Trigger,
)
from .yamlsource import Document, JsonPath

if TYPE_CHECKING:
    from .vendor import ApiSpec

# Keys of a lifecycle step that pace it; every other key is a field the API renders.
PACING_KEYS = frozenset({"phase", "for", "polls"})

# Where a mistake is (a key path in the document) and what it is.
Report = Callable[[JsonPath, str], None]


def build_scenario(file: str, document: Document, spec: ApiSpec, problem: Report) -> Scenario | None:
    """The scenario `document` (valid under the scenario schemas) gives, or None when it has
    mistakes, each told to `problem` (a key path and a message)."""
    data: dict[str, Any] = document.data
    count_before = _ProblemCounter(problem)
    report = count_before.report

    lifecycle = None
    if "lifecycle" in data:
        lifecycle = _build_lifecycle(data["lifecycle"], ("lifecycle",), report)
    subtasks = []
    for index, raw in enumerate(data.get("subtasks", [])):
        sub_lifecycle = _build_lifecycle(raw["lifecycle"], ("subtasks", index, "lifecycle"), report)
        if sub_lifecycle is not None:
            extra = {k: v for k, v in raw.items() if k not in ("name", "lifecycle")}
            subtasks.append(SubtaskSpec(raw["name"], sub_lifecycle, MappingProxyType(extra)))
    if lifecycle is None and "lifecycle" not in data and not data.get("subtasks"):
        report((), "give the task a 'lifecycle' (or 'subtasks' whose phases make its phase)")

    fields: dict[str, Any] = dict(data.get("task", {}))
    templated = set()
    for key, value in fields.items():
        if isinstance(value, str) and "$" in value:
            if _check_template(value, ("task", key), report):
                templated.add(key)

    trigger = None
    if "trigger" in data:
        trigger = _build_trigger(data["trigger"], spec, report)

    preloads = []
    if "lifecycle" in data and lifecycle is None:
        return None  # its mistakes are reported; preloads cannot be checked against it
    for index, raw in enumerate(data.get("preload", [])):
        preload = _build_preload(raw, ("preload", index), spec, lifecycle, report)
        if preload is not None:
            preloads.append(preload)

    faults = _build_faults(data, file, document, spec.name, lifecycle, report)

    if count_before.count:
        return None
    return Scenario(
        api=spec.name,
        name=data["name"],
        source=Source(file, document.line),
        description=data.get("description", ""),
        lifecycle=lifecycle,
        fields=MappingProxyType(fields),
        subtasks=tuple(subtasks),
        trigger=trigger,
        results=MappingProxyType(dict(data.get("results", {}))),
        options=MappingProxyType(dict(data.get("options", {}))),
        preload=tuple(preloads),
        templated=frozenset(templated),
        faults=faults,
    )


def _build_faults(
    data: dict[str, Any], file: str, document: Document, api: str, lifecycle: Lifecycle | None, report: Report
) -> tuple[Fault, ...]:
    owner = Owner(api, data["name"], lifecycle)
    faults = []
    for index, raw in enumerate(data.get("faults", [])):
        path: JsonPath = ("faults", index)
        try:
            faults.append(
                parse_fault(
                    raw,
                    id=f"{api}.{data['name']}.{index + 1}",
                    origin=f"{file}:{document.line_of(path)}",
                    owner=owner,
                )
            )
        except FaultError as error:
            report((*path, *error.path), error.message)
    return tuple(faults)


class _ProblemCounter:
    def __init__(self, problem: Report) -> None:
        self._problem = problem
        self.count = 0

    def report(self, path: JsonPath, message: str) -> None:
        self.count += 1
        self._problem(path, message)


def _build_lifecycle(raw_steps: list[dict[str, Any]], path: JsonPath, report: Report) -> Lifecycle | None:
    steps = []
    ok = True
    for index, raw in enumerate(raw_steps):
        duration = None
        if "for" in raw:
            try:
                duration = parse_duration(raw["for"])
            except ValueError as error:
                report((*path, index, "for"), str(error))
                ok = False
        fields = {k: v for k, v in raw.items() if k not in PACING_KEYS}
        steps.append(
            Step(Phase(raw["phase"]), duration, raw.get("polls"), MappingProxyType(fields))
        )
    if not ok:
        return None
    problems = lifecycle_problems(tuple(steps))
    for step_index, message in problems:
        report(path if step_index is None else (*path, step_index), message)
    return None if problems else Lifecycle(tuple(steps))


def _check_template(text: str, path: JsonPath, report: Report) -> bool:
    template = FieldTemplate(text)
    if not template.is_valid():
        report(path, "a '$' must start a placeholder like ${body.path} (write $$ for a plain '$')")
        return False
    ok = True
    for name in template.get_identifiers():
        root, _, rest = name.partition(".")
        if root not in TEMPLATE_ROOTS or (root != "id" and not rest):
            report(path, f"unknown placeholder ${{{name}}}: it must start with one of "
                   f"{', '.join(TEMPLATE_ROOTS)} (e.g. ${{body.path}}, ${{fake.file_name}})")
            ok = False
        elif root == "fake" and not faker_has_provider(rest):
            report(path, f"${{{name}}}: Faker has no provider {rest!r}")
            ok = False
    return ok


def _build_trigger(raw: dict[str, Any], spec: ApiSpec, report: Report) -> Trigger | None:
    method = raw["method"].upper()
    route = spec.trigger_route(method, raw["path"])
    if route is None:
        known = "; ".join(f"{t.method} {t.path}" for t in spec.triggers) or "none"
        report(("trigger",), f"no {spec.title} request creates tasks at {method} {raw['path']} "
               f"(requests that do: {known})")
        return None
    when = []
    for key, pattern in raw.get("when", {}).items():
        if key not in route.match_keys:
            allowed = ", ".join(sorted(route.match_keys)) or "nothing"
            report(("trigger", "when", key), f"{route.method} {route.path} cannot be matched on "
                   f"{key!r} (it can on: {allowed})")
        when.append((key, str(pattern)))
    return Trigger(method, raw["path"], tuple(when))


def _build_preload(
    raw: dict[str, Any], path: JsonPath, spec: ApiSpec, lifecycle: Lifecycle | None, report: Report
) -> Preload | None:
    try:
        task_id = spec.check_task_id(raw["id"])
    except ValueError as error:
        report((*path, "id"), str(error))
        return None
    at = None
    if "at" in raw:
        at = Phase(raw["at"])
        if lifecycle is None:
            report((*path, "at"), "'at' needs the scenario to have a lifecycle of its own")
            return None
        try:
            lifecycle.index_of(at)
        except ValueError as error:
            report((*path, "at"), str(error))
            return None
    created_at = None
    if "created_at" in raw:
        try:
            created_at = parse_time(raw["created_at"])
        except ValueError as error:
            report((*path, "created_at"), str(error))
            return None
    scope = dict(spec.scope_defaults)
    for key, value in raw.get("scope", {}).items():
        if key not in spec.scope_defaults:
            allowed = ", ".join(spec.scope_defaults) or "none"
            report((*path, "scope", key), f"{spec.title} tasks have no scope {key!r} (they have: {allowed})")
            return None
        scope[key] = str(value)
    return Preload(
        task_id, at, created_at, MappingProxyType(dict(raw.get("task", {}))), MappingProxyType(scope)
    )


def parse_time(value: str | float) -> float:
    """Epoch seconds from an ISO 8601 time with a zone, or from epoch seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"not a time: {value!r}")
        return float(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {value!r} (write e.g. 2021-02-18T17:13:56Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"the time {value!r} needs a zone, e.g. a trailing Z for UTC")
    return moment.timestamp()

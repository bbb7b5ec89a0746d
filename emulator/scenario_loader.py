"""Loading scenario files: each is checked against `schemas/scenario.schema.json` and then
against its API's own `schemas/<api>/scenario.schema.json` (which fields a step or a task
may carry), then for what a schema cannot say (durations, step order, templates, triggers,
ids). Every mistake is reported with its file and line, all at once, and a file with any
mistake loads nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .errors import Problem, ScenarioError, shown
from .faults import Fault
from .faultspec import FaultError, Owner, parse_fault
from .lifecycle import Lifecycle, Phase, Step, lifecycle_problems, parse_duration
from .scenario import (
    TEMPLATE_ROOTS,
    Catalog,
    FieldTemplate,
    Preload,
    Scenario,
    Source,
    SubtaskSpec,
    Trigger,
)
from .schemas import SchemaSet
from .yamlsource import (
    Document,
    JsonPath,
    YamlSyntaxError,
    format_path,
    load_documents,
    utf8_problem,
)

if TYPE_CHECKING:
    import jsonschema

    from .vendor import ApiSpec

SCENARIO_SCHEMA = "scenario.schema.json"
# Keys of a lifecycle step that pace it; every other key is a field the API renders.
PACING_KEYS = frozenset({"phase", "for", "polls"})
# A scenario file is a person's script: loading is linear (about a second per MB), and this
# bounds it and the memory it takes.
MAX_FILE_BYTES = 4_000_000
# Mistakes reported at once: the first ones tell what is wrong with a generated file.
MAX_PROBLEMS = 200


def scenario_files(paths: Iterable[Path]) -> list[Path]:
    """The YAML files named by `paths` (files as given, folders searched, sorted).

    A `*.yaml` in a folder that is a symbolic link leading nowhere (broken, or a loop) is
    kept, so that reading it reports it rather than leaving it out unsaid. Links to
    folders are not followed (rglob's rule), so a link back up the tree cannot loop."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p for p in path.rglob("*")
                    if p.suffix in (".yaml", ".yml") and (p.is_file() or _leads_nowhere(p))
                )
            )
        else:
            found.append(path)
    return found


def _leads_nowhere(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def load_catalog(
    paths: Iterable[Path],
    apis: Mapping[str, ApiSpec],
    schemas: SchemaSet,
    *,
    shipped: Iterable[Path] = (),
) -> Catalog:
    """Every scenario under `paths`; raises ScenarioError listing every mistake found.

    Earlier paths come first when triggers are matched, so user scenarios given before the
    built-in ones take precedence over them. Files under `shipped` (the built-in scenarios,
    which the test suite checks) skip the schema check, the slowest part of loading, and are
    parsed by libyaml; everything else about them is still checked.
    """
    loader = _ScenarioLoader(apis, schemas)
    roots = tuple(shipped)
    for path in scenario_files(paths):
        loader.load_file(path, shipped=any(path.is_relative_to(root) for root in roots))
    if loader.problems:
        # File by file in the order read, each file's mistakes by line.
        order = {file: index for index, file in enumerate(dict.fromkeys(p.file for p in loader.problems))}
        problems = sorted(loader.problems, key=lambda p: (order[p.file], p.line or 0))
        if len(problems) > MAX_PROBLEMS:  # a generated file can be wrong 100,000 times over
            rest = len(problems) - MAX_PROBLEMS
            problems = [*problems[:MAX_PROBLEMS], Problem(problems[MAX_PROBLEMS].file, None, f"… and {rest:,} more mistakes")]
        raise ScenarioError(problems)
    return Catalog(loader.scenarios, tuple(loader.replaced))


def check_files(paths: Iterable[Path], apis: Mapping[str, ApiSpec], schemas: SchemaSet) -> list[Problem]:
    """Every mistake in the scenario files under `paths` (empty when all are valid)."""
    try:
        load_catalog(paths, apis, schemas)
    except ScenarioError as error:
        return error.problems
    return []


class _ScenarioLoader:
    def __init__(self, apis: Mapping[str, ApiSpec], schemas: SchemaSet) -> None:
        self.apis = apis
        self.schemas = schemas
        self.scenarios: dict[tuple[str, str], Scenario] = {}
        self.problems: list[Problem] = []
        self.replaced: list[tuple[Scenario, Scenario]] = []
        self._preloaded: dict[tuple[str, str], Source] = {}
        self._preloaded_by: dict[tuple[str, str], Scenario] = {}

    def load_file(self, path: Path, *, shipped: bool = False) -> None:
        name = str(path)
        if path.exists() and not path.is_file():
            # A FIFO or a device would block the read, or never end it.
            self.problems.append(Problem(name, None, "cannot read the file: not a regular file"))
            return
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                self.problems.append(Problem(
                    name, None,
                    f"the file is {size / 1e6:.1f} MB: a scenario file holds at most "
                    f"{MAX_FILE_BYTES // 1_000_000} MB (generate large results with a scenario's "
                    "generators, or split the file)",
                ))
                return
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            self.problems.append(Problem(name, None, f"cannot read the file: {error.strerror or error}"))
            return
        except UnicodeDecodeError as error:
            line, message = utf8_problem(error)
            self.problems.append(Problem(name, line, f"cannot read the file: {message}"))
            return
        try:
            documents = list(load_documents(text, shipped=shipped))
        except YamlSyntaxError as error:
            self.problems.append(Problem(name, error.line, error.message))
            return
        if not documents or all(d.data is None for d in documents):
            self.problems.append(Problem(name, None, "holds no scenario (the file is empty)"))
            return
        problems: list[Problem] = []
        parsed: list[Scenario] = []
        for document in documents:
            scenario = _parse_document(name, document, self.apis, None if shipped else self.schemas, problems)
            if scenario is not None:
                parsed.append(scenario)
        if shipped:
            # A person's scenario of the same API and name replaces the built-in one (the
            # person's files load first), preloaded tasks and all.
            kept = []
            for scenario in parsed:
                theirs = self.scenarios.get(scenario.key) or next(
                    (self._preloaded_by[key] for p in scenario.preload
                     if (key := (scenario.api, p.id)) in self._preloaded_by),
                    None,
                )
                if theirs is None:
                    kept.append(scenario)
                else:
                    self.replaced.append((theirs, scenario))
            parsed = kept
        for scenario in parsed:
            earlier = self.scenarios.get(scenario.key)
            if earlier is not None:
                problems.append(
                    Problem(
                        name,
                        scenario.source.line,
                        f"a {scenario.api} scenario named {scenario.name!r} is already "
                        f"loaded from {earlier.source}: scenario names must be unique per API",
                    )
                )
            for preload in scenario.preload:
                first = self._preloaded.get((scenario.api, preload.id))
                if first is not None:
                    problems.append(
                        Problem(
                            name,
                            scenario.source.line,
                            f"preloaded {scenario.api} task {preload.id!r} is already "
                            f"preloaded by {first}",
                        )
                    )
        if problems:
            # All or nothing: a file with a mistake contributes nothing.
            self.problems.extend(problems)
            return
        for scenario in parsed:
            self.scenarios[scenario.key] = scenario
            for preload in scenario.preload:
                self._preloaded[(scenario.api, preload.id)] = scenario.source
                self._preloaded_by[(scenario.api, preload.id)] = scenario


def _parse_document(
    file: str,
    document: Document,
    apis: Mapping[str, ApiSpec],
    schemas: SchemaSet | None,
    problems: list[Problem],
) -> Scenario | None:
    def problem(path: JsonPath, message: str) -> None:
        where = format_path(path)
        problems.append(Problem(file, document.line_of(path), f"{where}: {message}" if where else message))

    for path, line in document.duplicate_keys:
        problems.append(Problem(file, line, f"{format_path(path)}: this key is given twice"))
    data = document.data
    if not isinstance(data, dict):
        problem((), "a scenario is a mapping with at least 'api' and 'name'")
        return None
    api_name = data.get("api")
    spec = apis.get(api_name) if isinstance(api_name, str) else None
    if spec is None:
        known = ", ".join(sorted(apis))
        problem(("api",), f"unknown API {api_name!r}: use one of {known}")
        return None
    count = len(problems)
    for schema_name in (SCENARIO_SCHEMA, f"{spec.name}/{SCENARIO_SCHEMA}") if schemas else ():
        for error in schemas.errors(schema_name, data):  # type: ignore[union-attr]
            path, message = explain_schema_error(error)
            problem(path, message)
    if len(problems) > count:
        return None
    return _build_scenario(file, document, spec, problem)


def explain_schema_error(error: jsonschema.ValidationError) -> tuple[JsonPath, str]:
    """A path and a message a person can act on, for one JSON Schema error."""
    path: JsonPath = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = [key for key in error.instance if key not in allowed]
        if extra:
            return (*path, extra[0]), f"unknown key (allowed here: {', '.join(allowed)})"
    if "propertyNames" in error.relative_schema_path and error.validator == "enum":
        # The error is about a key: point at it, and list the keys allowed.
        allowed = sorted(str(name) for name in error.validator_value)
        return (*path, error.instance), f"unknown key (allowed here: {', '.join(allowed)})"
    if error.validator == "required":
        return path, error.message.replace("is a required property", "is missing")
    if error.validator in ("oneOf", "anyOf") and isinstance(error.schema, dict) and "description" in error.schema:
        # A value of several accepted forms (a duration, a lifetime): say which forms, in
        # the schema's own words, not "is not valid under any of the given schemas".
        return path, f"{shown(error.instance)} is not valid here: {error.schema['description']}"
    return path, error.message


def _build_scenario(file: str, document: Document, spec: ApiSpec, problem: Any) -> Scenario | None:
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
    data: dict[str, Any], file: str, document: Document, api: str, lifecycle: Lifecycle | None, report: Any
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
    def __init__(self, problem: Any) -> None:
        self._problem = problem
        self.count = 0

    def report(self, path: JsonPath, message: str) -> None:
        self.count += 1
        self._problem(path, message)


def _build_lifecycle(raw_steps: list[dict[str, Any]], path: JsonPath, report: Any) -> Lifecycle | None:
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


def _check_template(text: str, path: JsonPath, report: Any) -> bool:
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
        elif root == "fake" and not _is_faker_provider(rest):
            report(path, f"${{{name}}}: Faker has no provider {rest!r}")
            ok = False
    return ok


def _is_faker_provider(name: str) -> bool:
    from .randomness import faker_has_provider

    return faker_has_provider(name)


def _build_trigger(raw: dict[str, Any], spec: ApiSpec, report: Any) -> Trigger | None:
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
    raw: dict[str, Any], path: JsonPath, spec: ApiSpec, lifecycle: Lifecycle | None, report: Any
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

"""Loading scenario files: each is checked against `schemas/scenario.schema.json` and then
against its API's own `schemas/<api>/scenario.schema.json` (which fields a step or a task
may carry), then for what a schema cannot say (durations, step order, templates, triggers,
ids: `scenario_builder.py`). Every mistake is reported with its file and line, all at once,
and a file with any mistake loads nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Problem, ScenarioError, shown
from .scenario import Catalog, Scenario, Source
from .scenario_builder import build_scenario
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
    return build_scenario(file, document, spec, problem)


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

"""A fault rule from its JSON form (the control API, the pytest handle) or a scenario's YAML:
checked for what a schema cannot say (the keys a kind takes, ranges that depend on each
other, APIs, scenarios and steps that exist), then made into a `faults.Fault`. One parser
for every way in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import EmulatorError, shown
from .fault_effects import (
    DEFAULT_RETRY_AFTER,
    PARAMETERS,
    Effect,
    Empty,
    ErrorStatus,
    Latency,
    Reset,
    SlowBody,
    Truncate,
)
from .faults import MATCH_KEYS, SELECT_KEYS, Fault, Match
from .lifecycle import Lifecycle, Phase


class FaultError(EmulatorError, ValueError):
    """A fault that cannot be: where in its JSON (a key path) and what is wrong."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class KnownScenario(Protocol):
    """What a fault rule's checks need of a loaded scenario."""

    @property
    def api(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def lifecycle(self) -> Lifecycle | None: ...


class ScenarioIndex(Protocol):
    """The loaded scenarios, as a rule naming a scenario is checked against them."""

    @property
    def scenarios(self) -> Mapping[tuple[str, str], KnownScenario]: ...


# ---- parsing: JSON (control API, pytest handle) or YAML (scenario files) into a Fault ------


@dataclass(frozen=True, slots=True)
class Owner:
    """The scenario that declares a fault: its API and name, and its lifecycle."""

    api: str
    scenario: str
    lifecycle: Lifecycle | None


def parse_fault(
    data: Mapping[str, Any],
    *,
    id: str = "",
    origin: str = "run-time",
    apis: Iterable[str] = (),
    catalog: ScenarioIndex | None = None,
    owner: Owner | None = None,
) -> Fault:
    """A Fault from its JSON form, already checked against `control/fault.schema.json`.
    Raises FaultError for what a schema cannot say: the keys a kind takes, ranges that
    depend on each other, APIs, scenarios and steps that do not exist."""
    kind = data["kind"]
    allowed = PARAMETERS[kind]
    for key in data:
        if key != "kind" and key not in allowed and key not in MATCH_KEYS and key not in SELECT_KEYS:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise FaultError((key,), f"not a parameter of a {kind} fault (it takes {takes})")
    effect = _effect(kind, data)
    match = _match(data, list(apis), catalog, owner)
    return Fault(
        id=id,
        effect=effect,
        match=match,
        probability=float(data.get("probability", 1.0)),
        # JSON Schema's integers include 2.0: held as ints, so they list and send as such.
        times=None if data.get("times") is None else int(data["times"]),
        origin=origin,
    )


def _effect(kind: str, data: Mapping[str, Any]) -> Effect:
    if kind == "latency":
        return _latency(data)
    if kind == "error":
        status = data.get("status")
        if status is None:
            raise FaultError((), "an error fault needs 'status' (500, 503 or 429)")
        retry_after = data.get("retry_after")
        if status == 500 and retry_after is not None:
            raise FaultError(("retry_after",), "a 500 carries no Retry-After (503 and 429 do)")
        if status != 500 and retry_after is None:
            retry_after = DEFAULT_RETRY_AFTER
        return ErrorStatus(int(status), None if retry_after is None else int(retry_after))
    if kind == "reset":
        return Reset()
    if kind == "empty":
        return Empty()
    if kind == "truncate":
        return Truncate(float(data.get("fraction", 0.5)))
    return SlowBody(int(data.get("chunk_bytes", 16)), float(data.get("interval", 0.1)))


def _latency(data: Mapping[str, Any]) -> Latency:
    distribution = data.get("distribution")
    given = {key for key in ("seconds", "min", "max", "mean") if key in data}
    if distribution is None:
        if given != {"seconds"}:
            extra = sorted(given - {"seconds"})
            if extra:
                raise FaultError((extra[0],), "takes a 'distribution' (uniform or exponential)")
            raise FaultError((), "a latency fault needs 'seconds', or a 'distribution'")
        return Latency(seconds=float(data["seconds"]))
    if "seconds" in data:
        raise FaultError(("seconds",), "give 'seconds' or a 'distribution', not both")
    if distribution == "uniform":
        if "mean" in data:
            raise FaultError(("mean",), "a uniform distribution takes 'min' and 'max', not 'mean'")
        if not {"min", "max"} <= given:
            raise FaultError((), "a uniform distribution needs 'min' and 'max'")
        low, high = float(data["min"]), float(data["max"])
        if low > high:
            raise FaultError(("min",), f"'min' ({low:g}) is more than 'max' ({high:g})")
        return Latency(distribution="uniform", low=low, high=high)
    if "min" in data:
        raise FaultError(("min",), "an exponential distribution takes 'mean' and an optional 'max'")
    if "mean" not in data:
        raise FaultError((), "an exponential distribution needs 'mean'")
    cap = float(data["max"]) if "max" in data else None
    return Latency(distribution="exponential", mean=float(data["mean"]), high=cap)


def _match(data: Mapping[str, Any], apis: list[str], catalog: ScenarioIndex | None, owner: Owner | None) -> Match:
    api = data.get("api")
    scenario = data.get("scenario")
    lifecycle: Lifecycle | None = None
    have_lifecycle = False
    if owner is not None:
        for key in ("api", "scenario"):
            if key in data:
                raise FaultError((key,), f"a scenario's faults are for its own API and tasks: leave out '{key}'")
        api = owner.api
        if any(key in data for key in ("task", "step")):
            scenario = owner.scenario
        lifecycle, have_lifecycle = owner.lifecycle, True
    else:
        if api is not None and apis and api not in apis:
            raise FaultError(("api",), f"unknown api {api!r}: use one of {', '.join(sorted(apis))}")
        if scenario is not None and catalog is not None:
            found = [s for s in catalog.scenarios.values() if s.name == scenario and api in (None, s.api)]
            if not found:
                where = f"{api} " if api else ""
                raise FaultError(("scenario",), f"no {where}scenario named {scenario!r}")
            if len(found) == 1:
                lifecycle, have_lifecycle = found[0].lifecycle, True
    step = data.get("step")
    if isinstance(step, float):  # a whole number, or the schema had refused it
        step = int(step)
    if step is not None:
        _check_step(step, lifecycle if have_lifecycle else None, have_lifecycle, owner is None and scenario is None)
    method = data.get("method")
    path = data.get("path")
    if path is not None and "?" in path and "=" in path.partition("?")[2]:
        # fnmatch reads '?' as any one character, and a request's path has no query string:
        # such a glob would never match.
        raise FaultError(("path",), "matches the path alone: give the query string's parameters in 'query'")
    query = data.get("query", {})
    return Match(
        api=api,
        method=None if method is None else str(method).upper(),
        path=path,
        query=tuple((str(k), _query_text(v)) for k, v in query.items()),
        scenario=scenario,
        task=None if data.get("task") is None else str(data["task"]),
        step=step,
    )


def _query_text(value: Any) -> str:
    """A query glob as it appears in a URL: a JSON or YAML `true` is "true", not "True"."""
    return value if isinstance(value, str) else json.dumps(value)


def _check_step(step: str | int, lifecycle: Lifecycle | None, known: bool, no_scenario: bool) -> None:
    if isinstance(step, int):
        if no_scenario:
            raise FaultError(("step",), "a step given by its index needs a 'scenario' (whose lifecycle it indexes)")
        if known and lifecycle is None:
            raise FaultError(("step",), "this scenario has no lifecycle of its own: name the step by its phase")
        if lifecycle is not None and not 0 <= step < len(lifecycle.steps):
            raise FaultError(("step",), f"the lifecycle has steps 0 to {len(lifecycle.steps) - 1}, not {step}")
        return
    phase = Phase.parse(step) if step in {p.value for p in Phase} else None
    if phase is None:
        raise FaultError(("step",), f"unknown phase {shown(step)}: use one of {', '.join(p.value for p in Phase)}")
    if lifecycle is not None and all(s.phase is not phase for s in lifecycle.steps):
        phases = ", ".join(dict.fromkeys(s.phase.value for s in lifecycle.steps))
        raise FaultError(("step",), f"the lifecycle has no {step!r} step (it has: {phases})")

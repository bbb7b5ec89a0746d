"""Fault injection: rules that make some vendor answers slow, wrong or broken, on purpose.

A `Fault` is a rule: what to do (its effect, `fault_effects.py`: latency, an error status, a
connection reset, an empty answer, a truncated body, a slow body), which requests it hits
(`Match`), and how often (`probability`, drawn from a seeded source, and/or the next
`times` matching requests). A `FaultSet` holds a server's rules: the ones its scenarios
declare and the ones added while it runs. Both are pure: they decide, and never touch a
socket.

When a rule is decided, and so what a faulted request does to the emulator's state:

- A rule that matches on the request alone (`api`, `method`, `path`, `query`) is decided
  when the request arrives, before the emulator answers it. `error`, `reset` and `empty`
  then stand *in front of* the vendor, like a proxy or a rate limiter: the emulator never
  sees the request, so no status read is counted and no task is created. `latency` delays
  the request before it is answered.
- A rule that names a task, a scenario or a lifecycle step can only be decided once the
  emulator knows which task the request reads and which step the answer shows, i.e. after
  the vendor handler answered. Such rules only hit status reads (the requests that count
  as a poll); the read has counted, and the fault replaces, delays or breaks the answer on
  its way back.
- `truncate` and `slow_body` act on the vendor's answer, so they are decided after the
  handler, request rules among them too, and only for an answer with a body to break: an
  empty body, a HEAD or a 204 neither uses them up nor is marked as faulted.

Handlers return their answer unsent, a streamed one (Spectrum Discover's result rows) with
an async iterable as its body, so every kind applies to every answer. An answer a handler
did send itself is past changing: no rule is tried on it, so none is used up.

One fault at most per request: the rules decided on arrival are tried first, then those
decided on the answer (request rules before task rules); within each, run-time rules before
scenario-declared ones, each in the order added. A rule is used up (`times`) and counted
only when it applies. A rule whose `times` is used up stays listed (with its count) but no
longer applies.

Parsing a rule from JSON or YAML is `faultspec.py`'s. The I/O edge, a decided fault applied
to an aiohttp request, is `fault_http.py`. The journal wrapper of every vendor route
(app.py) calls it only when the server has rules that can still apply: a server without
faults pays one truthiness check per request.

Bounded: at most MAX_RUN_TIME_FAULTS rules added at run time (the schema bounds each rule's
size), and a request is only tried against the rules that name its API and method or none:
the cost of a poll does not grow with rules for other APIs or methods, nor with rules whose
`times` is used up.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import heapq
import random
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import Conflict
from .fault_effects import BODY_EFFECTS, Effect, FaultKind, Latency

MATCH_KEYS = ("api", "method", "path", "query", "scenario", "task", "step")
SELECT_KEYS = ("probability", "times")
# Rules a server takes at run time (the control API, the pytest handle), besides those its
# scenarios declare: each is tried against requests, so they cannot be let grow without end.
MAX_RUN_TIME_FAULTS = 1000


# ---- matching -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What is known of a request when it arrives."""

    api: str | None
    method: str
    path: str
    query: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """What a status read showed: the task, its scenario, and its phase and step."""

    api: str
    scenario: str
    id: str
    phase: str
    # Index in the scenario's lifecycle; None when the task's phase comes from subtasks or a
    # forced transition took it off its scenario's steps.
    step: int | None


@dataclass(frozen=True, slots=True)
class Match:
    """Which requests a rule hits; every key given must match. Globs as in fnmatch."""

    api: str | None = None
    method: str | None = None
    path: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    scenario: str | None = None
    task: str | None = None
    step: str | int | None = None

    @property
    def on_task(self) -> bool:
        """True when the rule needs to know the task, so it is decided after the handler."""
        return self.scenario is not None or self.task is not None or self.step is not None

    def request_matches(self, request: RequestFacts) -> bool:
        return (
            (self.api is None or self.api == request.api)
            and (self.method is None or self.method == request.method)
            and (self.path is None or fnmatch.fnmatchcase(request.path, self.path))
            and all(
                name in request.query and fnmatch.fnmatchcase(request.query[name], pattern)
                for name, pattern in self.query
            )
        )

    def task_matches(self, task: TaskFacts) -> bool:
        return (
            (self.api is None or self.api == task.api)
            and (self.scenario is None or self.scenario == task.scenario)
            and (self.task is None or fnmatch.fnmatchcase(task.id, self.task))
            and (
                self.step is None
                or (self.step == task.step if isinstance(self.step, int) else self.step == task.phase)
            )
        )

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key in MATCH_KEYS:
            value = getattr(self, key)
            if key == "query":
                if value:
                    found[key] = dict(value)
            elif value is not None:
                found[key] = value
        return found


@dataclass(frozen=True, slots=True)
class Fault:
    """One rule: an effect, the requests it hits, and how often."""

    id: str
    effect: Effect
    match: Match = field(default_factory=Match)
    probability: float = 1.0
    times: int | None = None
    origin: str = "run-time"

    @property
    def kind(self) -> FaultKind:
        return self.effect.kind

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "kind": self.kind, **self.effect.to_json(), **self.match.to_json()}
        if self.probability != 1.0:
            body["probability"] = self.probability
        if self.times is not None:
            body["times"] = self.times
        body["origin"] = self.origin
        return body


@dataclass(frozen=True, slots=True)
class Decision:
    """A rule that fired for one request, and the latency it drew (0 for other kinds)."""

    fault: Fault
    delay: float = 0.0


def too_many_faults() -> Conflict:
    return Conflict(
        f"a server takes at most {MAX_RUN_TIME_FAULTS:,} faults at run time: remove one "
        "(DELETE /_emulator/faults/{id}) or all of them (DELETE /_emulator/faults) first"
    )


class FaultSet:
    """A server's rules, the seeded source their probabilities and latencies draw from, and
    how often each has applied. `reset()` restores the scenario-declared rules, drops the
    run-time ones and starts the counts and the random sequence again."""

    def __init__(self, declared: Iterable[Fault] = (), seed: int | None = None) -> None:
        self._declared = tuple(declared)
        self._seed = seed
        # Not restarted by reset: a run-time id names one rule for the server's whole life,
        # so an id (or a handle) kept from before a reset can never reach a newer rule.
        self._serial = 0
        self.reset()

    def reset(self) -> None:
        # A source of its own, derived from the server seed: drawing for faults never
        # shifts the ids and fake data the engine draws, and a seed replays both.
        self._random = random.Random(None if self._seed is None else f"task-emulator faults {self._seed}")
        self._run_time: list[Fault] = []
        self._scenario: list[Fault] = list(self._declared)
        self._applied: dict[str, int] = {}
        self._refresh()

    def __bool__(self) -> bool:
        """True when a rule can still apply to some request."""
        return self._any

    def _refresh(self) -> None:
        """Index the rules that can still apply (after every change, and when a rule's
        `times` runs out: a cost in the number of rules, never paid per request)."""
        rules = self.rules()
        self._by_id = {f.id: f for f in rules}
        live = [f for f in rules if f.times is None or self._applied.get(f.id, 0) < f.times]
        self._any = bool(live)

        def on_body(fault: Fault) -> bool:
            return not fault.match.on_task and isinstance(fault.effect, BODY_EFFECTS)

        on_request = [f for f in live if not f.match.on_task and not on_body(f)]
        self._request_rules = _RuleIndex(on_request)
        on_answer = [*filter(on_body, live), *(f for f in live if f.match.on_task)]
        self._answer_rules = _RuleIndex(on_answer)

    def rules(self) -> list[Fault]:
        """Every rule, in the order they are tried."""
        return [*self._run_time, *self._scenario]

    def applied(self, fault_id: str) -> int:
        return self._applied.get(fault_id, 0)

    def remaining(self, fault: Fault, applied: int | None = None) -> int | None:
        """Applications left (None: no `times`); `applied` as counted elsewhere (a shared
        store), or by this set."""
        used = self.applied(fault.id) if applied is None else applied
        return None if fault.times is None else max(fault.times - used, 0)

    def add(self, fault: Fault) -> Fault:
        """Add a run-time rule, tried after the run-time rules before it; it gets the next
        id ("1", "2" …) whatever id it had. Ids never repeat, not even after a reset.
        Conflict when the server already has MAX_RUN_TIME_FAULTS run-time rules."""
        if len(self._run_time) >= MAX_RUN_TIME_FAULTS:
            raise too_many_faults()
        self._serial += 1
        fault = dataclasses.replace(fault, id=str(self._serial))
        self._run_time.append(fault)
        self._refresh()
        return fault

    def get(self, fault_id: str) -> Fault | None:
        return self._by_id.get(fault_id)

    def describe(self, fault: Fault, applied: int | None = None) -> dict[str, Any]:
        """A rule as the control API lists it: its JSON, how often it applied (`applied` as
        counted elsewhere, or by this set), what is left."""
        used = self.applied(fault.id) if applied is None else applied
        return {**fault.to_json(), "applied": used, "remaining": self.remaining(fault, used)}

    def remove(self, fault_id: str) -> bool:
        """Drop one rule (a scenario's comes back on reset); False when there is none."""
        before = len(self._run_time) + len(self._scenario)
        self._run_time = [f for f in self._run_time if f.id != fault_id]
        self._scenario = [f for f in self._scenario if f.id != fault_id]
        self._refresh()
        return len(self._run_time) + len(self._scenario) < before

    def clear(self) -> None:
        """Drop every rule, the scenario-declared ones included (until the next reset)."""
        self._run_time.clear()
        self._scenario.clear()
        self._refresh()

    def restore(self, run_time: Sequence[Fault], declared: Container[str] | None) -> None:
        """The rules as a shared store keeps them for every replica: `run_time` in order,
        with the ids they were given there, and the scenario-declared rules whose ids are in
        `declared` (None: all of them). The counts and the random sequence carry on."""
        self._run_time = list(run_time)
        self._scenario = [f for f in self._declared if declared is None or f.id in declared]
        self._refresh()

    def exhaust(self, fault_id: str) -> None:
        """The rule's `times` ran out on some replica: no request is tried against it here."""
        fault = self._by_id.get(fault_id)
        if fault is not None and fault.times is not None:
            self._applied[fault_id] = fault.times
            self._refresh()

    @property
    def declared(self) -> tuple[Fault, ...]:
        return self._declared

    def on_request(self, request: RequestFacts) -> Decision | None:
        """The rule that hits this request as it arrives, if any: latency, or an answer in
        the vendor's place."""
        candidates = self._request_rules.candidates(request.api, request.method)
        return self._first(candidates, lambda f: f.match.request_matches(request))

    def on_answer(self, request: RequestFacts, task: TaskFacts | None, has_body: bool) -> Decision | None:
        """The rule that hits the handler's unsent answer: a task rule when the request was
        a status read (`task`, what it showed), a rule breaking the body when there is one."""

        def applies(fault: Fault) -> bool:
            match = fault.match
            return (
                (has_body or not isinstance(fault.effect, BODY_EFFECTS))
                and match.request_matches(request)
                and (not match.on_task or (task is not None and match.task_matches(task)))
            )

        return self._first(self._answer_rules.candidates(request.api, request.method), applies)

    @property
    def has_answer_rules(self) -> bool:
        return bool(self._answer_rules)

    def _first(self, rules: Iterable[Fault], applies: Callable[[Fault], bool]) -> Decision | None:
        for fault in rules:
            if not applies(fault):
                continue
            used = self._applied.get(fault.id, 0)
            if fault.times is not None and used >= fault.times:
                continue
            if fault.probability < 1.0 and self._random.random() >= fault.probability:
                continue
            self._applied[fault.id] = used + 1
            if fault.times is not None and used + 1 >= fault.times:
                self._refresh()  # used up: no request is tried against it again
            effect = fault.effect
            delay = effect.draw(self._random) if isinstance(effect, Latency) else 0.0
            return Decision(fault, delay)
        return None


class _RuleIndex:
    """Rules in the order they are tried, bucketed by the API and method they name (None:
    any). A request can only match the rules of four buckets, (its API or any) × (its
    method or any): only those are tried, merged back into their order."""

    def __init__(self, rules: Sequence[Fault]) -> None:
        self._count = len(rules)
        self._buckets: dict[tuple[str | None, str | None], list[tuple[int, Fault]]] = {}
        for position, fault in enumerate(rules):
            key = (fault.match.api, fault.match.method)
            self._buckets.setdefault(key, []).append((position, fault))

    def __bool__(self) -> bool:
        return self._count > 0

    def candidates(self, api: str | None, method: str) -> Iterable[Fault]:
        if not self._count:
            return ()
        keys: list[tuple[str | None, str | None]] = [(None, method), (None, None)]
        if api is not None:  # a request no API took matches no rule naming one
            keys += [(api, method), (api, None)]
        found = [bucket for bucket in map(self._buckets.get, keys) if bucket]
        if not found:
            return ()
        if len(found) == 1:
            return (fault for _, fault in found[0])
        # Positions are unique, so the merge never compares two rules.
        return (fault for _, fault in heapq.merge(*found))

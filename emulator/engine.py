"""The engine that makes, finds, observes and moves tasks (emulator/task.py).

A task stores only where it stood when last observed (see `lifecycle.advance`); observing it
brings it up to the clock. Nothing here knows HTTP: vendor modules and the control API call
the engine, the engine calls nothing outside itself but the clock and the random source.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .clock import Clock
from .errors import Conflict, NotFound, TaskRefused, shown
from .lifecycle import Lifecycle, Phase, Position, Step, advance
from .randomness import RandomSource
from .scenario import EMPTY, Catalog, FieldTemplate, Scenario
from .task import Subtask, SubtaskView, Task, TaskView, derived_phase, over_limit

if TYPE_CHECKING:
    from .vendor import ApiSpec, IdSource

# A task's fields (its messages, a query it was made with …) are kept until a reset: a
# client's request may fill them, so they are bounded (64 KiB of text), well past any real
# message or query.
MAX_FIELD_CHARS = 65_536


class Engine:
    """The emulated tasks of every API, the clock they are judged by, and the seeded source."""

    def __init__(
        self,
        catalog: Catalog,
        apis: Mapping[str, ApiSpec],
        clock_factory: Callable[[], Clock],
        seed: int | None = None,
        task_limit: int | None = None,
    ) -> None:
        self.catalog = catalog
        # Every task is kept until a reset: the bound on what clients can make a server hold.
        self.task_limit = task_limit
        self.apis = apis
        self._clock_factory = clock_factory
        self.clock = clock_factory()
        self.random = RandomSource(seed)
        self._tasks: dict[str, dict[str, Task]] = {api: {} for api in apis}
        self._serials: dict[str, int] = {}
        self.load_preloads()

    # ---- state as a whole ---------------------------------------------------------------

    def reset(self) -> None:
        """Back to the loaded scenarios and their preloaded tasks, with a fresh clock and
        the random sequence started again."""
        self.clock = self.new_clock()
        self.random.reseed()
        for tasks in self._tasks.values():
            tasks.clear()
        self._serials.clear()
        self.load_preloads()

    def new_clock(self) -> Clock:
        """A clock as this engine was started with: its mode, start and scale."""
        return self._clock_factory()

    def load_preloads(self) -> None:
        for scenario in self.catalog.scenarios.values():
            for preload in scenario.preload:
                self.create_task(
                    scenario,
                    task_id=preload.id,
                    fields=preload.fields,
                    scope=preload.scope,
                    created_at=preload.created_at,
                    at=preload.at,
                )

    def next_serial(self, api: str) -> int:
        """The next integer id of an API whose ids count up (like a database sequence)."""
        tasks = self._tasks[api]
        serial = self._serials.get(api, 0) + 1
        while str(serial) in tasks:
            serial += 1
        self._serials[api] = serial
        return serial

    # ---- tasks ----------------------------------------------------------------------------

    def scenario(self, api: str, name: str) -> Scenario:
        scenario = self.catalog.get(api, name)
        if scenario is None:
            known = ", ".join(s.name for s in self.catalog.for_api(api)) or "none"
            raise NotFound(f"no {api} scenario named {shown(name)} (loaded: {known})")
        return scenario

    def create_task(self, scenario: Scenario, *, task_id: str | None = None, **create: Any) -> Task:
        """Make a task from `scenario` (build_task's keywords) and keep it: Conflict for an
        id taken, TaskRefused at the task limit."""
        tasks = self._tasks[scenario.api]
        if self.task_limit is not None and self.count() >= self.task_limit:
            raise over_limit(self.task_limit)
        if task_id is not None and task_id in tasks:
            raise Conflict(f"a {scenario.api} task with id {shown(task_id)} already exists")
        task = self.build_task(scenario, self, task_id=task_id, **create)
        tasks[task.id] = task
        return task

    def build_task(
        self,
        scenario: Scenario,
        ids: IdSource,
        *,
        task_id: str | None = None,
        fields: Mapping[str, Any] = EMPTY,
        scope: Mapping[str, str] | None = None,
        facts: Mapping[str, Any] = EMPTY,
        created_at: float | None = None,
        at: Phase | None = None,
    ) -> Task:
        """A task of `scenario` with its id (unless given) and seed drawn from `ids`, as of
        `ids.now()`; not kept (see `create_task`, and a shared store's own `create`).
        `facts` (the triggering request's body, query …) fill the scenario's ${...}
        placeholders; `fields` override the scenario's task fields."""
        spec = self.apis[scenario.api]
        if task_id is None:
            task_id = spec.new_task_id(ids)
        now = ids.now()
        born = now if created_at is None else created_at
        lifecycle = scenario.lifecycle
        if lifecycle is None:
            position = Position(0, born, 0)
        elif at is None:
            position = advance(lifecycle, Position(0, born, 0), now, 0)
        else:
            position = Position(lifecycle.index_of(at), now, 0)
        full_scope = dict(spec.scope_defaults) if scope is None else {**spec.scope_defaults, **scope}
        overrides = self._render_fields(scenario, ids, task_id, full_scope, facts)
        overrides.update(fields)
        size = sum(len(value) for value in overrides.values() if isinstance(value, str))
        if size > MAX_FIELD_CHARS:
            raise TaskRefused(
                413,
                f"the task's fields hold {size:,} characters: a task keeps at most {MAX_FIELD_CHARS:,}",
            )
        subtasks = tuple(
            Subtask(
                spec.new_subtask_id(ids, task_id, index),
                index,
                sub.lifecycle,
                advance(sub.lifecycle, Position(0, born, 0), now, 0),
            )
            for index, sub in enumerate(scenario.subtasks)
        )
        return Task(
            scenario.api,
            task_id,
            scenario,
            born,
            ids.random.task_seed(),
            lifecycle,
            position,
            MappingProxyType(overrides) if overrides else EMPTY,
            MappingProxyType(full_scope) if full_scope else EMPTY,
            subtasks,
        )

    def _render_fields(
        self, scenario: Scenario, ids: IdSource, task_id: str, scope: Mapping[str, str], facts: Mapping[str, Any]
    ) -> dict[str, Any]:
        if not scenario.templated:
            return {}
        if not facts:
            facts = self.apis[scenario.api].default_facts(ids)
        values = _Placeholders(ids.random, {"id": task_id, "scope": scope, **facts})
        return {
            name: FieldTemplate(scenario.fields[name]).safe_substitute(values)
            for name in scenario.templated
        }

    def now(self) -> float:
        return self.clock.now()

    def taken(self, api: str, task_id: str) -> bool:
        return task_id in self._tasks[api]

    def find(self, api: str, task_id: str) -> Task | None:
        return self._tasks[api].get(task_id)

    def get(self, api: str, task_id: str) -> Task:
        task = self._tasks.get(api, {}).get(task_id)
        if task is None:
            raise NotFound(f"no {api} task with id {shown(task_id)}")
        return task

    def tasks(self, api: str | None = None) -> Iterator[Task]:
        if api is not None:
            yield from self._tasks[api].values()
            return
        for tasks in self._tasks.values():
            yield from tasks.values()

    def count(self) -> int:
        return sum(len(tasks) for tasks in self._tasks.values())

    # ---- observing and moving tasks -------------------------------------------------------

    def observe(self, task: Task, *, count_read: bool) -> TaskView:
        """The task as of now. A status read by a client counts (`count_read`); a look from
        the control API does not, so inspecting a task never moves it."""
        now = self.clock.now()
        task.settle(now)
        view = self.view(task, now)
        if count_read:
            task.reads += 1
            task.settle(now)
        return view

    def view(self, task: Task, now: float) -> TaskView:
        """`task` as seen at `now` (already settled to it), its read count unchanged."""
        scenario = task.scenario
        lifecycle = task.lifecycle
        if lifecycle is not None and not task.subtasks:  # most tasks: no subtask views to build
            step = lifecycle.steps[task.position.index]
            return TaskView(
                task, step.phase, step, task.position.index, task.position.entered_at,
                _layers(task.overrides, step.fields, scenario.fields), (), now, task.reads, task.state(),
            )
        subviews = tuple(
            SubtaskView(
                sub.id,
                scenario.subtasks[sub.spec_index].name,
                step.phase,
                step,
                sub.position.entered_at,
                task.created_at,
                _layers(step.fields, scenario.subtasks[sub.spec_index].fields),
            )
            for sub in task.subtasks
            for step in (sub.lifecycle.steps[sub.position.index],)
        )
        changed_at = max((s.entered_at for s in subviews), default=task.created_at)
        if lifecycle is None:
            return TaskView(
                task, derived_phase([s.phase for s in subviews]), None, None, changed_at,
                _layers(task.overrides, scenario.fields), subviews, now, task.reads, task.state(),
            )
        index = task.position.index
        step = lifecycle.steps[index]
        return TaskView(
            task, step.phase, step, index, max(task.position.entered_at, changed_at),
            _layers(task.overrides, step.fields, scenario.fields), subviews, now, task.reads, task.state(),
        )

    def transition(
        self,
        task: Task,
        phase: Phase,
        message: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> TaskView:
        """Force `task` into `phase` from now on, whatever its lifecycle said. The fields of
        the step it was in carry over; `message` goes wherever the API shows one (its
        `forced_fields`), and `fields` (what an API wants frozen into the new step, e.g.
        progress at an abort) are laid over them. Subtasks follow a parent forced to an end
        as the vendor's would: all succeed with it, or those still going fail with it."""
        self.force(task, phase, message, fields, now=self.clock.now())
        return self.observe(task, count_read=False)

    def force(
        self, task: Task, phase: Phase, message: str | None, fields: Mapping[str, Any] | None, *, now: float
    ) -> None:
        """What `transition` does to `task`, as of `now` (a shared store's clock)."""
        task.settle(now)
        step_fields: dict[str, Any] = {}
        if task.lifecycle is not None:
            step_fields.update(task.lifecycle.steps[task.position.index].fields)
        if fields:
            step_fields.update(fields)
        shown_message: Mapping[str, Any] = {}
        if message is not None:
            shown_message = self.apis[task.api].forced_fields(phase, message, step_fields)
            step_fields.update(shown_message)
        forced = set(fields or ()) | set(shown_message)
        if forced & set(task.overrides):
            # What is forced now wins over the values the task was made with.
            task.overrides = MappingProxyType({k: v for k, v in task.overrides.items() if k not in forced})
        task.lifecycle = Lifecycle((Step(phase, fields=MappingProxyType(step_fields)),))
        task.position = Position(0, now, task.reads)
        if phase.is_terminal:
            for sub in task.subtasks:
                current = sub.lifecycle.steps[sub.position.index]
                if current.phase.is_terminal:
                    continue
                sub_fields = dict(current.fields)
                if phase is Phase.FAILED and message is not None:
                    sub_fields.update(self.apis[task.api].forced_fields(phase, message, sub_fields))
                sub.lifecycle = Lifecycle((Step(phase, fields=MappingProxyType(sub_fields)),))
                sub.position = Position(0, now, task.reads)

    def advance_clock(self, seconds: float) -> float:
        return self.clock.advance(seconds)


def _layers(*layers: Mapping[str, Any]) -> Mapping[str, Any]:
    """The layers as one mapping, earlier ones winning; no copy when only one has keys."""
    present = [layer for layer in layers if layer]
    if len(present) > 1:
        return ChainMap(*present)  # type: ignore[arg-type]
    return present[0] if present else EMPTY


class _Placeholders(Mapping[str, Any]):
    """What `${name}` means when a task's fields are rendered: request facts by dotted
    path (`body.path`, `query.sql`), the task's id and scope, and `fake.<provider>` drawn
    from the seeded Faker."""

    def __init__(self, random: RandomSource, facts: Mapping[str, Any]) -> None:
        self._random = random
        self._facts = facts

    def __getitem__(self, name: str) -> Any:
        root, _, rest = name.partition(".")
        if root == "fake":
            return getattr(self._random.faker, rest)()
        value: Any = self._facts.get(root)
        for part in rest.split(".") if rest else ():
            if not isinstance(value, Mapping) or part not in value:
                return ""
            value = value[part]
        return "" if value is None else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._facts)

    def __len__(self) -> int:
        return len(self._facts)

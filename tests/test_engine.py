"""The engine: tasks made from scenarios, observed on a clock, moved by force."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.apis import API_CLASSES
from emulator.apis.base import RenderCache
from emulator.clock import RealClock, VirtualClock
from emulator.engine import Engine
from emulator.errors import Conflict, NotFound
from emulator.lifecycle import Phase
from emulator.randomness import RandomSource
from emulator.scenario_loader import load_catalog
from emulator.state import load_schemas
from emulator.task import TaskView, derived_phase

from .helpers import write

SCENARIOS = """\
api: traffic_ops
name: three-polls
task:
  message: "Job ${id} for ${body.owner} (${fake.user_name})"
lifecycle:
  - {phase: running, polls: 3}
  - {phase: succeeded, message: done}
---
api: traffic_ops
name: timed
lifecycle:
  - {phase: scheduled, for: 10s}
  - {phase: running, for: 20s}
  - {phase: failed, message: broke}
preload:
  - {id: 7, at: running}
  - {id: 8, created_at: 1000}
"""


def make_engine(tmp_path: Path, seed: int | None = 1) -> Engine:
    catalog = load_catalog([write(tmp_path, "s.yaml", SCENARIOS)], API_CLASSES, load_schemas())
    return Engine(catalog, API_CLASSES, lambda: VirtualClock(5000.0), seed=seed)


def test_preloads_start_where_they_say(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    running = engine.observe(engine.get("traffic_ops", "7"), count_read=False)
    assert (running.phase, running.entered_at, running.created_at) == (Phase.RUNNING, 5000.0, 5000.0)
    # Created at t=1000, so by t=5000 its lifecycle has run out: failed at 1000 + 30.
    finished = engine.observe(engine.get("traffic_ops", "8"), count_read=False)
    assert (finished.phase, finished.entered_at, finished.message) == (Phase.FAILED, 1030.0, "broke")


def test_reads_move_poll_based_tasks_but_looks_do_not(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    task = engine.create_task(engine.scenario("traffic_ops", "three-polls"))
    for _ in range(5):
        assert engine.observe(task, count_read=False).phase is Phase.RUNNING
    phases = [engine.observe(task, count_read=True).phase for _ in range(4)]
    assert phases == [Phase.RUNNING, Phase.RUNNING, Phase.RUNNING, Phase.SUCCEEDED]
    assert task.reads == 4


def test_placeholders_are_filled_from_request_facts_and_the_seed(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, seed=42)
    task = engine.create_task(engine.scenario("traffic_ops", "three-polls"), facts={"body": {"owner": "ana"}})
    message = engine.observe(task, count_read=False).message
    assert message is not None and message.startswith(f"Job {task.id} for ana (")
    again = make_engine(tmp_path / "again", seed=42)
    same = again.create_task(again.scenario("traffic_ops", "three-polls"), facts={"body": {"owner": "ana"}})
    assert again.observe(same, count_read=False).message == message  # the seed replays it
    missing = engine.create_task(engine.scenario("traffic_ops", "three-polls"))
    assert " for  (" in str(engine.observe(missing, count_read=False).message)


def test_the_same_seed_gives_the_same_draws() -> None:
    first, second, other = RandomSource(9), RandomSource(9), RandomSource(10)
    draws = [(s.uuid4(), s.hex_id(), s.task_seed(), s.faker.file_path()) for s in (first, second, other)]
    assert draws[0] == draws[1] != draws[2]
    first.reseed()
    assert first.uuid4() == draws[0][0]


def test_transition_pins_a_phase_and_keeps_fields(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    task = engine.create_task(engine.scenario("traffic_ops", "timed"))
    view = engine.transition(task, Phase.SUCCEEDED)
    assert (view.phase, view.entered_at) == (Phase.SUCCEEDED, 5000.0)
    engine.advance_clock(1000)
    assert engine.observe(task, count_read=True).phase is Phase.SUCCEEDED
    view = engine.transition(task, Phase.FAILED, "stopped by hand")
    assert (view.phase, view.message) == (Phase.FAILED, "stopped by hand")


def test_ids_are_unique_per_api(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    scenario = engine.scenario("traffic_ops", "timed")
    assert engine.create_task(scenario).id == "1"  # the sequence skips preloaded 7 and 8 later
    with pytest.raises(Conflict):
        engine.create_task(scenario, task_id="7")
    ids = [engine.create_task(scenario).id for _ in range(7)]
    assert ids == ["2", "3", "4", "5", "6", "9", "10"]
    with pytest.raises(NotFound, match="no traffic_ops task with id '99'"):
        engine.get("traffic_ops", "99")
    with pytest.raises(NotFound, match="no traffic_ops scenario named 'x' \\(loaded: three-polls, timed\\)"):
        engine.scenario("traffic_ops", "x")


def test_reset_goes_back_to_the_preloads(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.create_task(engine.scenario("traffic_ops", "timed"))
    engine.advance_clock(50)
    engine.reset()
    assert sorted(t.id for t in engine.tasks()) == ["7", "8"]
    assert engine.clock.now() == 5000.0


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        ([Phase.RUNNING, Phase.FAILED], Phase.FAILED),
        ([Phase.SUCCEEDED, Phase.SUCCEEDED], Phase.SUCCEEDED),
        ([Phase.SUCCEEDED, Phase.RUNNING], Phase.RUNNING),
        ([Phase.SCHEDULED, Phase.SCHEDULED], Phase.SCHEDULED),
        ([Phase.SCHEDULED, Phase.SUCCEEDED], Phase.RUNNING),
    ],
)
def test_derived_phase(phases: list[Phase], expected: Phase) -> None:
    assert derived_phase(phases) is expected


def test_clocks() -> None:
    virtual = VirtualClock(100.0)
    assert virtual.now() == 100.0 and virtual.advance(5) == 105.0 and virtual.now() == 105.0
    with pytest.raises(ValueError):
        virtual.advance(-1)
    ticks = iter([1000.0, 1000.0, 1010.0, 1010.0])
    fast = RealClock(scale=6.0, source=lambda: next(ticks))
    assert fast.now() == 1000.0
    assert fast.now() == 1060.0  # ten real seconds are a minute
    assert fast.advance(40) == 1100.0


# ---- what APIs render from a view ---------------------------------------------------------


def test_a_render_is_reused_only_while_the_task_state_it_was_made_from_holds(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    cache: RenderCache[str] = RenderCache()
    renders: list[str] = []

    def render(view: TaskView) -> str:
        renders.append(view.phase.value + (", forced" if view.message == "forced" else ""))
        return renders[-1]

    scenario = engine.scenario("traffic_ops", "three-polls")
    task = engine.create_task(scenario)
    first = engine.observe(task, count_read=True)
    assert cache.get(first, lambda: render(first)) == "running"
    again = engine.observe(task, count_read=True)
    assert cache.get(again, lambda: render(again)) == "running"
    assert len(renders) == 1  # same step, same fields: not rendered again
    # The third read ends the step: the view still saw it running, the next one does not.
    third = engine.observe(task, count_read=True)
    assert cache.get(third, lambda: render(third)) == "running"
    fourth = engine.observe(task, count_read=True)
    assert cache.get(fourth, lambda: render(fourth)) == "succeeded"
    # A forced transition is a new state even in the same phase.
    engine.transition(task, Phase.SUCCEEDED, "forced")
    forced = engine.observe(task, count_read=False)
    assert cache.get(forced, lambda: render(forced)) == "succeeded, forced"
    # After a reset a task with the same id is another task.
    engine.reset()
    reborn = engine.create_task(scenario)
    assert reborn.id == task.id
    view = engine.observe(reborn, count_read=False)
    assert cache.get(view, lambda: render(view)) == "running"
    assert len(renders) == 4

"""The Redis store against the memory store: the same lifecycles, reads and clock moves give
the same task states, step for step.

A status read on Redis is moved on by `lifecycle.advance` written again in Lua (one atomic
script per read), so this holds the two to the same answers over random lifecycles (steps
that end by time, by reads, by both or never), random clock moves from a second to a week,
and counted and uncounted reads in a random order.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from emulator.config import EmulatorConfig
from emulator.state import build_runtime
from emulator.store import StoreUnavailable

from .helpers import CLOCK_START
from .redis_server import RedisServer

DURATIONS = (None, "1s", "45s", "10m", "6h", "2d")
POLLS = (None, 1, 2, 5)


def lifecycle_yaml(rng: random.Random, name: str) -> str:
    steps = []
    for index in range(rng.randint(1, 5)):
        phase = "scheduled" if index == 0 else "running"
        duration, polls = rng.choice(DURATIONS), rng.choice(POLLS)
        if duration is None and polls is None:
            polls = 1  # a step that never ends is only ever the last
        step = f"  - phase: {phase}\n"
        step += f"    for: {duration}\n" if duration else ""
        step += f"    polls: {polls}\n" if polls else ""
        steps.append(step)
    steps.append(f"  - phase: {rng.choice(['succeeded', 'failed'])}\n")
    return f"api: traffic_ops\nname: {name}\nlifecycle:\n{''.join(steps)}"


@pytest.fixture
def scenarios(tmp_path: Path) -> list[str]:
    rng = random.Random(2026)
    names = [f"random-{n}" for n in range(12)]
    (tmp_path / "random.yaml").write_text("---\n".join(lifecycle_yaml(rng, name) for name in names))
    return names


def state(view: Any) -> tuple[Any, ...]:
    return (view.phase, view.step_index, view.entered_at, view.reads, view.observed_at)


async def test_reads_and_clock_moves_give_the_same_states_on_both_stores(
    redis_server: RedisServer, scenarios: list[str], tmp_path: Path
) -> None:
    redis_server.flush()
    settings: dict[str, Any] = {
        "clock": "virtual", "clock_start": CLOCK_START, "seed": 3, "scenario_paths": (tmp_path,), "builtin_scenarios": False
    }
    memory = build_runtime(EmulatorConfig(**settings)).store
    shared = build_runtime(EmulatorConfig(**settings, store=redis_server.url)).store
    rng = random.Random(7)
    try:
        pairs = []
        for name in scenarios:
            scenario = memory.engine.scenario("traffic_ops", name)
            made = [await store.create(scenario, task_id=name) for store in (memory, shared)]
            pairs.append(made)
        steps = 0
        for _ in range(400):
            roll = rng.random()
            if roll < 0.25:
                seconds = rng.choice((1, 30, 61, 3_600, 6 * 3_600 + 1, 86_400, 7 * 86_400))
                assert await memory.advance_clock(seconds) == await shared.advance_clock(seconds)
                continue
            on_memory, on_redis = rng.choice(pairs)
            count = roll < 0.8
            seen = [await memory.read(on_memory, count=count), await shared.read(on_redis, count=count)]
            assert state(seen[0]) == state(seen[1]), f"after {steps} reads: {on_memory.scenario.name}"
            steps += 1
        assert steps > 250
        # Every task ended up somewhere, and the listings agree.
        for api in ("traffic_ops",):
            listed = [
                (await store.page(api, scenario=None, phase=None, offset=0, limit=100))[0] for store in (memory, shared)
            ]
            assert [state(v) for v in listed[0]] == [state(v) for v in listed[1]]
    finally:
        await shared.close()


async def test_a_store_that_cannot_be_reached_says_so_and_recovers(redis_server: RedisServer) -> None:
    redis_server.flush()
    config = EmulatorConfig(clock="virtual", clock_start=CLOCK_START, seed=3, store=redis_server.url)
    store = build_runtime(config).store
    try:
        assert await store.problem() is None
        redis_server.stop()
        problem = await store.problem()
        assert problem is not None and "unavailable" in problem and redis_server.url.split("//")[1] in problem
        with pytest.raises(StoreUnavailable):
            await store.count()
        redis_server.start()  # back, empty: set up again on first use, without a restart
        assert await store.problem() is None
        assert await store.count() == sum(len(s.preload) for s in store.engine.catalog.scenarios.values())
        assert await store.now() == CLOCK_START
    finally:
        await store.close()


async def test_the_address_shown_has_no_password(redis_server: RedisServer) -> None:
    url = redis_server.url.replace("redis://", "redis://user:s3cret-pw@")
    store = build_runtime(EmulatorConfig(clock="virtual", store=url)).store
    try:
        assert "s3cret-pw" not in store.name
        redis_server.stop()
        problem = await store.problem()
        assert problem is not None and "s3cret-pw" not in problem
    finally:
        redis_server.start()
        await store.close()


def test_a_redis_store_without_redis_py_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from emulator.errors import ConfigError

    for name in [n for n in sys.modules if n == "redis" or n.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)  # what an install without the extra sees
    with pytest.raises(ConfigError, match=r"pip install 'task-emulator\[redis\]'"):
        build_runtime(EmulatorConfig(clock="virtual", store="redis://127.0.0.1:6379/0"))

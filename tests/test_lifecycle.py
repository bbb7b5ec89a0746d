"""The lifecycle as pure functions: where a task stands after time passes and reads happen."""

from __future__ import annotations

import pytest

from emulator.lifecycle import (
    Lifecycle,
    Phase,
    Position,
    Step,
    advance,
    lifecycle_problems,
    parse_duration,
    start,
)

SCHEDULED, RUNNING, SUCCEEDED, FAILED = Phase.SCHEDULED, Phase.RUNNING, Phase.SUCCEEDED, Phase.FAILED


def walk(lifecycle: Lifecycle, reads_at: list[float], until: float) -> tuple[list[Phase], Position]:
    """What each read at the given times sees, reading as the engine does (advance, count,
    advance), and the position at `until`."""
    position, reads, seen = start(0.0), 0, []
    for now in reads_at:
        position = advance(lifecycle, position, now, reads)
        seen.append(lifecycle.steps[position.index].phase)
        reads += 1
        position = advance(lifecycle, position, now, reads)
    return seen, advance(lifecycle, position, until, reads)


def test_time_based_steps_end_after_their_duration() -> None:
    lifecycle = Lifecycle((Step(SCHEDULED, 5), Step(RUNNING, 30), Step(SUCCEEDED)))
    seen, final = walk(lifecycle, [0, 4.9, 5, 34.9, 35, 1000], until=1000)
    assert seen == [SCHEDULED, SCHEDULED, RUNNING, RUNNING, SUCCEEDED, SUCCEEDED]
    # The terminal step began at its deadline, not when it was first seen.
    assert final == Position(2, 35.0, 4)  # four reads came before it


def test_a_late_observation_passes_through_every_elapsed_step() -> None:
    lifecycle = Lifecycle((Step(SCHEDULED, 5), Step(RUNNING, 30), Step(FAILED)))
    position = advance(lifecycle, start(100.0), 100.0 + 3600, reads=0)
    assert position == Position(2, 135.0, 0)


def test_poll_based_steps_end_after_their_reads() -> None:
    lifecycle = Lifecycle((Step(SCHEDULED, polls=1), Step(RUNNING, polls=3), Step(SUCCEEDED)))
    seen, _ = walk(lifecycle, [0, 0, 0, 0, 0, 0], until=0)
    assert seen == [SCHEDULED, RUNNING, RUNNING, RUNNING, SUCCEEDED, SUCCEEDED]


def test_poll_based_steps_ignore_time() -> None:
    lifecycle = Lifecycle((Step(RUNNING, polls=2), Step(SUCCEEDED)))
    assert advance(lifecycle, start(0.0), 10**9, reads=0).index == 0


def test_mixed_step_ends_on_whichever_comes_first() -> None:
    lifecycle = Lifecycle((Step(RUNNING, duration=40, polls=3), Step(SUCCEEDED)))
    # Reads first: three quick polls end the step at the moment of the third.
    seen, final = walk(lifecycle, [1, 2, 3, 4], until=4)
    assert seen == [RUNNING, RUNNING, RUNNING, SUCCEEDED]
    assert final.entered_at == 3
    # Time first: one poll, then 40 s pass.
    seen, final = walk(lifecycle, [1, 41], until=41)
    assert seen == [RUNNING, SUCCEEDED]
    assert final.entered_at == 40


def test_time_after_a_poll_ended_step_counts_from_that_read() -> None:
    lifecycle = Lifecycle((Step(RUNNING, polls=1), Step(RUNNING, duration=10), Step(SUCCEEDED)))
    seen, final = walk(lifecycle, [50, 59, 60], until=60)
    assert seen == [RUNNING, RUNNING, SUCCEEDED]
    assert final == Position(2, 60.0, 2)


def test_reads_during_a_timed_step_do_not_count_towards_the_next() -> None:
    lifecycle = Lifecycle((Step(SCHEDULED, duration=10), Step(RUNNING, polls=2), Step(SUCCEEDED)))
    seen, _ = walk(lifecycle, [1, 2, 3, 11, 12, 13], until=13)
    assert seen == [SCHEDULED, SCHEDULED, SCHEDULED, RUNNING, RUNNING, SUCCEEDED]


def test_advance_returns_the_same_position_when_nothing_changed() -> None:
    lifecycle = Lifecycle((Step(RUNNING, 10), Step(SUCCEEDED)))
    position = start(0.0)
    assert advance(lifecycle, position, 5.0, 3) is position


def test_the_last_step_lasts_for_ever() -> None:
    lifecycle = Lifecycle((Step(RUNNING),))
    assert advance(lifecycle, start(0.0), 10**12, reads=10**6).index == 0


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ((), "at least one step"),
        ((Step(RUNNING), Step(SUCCEEDED)), "never ends"),
        ((Step(SUCCEEDED, 5), Step(RUNNING)), "'succeeded' is terminal"),
        ((Step(RUNNING, 5), Step(SUCCEEDED, 5)), "last step lasts for ever"),
        ((Step(RUNNING, polls=0), Step(SUCCEEDED)), "'polls' must be at least 1"),
        ((Step(RUNNING, -1), Step(SUCCEEDED)), "finite duration"),
    ],
)
def test_lifecycle_problems(steps: tuple[Step, ...], message: str) -> None:
    problems = lifecycle_problems(steps)
    assert any(message in text for _, text in problems), problems
    with pytest.raises(ValueError, match=message):
        Lifecycle(steps)


def test_index_of_names_the_phases_there_are() -> None:
    lifecycle = Lifecycle((Step(RUNNING, 5), Step(SUCCEEDED)))
    assert lifecycle.index_of(SUCCEEDED) == 1
    with pytest.raises(ValueError, match="no 'failed' step .*running, succeeded"):
        lifecycle.index_of(FAILED)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("1.5m", 90), ("2h", 7200), ("1h30m", 5400), ("500ms", 0.5), ("1d", 86400),
     (12, 12), (0.25, 0.25), ("45", 45), (" 1m 5s ", 65)],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "1x", "-3s", True, float("inf"), float("nan")])
def test_parse_duration_refuses(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)  # type: ignore[arg-type]


def test_phase_parse_lists_the_phases() -> None:
    assert Phase.parse("running") is RUNNING
    with pytest.raises(ValueError, match="scheduled, running, succeeded, failed"):
        Phase.parse("done")

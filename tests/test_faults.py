"""Fault rules, pure: parsing, matching, selection by probability and count, reset."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.fault_effects import MAX_LATENCY, ErrorStatus, Latency, Reset, Truncate
from emulator.faults import Fault, FaultSet, Match, RequestFacts, TaskFacts
from emulator.faultspec import FaultError, Owner, parse_fault
from emulator.lifecycle import Lifecycle, Phase, Step

POLL = RequestFacts("traffic_ops", "GET", "/api/4.0/async_status/2", {})
RUNNING = TaskFacts("traffic_ops", "acme-autorenew", "2", "running", 1)
LIFECYCLE = Lifecycle((Step(Phase.SCHEDULED, 5.0), Step(Phase.RUNNING, polls=3), Step(Phase.SUCCEEDED)))


def fault(kind: str = "error", **data: Any) -> Fault:
    if kind == "error":
        data.setdefault("status", 503)
    return parse_fault({"kind": kind, **data}, apis=["traffic_ops", "ops_center"])


def test_an_error_rule_takes_the_status_and_a_default_retry_after() -> None:
    assert fault(status=503).effect == ErrorStatus(503, 1)
    assert fault(status=429, retry_after=30).effect == ErrorStatus(429, 30)
    assert fault(status=500).effect == ErrorStatus(500, None)


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"kind": "error"}, (), "an error fault needs 'status'"),
        ({"kind": "error", "status": 500, "retry_after": 3}, ("retry_after",), "a 500 carries no Retry-After"),
        ({"kind": "reset", "seconds": 1}, ("seconds",), "not a parameter of a reset fault (it takes no parameters)"),
        ({"kind": "truncate", "status": 500}, ("status",), "not a parameter of a truncate fault (it takes fraction)"),
        ({"kind": "latency"}, (), "a latency fault needs 'seconds', or a 'distribution'"),
        ({"kind": "latency", "min": 1}, ("min",), "takes a 'distribution'"),
        ({"kind": "latency", "seconds": 1, "distribution": "uniform"}, ("seconds",), "not both"),
        ({"kind": "latency", "distribution": "uniform", "min": 2, "max": 1}, ("min",), "'min' (2) is more than 'max' (1)"),
        ({"kind": "latency", "distribution": "uniform", "max": 1}, (), "needs 'min' and 'max'"),
        ({"kind": "latency", "distribution": "exponential"}, (), "needs 'mean'"),
        ({"kind": "reset", "api": "nope"}, ("api",), "unknown api 'nope'"),
        ({"kind": "reset", "step": "done"}, ("step",), "unknown phase 'done'"),
        ({"kind": "reset", "step": 1}, ("step",), "a step given by its index needs a 'scenario'"),
        ({"kind": "reset", "path": "/dbapi.do?action=getStatus"}, ("path",), "give the query string's parameters in 'query'"),
    ],
)
def test_mistakes_say_where_and_what(data: dict[str, Any], path: tuple[Any, ...], message: str) -> None:
    with pytest.raises(FaultError) as caught:
        parse_fault(data, apis=["traffic_ops"])
    assert caught.value.path == path
    assert message in caught.value.message


def test_a_scenario_fault_is_for_its_api_and_with_a_task_or_step_for_its_tasks() -> None:
    owner = Owner("traffic_ops", "acme-autorenew", LIFECYCLE)
    api_wide = parse_fault({"kind": "reset"}, owner=owner)
    assert api_wide.match == Match(api="traffic_ops") and not api_wide.match.on_task
    on_step = parse_fault({"kind": "reset", "step": "running"}, owner=owner)
    assert on_step.match == Match(api="traffic_ops", scenario="acme-autorenew", step="running")
    assert parse_fault({"kind": "reset", "step": 2}, owner=owner).match.step == 2
    with pytest.raises(FaultError, match=r"has no 'failed' step \(it has: scheduled, running, succeeded\)"):
        parse_fault({"kind": "reset", "step": "failed"}, owner=owner)
    with pytest.raises(FaultError, match="steps 0 to 2, not 3"):
        parse_fault({"kind": "reset", "step": 3}, owner=owner)
    with pytest.raises(FaultError, match="leave out 'api'"):
        parse_fault({"kind": "reset", "api": "traffic_ops"}, owner=owner)


def test_whole_numbers_given_as_2_0_are_held_as_ints_and_query_booleans_as_urls_spell_them() -> None:
    # JSON Schema's "integer" admits 2.0: a Retry-After of "2.0" is no HTTP delta-seconds.
    rule = parse_fault(
        {"kind": "error", "status": 503.0, "retry_after": 2.0, "times": 3.0, "query": {"all": True, "n": 5}},
        apis=["traffic_ops"],
    )
    assert rule.effect == ErrorStatus(503, 2) and isinstance(rule.effect.retry_after, int)  # type: ignore[union-attr]
    assert rule.times == 3 and isinstance(rule.times, int)
    assert rule.match.query == (("all", "true"), ("n", "5"))
    assert rule.match.request_matches(RequestFacts(None, "GET", "/x", {"all": "true", "n": "5"}))
    owner = Owner("traffic_ops", "acme-autorenew", LIFECYCLE)
    assert parse_fault({"kind": "reset", "step": 2.0}, owner=owner).match.step == 2


def test_a_path_glob_may_use_question_marks() -> None:
    assert fault(path="/api/4.?/async_status/*").match.request_matches(POLL)


def test_request_rules_match_api_method_path_glob_and_query() -> None:
    match = Match(api="ops_center", method="GET", path="/dbapi.do", query=(("action", "get*"),))
    assert match.request_matches(RequestFacts("ops_center", "GET", "/dbapi.do", {"action": "getStatus"}))
    assert not match.request_matches(RequestFacts("ops_center", "GET", "/dbapi.do", {"action": "query"}))
    assert not match.request_matches(RequestFacts("ops_center", "POST", "/dbapi.do", {"action": "getStatus"}))
    assert not match.request_matches(RequestFacts("ops_center", "GET", "/dbapi.do", {}))
    assert Match(path="/api/*/async_status/*").request_matches(POLL)


def test_task_rules_match_scenario_task_glob_phase_and_step_index() -> None:
    assert Match(task="2").task_matches(RUNNING)
    assert Match(task="1*").task_matches(RUNNING) is False
    assert Match(step="running").task_matches(RUNNING)
    assert Match(scenario="acme-autorenew", step=1).task_matches(RUNNING)
    assert not Match(scenario="acme-autorenew", step=0).task_matches(RUNNING)
    assert not Match(scenario="other").task_matches(RUNNING)
    off_script = TaskFacts("traffic_ops", "acme-autorenew", "2", "running", None)
    assert not Match(scenario="acme-autorenew", step=1).task_matches(off_script)


def test_times_hits_the_next_n_matching_requests_then_recovers() -> None:
    faults = FaultSet()
    rule = faults.add(fault(status=503, times=2, path="/api/*"))
    hits = [faults.on_request(POLL) for _ in range(4)]
    assert [h is not None for h in hits] == [True, True, False, False]
    assert faults.applied(rule.id) == 2 and faults.remaining(rule) == 0
    assert faults.on_request(RequestFacts("ops_center", "GET", "/dbapi.do", {})) is None


def test_probability_draws_from_a_seeded_source_and_replays() -> None:
    def pattern(seed: int) -> list[bool]:
        faults = FaultSet(seed=seed)
        faults.add(fault(probability=0.5))
        return [faults.on_request(POLL) is not None for _ in range(64)]

    first = pattern(3)
    assert first == pattern(3)
    assert 16 < sum(first) < 48
    assert first != pattern(4)


def test_latency_is_fixed_or_drawn_and_bounded() -> None:
    faults = FaultSet(seed=1)
    faults.add(fault("latency", distribution="uniform", min=0.1, max=0.2))
    delays = [faults.on_request(POLL).delay for _ in range(50)]  # type: ignore[union-attr]
    assert all(0.1 <= d <= 0.2 for d in delays) and len(set(delays)) > 1
    assert Latency(seconds=0.5).draw(None) == 0.5  # type: ignore[arg-type]
    exponential = fault("latency", distribution="exponential", mean=100, max=120).effect
    import random

    draws = [exponential.draw(random.Random(i)) for i in range(200)]  # type: ignore[union-attr]
    assert max(draws) == 120 and min(draws) >= 0
    assert fault("latency", distribution="exponential", mean=1).effect.high is None  # type: ignore[union-attr]
    assert MAX_LATENCY == 600


def test_one_fault_per_request_run_time_rules_first_in_order() -> None:
    declared = parse_fault({"kind": "reset"}, id="traffic_ops.x.1", owner=Owner("traffic_ops", "x", None))
    faults = FaultSet([declared])
    first = faults.add(fault(status=500, times=1))
    faults.add(fault("latency", seconds=1))
    kinds = [faults.on_request(POLL).fault.kind for _ in range(2)]  # type: ignore[union-attr]
    assert kinds == ["error", "latency"] and first.id == "1"
    assert [f.id for f in faults.rules()] == ["1", "2", "traffic_ops.x.1"]


def test_task_rules_are_asked_only_about_status_reads() -> None:
    faults = FaultSet()
    faults.add(fault(status=503, step="running"))
    assert faults.on_request(POLL) is None
    assert faults.has_answer_rules
    assert faults.on_answer(POLL, None, has_body=True) is None  # not a status read
    assert faults.on_answer(POLL, RUNNING, has_body=True) is not None


def test_body_rules_are_decided_on_an_answer_with_a_body_and_only_then_used_up() -> None:
    faults = FaultSet()
    truncate = faults.add(fault("truncate", times=1))
    slow = faults.add(fault("slow_body", step="running", times=1))
    assert faults.on_request(POLL) is None  # decided on the answer, not on arrival
    assert faults.on_answer(POLL, RUNNING, has_body=False) is None
    assert (faults.applied(truncate.id), faults.applied(slow.id)) == (0, 0)
    assert faults.on_answer(POLL, RUNNING, has_body=True).fault == truncate  # type: ignore[union-attr]
    assert faults.on_answer(POLL, RUNNING, has_body=True).fault == slow  # type: ignore[union-attr]
    assert faults.on_answer(POLL, RUNNING, has_body=True) is None


def test_answer_rules_try_request_rules_before_task_rules() -> None:
    faults = FaultSet()
    on_task = faults.add(fault(status=503, task="2"))
    on_request = faults.add(fault("slow_body", path="/api/*"))
    assert faults.on_answer(POLL, RUNNING, has_body=True).fault == on_request  # type: ignore[union-attr]
    assert faults.remove(on_request.id)
    assert faults.on_answer(POLL, RUNNING, has_body=True).fault == on_task  # type: ignore[union-attr]


def test_reset_restores_declared_rules_drops_run_time_ones_and_restarts_counts() -> None:
    declared = parse_fault({"kind": "reset", "times": 1}, id="traffic_ops.x.1", owner=Owner("traffic_ops", "x", None))
    faults = FaultSet([declared], seed=5)
    assert faults
    faults.add(fault(status=500, times=1))
    assert faults.on_request(POLL).fault.id == "1"  # type: ignore[union-attr]
    assert isinstance(faults.on_request(POLL).fault.effect, Reset)  # type: ignore[union-attr]
    assert faults.on_request(POLL) is None
    faults.clear()
    assert not faults and faults.rules() == []
    faults.reset()
    assert [f.id for f in faults.rules()] == ["traffic_ops.x.1"]
    assert faults.applied("traffic_ops.x.1") == 0
    assert not FaultSet()


def test_run_time_ids_never_repeat_so_an_id_kept_over_a_reset_reaches_nothing() -> None:
    faults = FaultSet()
    before = faults.add(fault(status=500))
    faults.reset()
    after = faults.add(fault(status=503))
    assert (before.id, after.id) == ("1", "2")
    assert faults.remove(before.id) is False
    assert [f.id for f in faults.rules()] == ["2"] and faults.applied(before.id) == 0
    faults.clear()
    assert faults.add(fault(status=429)).id == "3"


def test_truncate_always_cuts_something_off_a_non_empty_body() -> None:
    assert Truncate(0.5).cut(10) == 5
    assert Truncate(1.0).cut(10) == 9
    assert Truncate(0.0).cut(10) == 0
    assert Truncate(0.5).cut(0) == 0


def test_a_rule_lists_as_it_was_given() -> None:
    faults = FaultSet()
    rule = faults.add(fault(status=429, retry_after=5, api="traffic_ops", method="get", times=2, probability=0.5))
    assert faults.describe(rule) == {
        "id": "1", "kind": "error", "status": 429, "retry_after": 5, "api": "traffic_ops", "method": "GET",
        "probability": 0.5, "times": 2, "origin": "run-time", "applied": 0, "remaining": 2,
    }

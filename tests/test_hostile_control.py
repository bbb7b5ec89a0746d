"""Hostile input to the control API and to fault injection: JSON nested just under the
parser's limit, values and keys as long as a body, thousands of fault rules. Each is refused
or absorbed with a short, clear answer, and costs the server nothing it keeps.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from emulator.control import admin_token_problem
from emulator.control_input import MESSAGE_LIMIT
from emulator.errors import ConfigError, Conflict
from emulator.faults import MAX_RUN_TIME_FAULTS, FaultSet, Match, RequestFacts
from emulator.faultspec import parse_fault
from emulator.jsonbody import MAX_DEPTH, TooDeep, loads, parse_json

from .conftest import MakeClient
from .helpers import Client, runtime_of

APIS = ["traffic_ops", "ops_center", "dataarts", "spectrum_discover"]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# ---- JSON nested deep -------------------------------------------------------------------------

TASK = '{"api": "ops_center", "scenario": "doc-example", '
DEEP_BODIES = [
    ("/_emulator/tasks", TASK + '"fields": {"x": DEEP}}', "fields.x"),
    ("/_emulator/tasks", TASK + '"scope": {"x": DEEP}}', "scope.x"),
    ("/_emulator/faults", '{"kind": "reset", "query": {"a": DEEP}}', "query.a"),
    ("/_emulator/tasks/traffic_ops/1/transition", '{"phase": "failed", "message": DEEP}', "message"),
]


@pytest.mark.parametrize("depth", [MAX_DEPTH, 900, 980])
@pytest.mark.parametrize(("path", "template", "field"), DEEP_BODIES, ids=[f for _, _, f in DEEP_BODIES])
async def test_a_deep_control_body_is_refused_naming_the_field_and_the_limit(
    client: Client, path: str, template: str, field: str, depth: int
) -> None:
    tasks_before = runtime_of(client).engine.count()
    response = await client.post(path, data=template.replace("DEEP", nested(depth)))
    assert response.status == 400
    error = (await response.json())["error"]
    # Read through: "fields.x[0]…: nested too deeply (more than 32 levels)"; deeper than
    # Python's parser goes: "the body is not valid JSON: it is nested too deeply (more than
    # 32 levels at fields.x[0]…)".
    assert field in error and f"more than {MAX_DEPTH} levels" in error
    assert len(error) < 100  # no echo of the brackets
    assert runtime_of(client).engine.count() == tasks_before
    assert not runtime_of(client).faults.rules()


async def test_a_body_just_within_the_depth_is_taken(client: Client) -> None:
    # The body is level 1, `query` 2, its value 3: MAX_DEPTH - 2 more levels fit.
    body = '{"api": "ops_center", "scenario": "doc-example", "fields": {"x": ' + nested(MAX_DEPTH - 2) + "}}"
    response = await client.post("/_emulator/tasks", data=body)
    assert response.status == 400  # a list is not a field value the schema takes …
    assert "more than" not in (await response.json())["error"]  # … but not for its depth


@pytest.mark.parametrize(
    "body",
    [
        {"api": "ops_center", "scenario": "doc-example", "scope": {"x": "A" * 100_000}},
        {"api": "ops_center", "scenario": "doc-example", "scope": {"K" * 100_000: "x"}},
        {"api": "ops_center", "scenario": "doc-example", "fields": {"query": ["A" * 100_000]}},
        {"api": "ops_center", "scenario": "doc-example", "id": "I" * 100_000},
        {"kind": "reset", "path": "/" + "p" * 100_000},
        {"kind": "reset", "query": {f"k{i}": "v" for i in range(1000)}},
        {"kind": "reset", "nope" * 25_000: 1},
    ],
    ids=["scope value", "scope key", "field value", "task id", "fault path", "fault query", "unknown key"],
)
async def test_no_error_echoes_a_long_value_back(client: Client, body: dict[str, Any]) -> None:
    path = "/_emulator/faults" if "kind" in body else "/_emulator/tasks"
    response = await client.post(path, json=body)
    assert response.status == 400
    assert len((await response.json())["error"]) <= MESSAGE_LIMIT + 30


def test_loads_refuses_depth_past_the_limit_as_both_a_value_and_a_recursion_error() -> None:
    assert loads(nested(MAX_DEPTH)) is not None
    for text in (nested(MAX_DEPTH + 1), nested(100_000)):
        with pytest.raises(TooDeep) as raised:
            loads(text)
        # What the vendor handlers already catch, one or the other.
        assert isinstance(raised.value, ValueError) and isinstance(raised.value, RecursionError)
    # Brackets inside strings are text, not nesting.
    assert loads(b'["' + b"[" * 1000 + b'"]') == ["[" * 1000]
    with pytest.raises(TooDeep, match=r"^a\.b\[0\]: nested too deeply \(more than 3 levels\)$"):
        loads('{"a": {"b": [[[1]]]}}', max_depth=3)
    with pytest.raises(TooDeep, match=r"^a\.b\[0\]…: nested too deeply"):  # its first parts only
        loads('{"a": {"b": [[[1]]]}}', max_depth=4)


def test_parse_json_is_strict_and_bounded() -> None:
    assert parse_json(b'{"a": [1, 2]}') == {"a": [1, 2]}
    for raw, message in [(b"NaN", "NaN is not a JSON value"), (b'{"a": 1, "a": 2}', "the key 'a' is given twice")]:
        with pytest.raises(ValueError, match=message):
            parse_json(raw)
    with pytest.raises(TooDeep):
        parse_json(nested(MAX_DEPTH + 1).encode())


# ---- fault rules: bounded, indexed, short errors ---------------------------------------------


def reset_rule(**match: Any) -> Any:
    return parse_fault({"kind": "reset", **match}, apis=APIS)


def test_run_time_faults_are_bounded() -> None:
    faults = FaultSet()
    for _ in range(MAX_RUN_TIME_FAULTS):
        faults.add(reset_rule(api="ops_center"))
    with pytest.raises(Conflict, match=f"at most {MAX_RUN_TIME_FAULTS:,} faults at run time"):
        faults.add(reset_rule())
    faults.remove(faults.rules()[0].id)
    faults.add(reset_rule())  # room again


async def test_the_control_api_answers_a_full_fault_set_with_409_and_a_short_unknown_id_404(
    client: Client,
) -> None:
    runtime = runtime_of(client)
    faults, shared = runtime.faults, runtime.store.shared_faults
    rule = reset_rule(api="ops_center", path="/nowhere")
    for _ in range(MAX_RUN_TIME_FAULTS):  # filled where the store keeps them, quicker than by HTTP
        if shared is None:
            faults.add(rule)
        else:
            assert await shared.add(rule.to_json(), MAX_RUN_TIME_FAULTS) is not None
    if shared is not None:
        await runtime.store.broadcast("faults")
    response = await client.post("/_emulator/faults", json={"kind": "reset"})
    assert response.status == 409
    assert "remove one" in (await response.json())["error"]
    assert len(faults.rules()) == MAX_RUN_TIME_FAULTS
    response = await client.delete("/_emulator/faults/12345678")
    assert response.status == 404
    error = (await response.json())["error"]
    assert error == "no fault with id '12345678' (there are: 1,000, listed by GET /_emulator/faults)"
    response = await client.delete("/_emulator/faults/" + "9" * 5000)
    assert response.status == 404 and len((await response.json())["error"]) < 200


def test_a_request_is_tried_only_against_rules_that_could_match_it(monkeypatch: pytest.MonkeyPatch) -> None:
    faults = FaultSet()
    for index in range(MAX_RUN_TIME_FAULTS):
        api, method = ("ops_center", "POST") if index % 2 else ("dataarts", None)
        faults.add(reset_rule(api=api, method=method, path=f"/only/{index}"))
    tried: list[Match] = []
    original = Match.request_matches

    def counting(self: Match, request: RequestFacts) -> bool:
        tried.append(self)
        return original(self, request)

    monkeypatch.setattr(Match, "request_matches", counting)
    assert faults.on_request(RequestFacts("traffic_ops", "GET", "/api/4.0/async_status/1", {})) is None
    assert faults.on_request(RequestFacts(None, "GET", "/nowhere", {})) is None
    assert faults.on_request(RequestFacts("ops_center", "GET", "/dbapi.do", {})) is None
    assert tried == []
    assert faults.on_request(RequestFacts("ops_center", "POST", "/dbapi.do", {})) is None
    assert len(tried) == MAX_RUN_TIME_FAULTS // 2


def test_a_used_up_rule_is_no_longer_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    faults = FaultSet()
    for _ in range(100):
        faults.add(parse_fault({"kind": "reset", "times": 1}, apis=APIS))
    poll = RequestFacts("traffic_ops", "GET", "/api/4.0/async_status/1", {})
    for _ in range(100):
        assert faults.on_request(poll) is not None
    tried: list[Match] = []
    monkeypatch.setattr(Match, "request_matches", lambda self, request: tried.append(self) or True)
    assert faults.on_request(poll) is None
    assert tried == [] and not faults
    assert len(faults.rules()) == 100  # still listed, with their counts
    faults.reset()


def test_the_index_keeps_the_order_rules_are_tried_in() -> None:
    """Rules naming an API or a method, or neither, in every mix: the one that applies is
    the first that matches in the order added, as a plain scan would find."""
    draw = random.Random(16)
    apis: list[str | None] = ["ops_center", "dataarts", None]
    methods: list[str | None] = ["GET", "POST", None]
    for _ in range(30):
        faults = FaultSet()
        rules = [
            faults.add(reset_rule(**{k: v for k, v in (("api", draw.choice(apis)), ("method", draw.choice(methods))) if v}))
            for _ in range(draw.randint(1, 12))
        ]
        for api, method in itertools.product([*apis, "traffic_ops"], ["GET", "POST", "PUT"]):
            request = RequestFacts(api, method, "/x", {})
            expected = next((r.id for r in rules if r.match.request_matches(request)), None)
            decision = faults.on_request(request)
            assert (decision.fault.id if decision else None) == expected


# ---- the admin token -------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", " s3cret", "s3cret\n", "s3\x00cret"])
def test_an_admin_token_no_client_could_send_is_refused(token: str) -> None:
    assert admin_token_problem(token) is not None


async def test_a_server_is_not_built_with_an_empty_admin_token(make_client: MakeClient) -> None:
    with pytest.raises(ConfigError, match="the admin token is empty"):
        await make_client(admin_token="")
    assert admin_token_problem(None) is None and admin_token_problem("s3 cret") is None

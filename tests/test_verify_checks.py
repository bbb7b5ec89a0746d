"""The pure parts of contract checking: the sequence rules, violations at JSON paths,
credentials from a file and the environment, secrets kept out of text, and how a recorded
task's observations become lifecycle steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.contract.checks import check_body, check_content_type, check_sequence, json_path
from emulator.contract.credentials import Secrets, load_credentials
from emulator.contract.model import Observation
from emulator.contract.scenario_writer import glob_literal, placeholder_literal, steps
from emulator.contract.vendors import contract_for
from emulator.errors import ConfigError
from emulator.state import load_schemas


def seen(phase: str, shown: str = "", **counters: float) -> Observation:
    return Observation("t", phase, shown or phase, counters=counters)


def test_a_task_moves_forward_only() -> None:
    assert (
        check_sequence(
            [
                seen("scheduled"),
                seen("running"),
                seen("running"),
                seen("succeeded"),
                seen("succeeded"),
            ]
        )
        == []
    )
    (back,) = check_sequence([seen("running"), seen("scheduled")])
    assert (back.where, back.actual) == ("answer 2 phase", "scheduled after running")


@pytest.mark.parametrize("after", ["running", "failed", "scheduled"])
def test_nothing_follows_an_end_but_the_same_end(after: str) -> None:
    (found,) = check_sequence([seen("running"), seen("succeeded"), seen(after)])
    assert found.expected == "succeeded (a task never leaves an end)"


def test_counters_never_fall_and_fixed_values_never_change() -> None:
    found = check_sequence(
        [
            Observation("t", "running", "a", counters={"processed": 5}, fixed={"total": 20}),
            Observation("t", "running", "b", counters={"processed": 7}, fixed={"total": 20}),
            Observation("t", "running", "c", counters={"processed": 6}, fixed={"total": 21}),
        ]
    )
    assert [str(v) for v in found] == [
        "sequence answer 3 processed: expected at least 7 (answer 2), got 6",
        "sequence answer 3 total: expected 20 (as in answer 1), got 21",
    ]


def test_json_paths_name_keys_a_reader_can_paste() -> None:
    assert json_path(["result", 0, "cpu Usage", 2]) == '$.result[0]["cpu Usage"][2]'
    assert json_path([]) == "$"


def test_every_violation_of_a_body_is_listed_at_its_path() -> None:
    body = {
        "status": {
            "total": 1,
            "matched": "1",
            "processed": 1,
            "completed": False,
            "aborted": False,
            "hasErrors": False,
        },
        "result": [{"signature": "s", "name": "n", "cpu": {"type": "scalar"}}],
    }
    found = [
        (v.where, v.expected, v.actual)
        for v in check_body(load_schemas(), "ops_center/status.schema.json", body)
    ]
    assert ("$.status.matched", "type integer", 'string "1"') in found
    assert ("$.status.hasErrors", "type string", "boolean false") in found
    assert ("$.status.hasErrors", 'one of "true", "false"', "false") in found
    # A metric fitting neither a scalar nor a series: the closest branch's reason, where it is.
    assert ("$.result[0].cpu.data", "present (required)", "missing") in found


def test_content_types_compare_media_types_only() -> None:
    assert check_content_type("application/json;charset=UTF-8", "application/json") == []
    assert check_content_type(None, "application/json")[0].actual == "absent"


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("username: fred\npassword: from-the-file\ndataset: lab-2\n")
    found = load_credentials(path, {"TASK_EMULATOR_VERIFY_PASSWORD": "from-the-env", "OTHER": "x"})
    assert found == {"username": "fred", "password": "from-the-env", "dataset": "lab-2"}
    path.write_text('{"ak": ["not", "text"]}')
    with pytest.raises(ConfigError, match="must be text"):
        load_credentials(path, {})


def test_secrets_are_blanked_wherever_they_hide() -> None:
    secrets = Secrets(["twelve12"])
    secrets.learn_headers(
        [
            ("Authorization", "Basic ZnJlZDpzM2NyZXQtcGFzcw=="),
            ("Accept", "application/json"),
            ("Set-Cookie", "mojolicious=cookie-value-1; Path=/; HttpOnly"),
        ]
    )
    secrets.learn_body(b'{"u": "admin", "p": "form-password"}')
    text = secrets.mask("twelve12 s3cret-pass cookie-value-1 form-password admin application/json")
    assert text == "[redacted] [redacted] [redacted] [redacted] admin application/json"


def test_steps_end_by_reads_at_the_recorded_pace_and_by_time_halfway_to_the_next() -> None:
    contract = contract_for("traffic_ops")

    def at(time: float, phase: str, message: str, read: bool = True) -> tuple[float, Observation]:
        return time, Observation("7", phase, phase, fields={"message": message}, read=read)

    written = steps(
        contract,
        [
            at(0.5, "running", "a"),
            at(1.5, "running", "a"),
            at(2.5, "running", "b"),
            at(3.5, "succeeded", "c"),
        ],
        created=0.0,
    )
    assert written == [
        {"phase": "running", "for": "2s", "polls": 2, "message": "a"},  # 0 .. (1.5 + 2.5) / 2
        {
            "phase": "running",
            "for": "1.5s",
            "polls": 1,
            "message": "b",
        },  # from the read that ended a
        {"phase": "succeeded", "message": "c"},
    ]
    # Preloaded (no trigger to count time from): reads alone end the steps.
    assert steps(
        contract, [at(9, "running", "a"), at(10, "succeeded", "c")], created=0.0, timed=False
    ) == [
        {"phase": "running", "polls": 1, "message": "a"},
        {"phase": "succeeded", "message": "c"},
    ]


def test_a_step_seen_only_in_the_trigger_answer_ends_by_time() -> None:
    contract = contract_for("ops_center")
    first = Observation("q", "scheduled", "s", fields={"processed": 0, "matched": 0}, read=False)
    then = Observation("q", "succeeded", "done", fields={})
    assert steps(contract, [(0.0, first), (0.4, then)], created=0.0) == [
        {"phase": "scheduled", "for": "200ms", "processed": 0, "matched": 0},
        {"phase": "succeeded"},
    ]


def test_literal_values_stay_literal() -> None:
    assert (
        glob_literal("select * from t where a like 'x?[y]'")
        == "select [*] from t where a like 'x[?][[]y]'"
    )
    assert placeholder_literal("costs ${price} and $5") == "costs $${price} and $$5"

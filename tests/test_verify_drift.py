"""`task-emulator verify` against providers that drift from the contract, written here as
small aiohttp apps: each drift (a field of the wrong type, a missing field, a phase going
back, a counter falling, a 500 mid-way, a wrong content type, a wrong digest header) fails
the run with exit status 1 and is named: the check, where, expected and actual."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from emulator.cli import main
from emulator.server import EmulatorServer

FAST = ["--interval", "0", "--max-polls", "10", "--timeout", "8"]
Answer = tuple[int, Any, dict[str, str]]


def go_json(data: Any) -> bytes:
    return (json.dumps(data, separators=(",", ":")) + "\n").encode()


def to_answer(
    status: int, data: Any, headers: dict[str, str] | None = None, *, body: bytes | None = None
) -> web.Response:
    """An answer as Traffic Ops writes one: JSON, its SHA-512 in Whole-Content-Sha512."""
    raw = go_json(data) if body is None else body
    digest = base64.b64encode(hashlib.sha512(raw).digest()).decode()
    all_headers = {
        "Content-Type": "application/json",
        "Whole-Content-Sha512": digest,
        **(headers or {}),
    }
    return web.Response(status=status, body=raw, headers=all_headers)


def pending(**changes: Any) -> dict[str, Any]:
    body = {
        "id": 7,
        "status": "PENDING",
        "start_time": "2026-01-02T03:04:05Z",
        "message": "ACME async job has started.",
    }
    return {"response": {**body, **changes}}


def done(**changes: Any) -> dict[str, Any]:
    body = {
        "id": 7,
        "status": "SUCCEEDED",
        "start_time": "2026-01-02T03:04:05Z",
        "end_time": "2026-01-02T03:05:05Z",
    }
    return {"response": {**body, **changes}}


def traffic_ops(polls: list[Callable[[], web.Response]]) -> web.Application:
    """A Traffic Ops that logs in, starts job 7 and answers its polls from `polls`, in order
    (the last one again once they run out)."""
    answers = iter(polls)
    last: list[Callable[[], web.Response]] = []

    async def login(request: web.Request) -> web.Response:
        alert = {"alerts": [{"text": "Successfully logged in.", "level": "success"}]}
        return to_answer(
            200, alert, {"Set-Cookie": "mojolicious=drift-cookie-0042; Path=/; HttpOnly"}
        )

    async def renew(request: web.Request) -> web.Response:
        alert = {"alerts": [{"text": "Beginning async call", "level": "success"}]}
        return to_answer(202, alert, {"Location": "/api/4.0/async_status/7"})

    async def status(request: web.Request) -> web.Response:
        assert request.headers.get("Cookie") == "mojolicious=drift-cookie-0042"
        answer = next(answers, None)
        if answer is not None:
            last[:] = [answer]
        return last[0]()

    app = web.Application()
    app.router.add_post("/api/4.0/user/login", login)
    app.router.add_post("/api/4.0/acme_autorenew", renew)
    app.router.add_get("/api/4.0/async_status/{id}", status)
    return app


def run(
    app: web.Application, api: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> tuple[int, str, dict[str, Any]]:
    credentials = tmp_path / "creds.yaml"
    credentials.write_text("username: admin\npassword: twelve12\ndataset: defaultDs\n")
    report = tmp_path / "report.json"
    with EmulatorServer(app=app) as server:
        code = main(
            [
                "verify",
                "--api",
                api,
                "--base-url",
                server.url,
                "--credentials",
                str(credentials),
                "--json",
                str(report),
                *FAST,
            ]
        )
    return code, capsys.readouterr().out, json.loads(report.read_text())


def violations(report: dict[str, Any]) -> list[dict[str, str]]:
    return [v for check in report["checks"] for v in check["violations"]]


@pytest.fixture
def verify(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> Iterator[Callable[..., tuple[int, str, dict[str, Any]]]]:
    yield lambda app, api="traffic_ops": run(app, api, capsys, tmp_path)


def test_the_well_behaved_provider_passes(verify: Any) -> None:
    code, out, report = verify(
        traffic_ops([lambda: to_answer(200, pending()), lambda: to_answer(200, done())])
    )
    assert code == 0, out
    assert report["phases"] == {"7": ["PENDING", "SUCCEEDED"]}


def test_a_field_of_the_wrong_type(verify: Any) -> None:
    code, out, report = verify(traffic_ops([lambda: to_answer(200, done(id="7"))]))
    assert code == 1
    assert {
        "check": "body",
        "where": "$.response.id",
        "expected": "type integer",
        "actual": 'string "7"',
    } in violations(report)
    assert 'body $.response.id: expected type integer, got string "7"' in out


def test_a_missing_field(verify: Any) -> None:
    body = done()
    del body["response"]["start_time"]
    code, _, report = verify(traffic_ops([lambda: to_answer(200, body)]))
    assert code == 1
    assert {
        "check": "body",
        "where": "$.response.start_time",
        "expected": "present (required)",
        "actual": "missing",
    } in violations(report)


def test_an_end_time_while_pending(verify: Any) -> None:
    code, _, report = verify(
        traffic_ops(
            [
                lambda: to_answer(200, pending(end_time="2026-01-02T03:05:05Z")),
                lambda: to_answer(200, done()),
            ]
        )
    )
    assert code == 1
    assert {
        "check": "body",
        "where": "$.response.end_time",
        "expected": "absent here",
        "actual": "present",
    } in violations(report)


def test_a_500_mid_way(verify: Any) -> None:
    error = {"alerts": [{"text": "Internal Server Error", "level": "error"}]}
    code, out, report = verify(
        traffic_ops(
            [
                lambda: to_answer(200, pending()),
                lambda: to_answer(500, error),
                lambda: to_answer(200, done()),
            ]
        )
    )
    assert code == 1
    assert "FAIL  poll 2: GET /api/4.0/async_status/7 -> 500" in out
    assert violations(report) == [
        {"check": "status", "where": "status", "expected": "200", "actual": "500"}
    ]
    assert report["phases"] == {"7": ["PENDING", "SUCCEEDED"]}  # polling went on to the end


def test_a_wrong_content_type(verify: Any) -> None:
    def plain() -> web.Response:
        answer = to_answer(200, done())
        answer.headers["Content-Type"] = "text/plain; charset=utf-8"
        return answer

    code, _, report = verify(traffic_ops([plain]))
    assert code == 1
    assert {
        "check": "header",
        "where": "header Content-Type",
        "expected": "application/json",
        "actual": '"text/plain; charset=utf-8"',
    } in violations(report)


def test_a_digest_that_is_not_the_body_s(verify: Any) -> None:
    def stale() -> web.Response:
        answer = to_answer(200, done())
        answer.headers["Whole-Content-Sha512"] = base64.b64encode(
            hashlib.sha512(b"{}").digest()
        ).decode()
        return answer

    code, _, report = verify(traffic_ops([stale]))
    assert code == 1
    assert [v["where"] for v in violations(report)] == ["header Whole-Content-Sha512"]


def test_another_task_s_status_answered(verify: Any) -> None:
    code, _, report = verify(traffic_ops([lambda: to_answer(200, done(id=8))]))
    assert code == 1
    assert {
        "check": "body",
        "where": "$.response.id",
        "expected": "7 (the id polled)",
        "actual": "8",
    } in violations(report)


def test_a_body_that_is_not_json(verify: Any) -> None:
    code, _, report = verify(traffic_ops([lambda: to_answer(200, None, body=b"<html>oops</html>")]))
    assert code == 1
    assert violations(report)[0] == {
        "check": "body",
        "where": "$",
        "expected": "a JSON document",
        "actual": '"<html>oops</html>"',
    }


def ops_center(statuses: list[tuple[int, int, bool]]) -> web.Application:
    """An Ops Center whose query answers 206 and whose getStatus answers walk `statuses`:
    (processed, matched, completed) each, of 20 resources."""
    answers = iter(statuses)

    def body(processed: int, matched: int, completed: bool) -> dict[str, Any]:
        status = {
            "total": 20,
            "matched": matched,
            "processed": processed,
            "completed": completed,
            "aborted": False,
            "hasErrors": "false",
        }
        return {
            "status": status,
            "result": [{"signature": f"vm#{n}", "name": f"vm{n}"} for n in range(matched)],
        }

    async def dbapi(request: web.Request) -> web.Response:
        assert (
            request.headers["Authorization"]
            == "Basic " + base64.b64encode(b"admin:twelve12").decode()
        )
        if request.query["action"] == "query":
            return web.json_response({"requestId": "316829382_14", **body(0, 0, False)}, status=206)
        processed, matched, completed = next(answers)
        return web.json_response(
            body(processed, matched, completed), status=200 if completed else 206
        )

    app = web.Application()
    app.router.add_route("*", "/dbapi.do", dbapi)
    return app


def test_a_phase_going_back_and_a_counter_falling(verify: Any) -> None:
    code, out, report = verify(
        ops_center([(10, 4, False), (0, 0, False), (20, 8, True)]), "ops_center"
    )
    assert code == 1
    found = violations(report)
    assert {
        "check": "sequence",
        "where": "answer 3 phase",
        "expected": "206 processed 10/20 or a later phase",
        "actual": "206 processed 0/20 after 206 processed 10/20",
    } in found
    assert {
        "check": "sequence",
        "where": "answer 3 processed",
        "expected": "at least 10 (answer 2)",
        "actual": "0",
    } in found
    assert {
        "check": "sequence",
        "where": "answer 3 matched",
        "expected": "at least 4 (answer 2)",
        "actual": "0",
    } in found
    assert (
        "FAIL  phases of task 316829382_14: 206 processed 0/20 -> 206 processed 10/20 -> "
        "206 processed 0/20 -> completed" in out
    )


def test_counters_out_of_order_within_one_answer(verify: Any) -> None:
    code, _, report = verify(ops_center([(5, 9, False), (20, 9, True)]), "ops_center")
    assert code == 1
    assert {
        "check": "body",
        "where": "$.status",
        "expected": "matched <= processed <= total",
        "actual": "matched 9, processed 5, total 20",
    } in violations(report)
